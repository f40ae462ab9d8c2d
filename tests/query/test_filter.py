"""The filter language: every operator, precedence, key lookup, error positions, round trips."""

from __future__ import annotations

import math
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runlab
from runlab import FilterSyntaxError, RunStatus
from runlab.query._filter import And, Compare, Key, Not, Or, parse, parse_key
from runlab.storage._layout import RunRecord, run_dir, write_json_atomic

RUN = SimpleNamespace(
    id="abc12345",
    name="brave-otter",
    project="grasping",
    status=RunStatus.FINISHED,
    tags=("baseline", "v2"),
    group="sweep-1",
    job_type=None,
    created_at=1_700_000_000.0,
    runtime=12.5,
    config={
        "lr": 3e-4,
        "epochs": 10,
        "optimizer": {"name": "adam", "betas": [0.9, 0.999]},
        "amp": True,
        "seed": None,
        "loss": "mse",
        "dotted.key": 7,
    },
    summary={"loss": 0.25, "acc": 0.9, "val/acc": 0.8, "nan": math.nan, "name": "summary-name"},
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # comparisons on numbers
        ("lr == 3e-4", True),
        ("lr == 0.0003", True),
        ("epochs == 10", True),
        ("epochs == 10.0", True),
        ("epochs != 10", False),
        ("epochs != 11", True),
        ("lr < 1e-3", True),
        ("lr <= 3e-4", True),
        ("lr > 3e-4", False),
        ("lr >= 3e-4", True),
        ("epochs > -1", True),
        ("epochs < -1", False),
        # strings, both quote styles
        ('optimizer.name == "adam"', True),
        ("optimizer.name == 'adam'", True),
        ('optimizer.name != "sgd"', True),
        ('optimizer.name < "b"', True),
        ('optimizer.name >= "b"', False),
        # booleans, null and lists
        ("amp == true", True),
        ("amp == false", False),
        ("amp == 1", False),
        ("seed == null", True),
        ("seed != null", False),
        ("optimizer.betas == [0.9, 0.999]", True),
        ("optimizer.betas == [0.9]", False),
        # in / not in
        ("epochs in [5, 10, 20]", True),
        ("epochs in [5, 20]", False),
        ("epochs in []", False),
        ('optimizer.name not in ["sgd", "rmsprop"]', True),
        ('optimizer.name not in ["adam"]', False),
        # has
        ('tags has "baseline"', True),
        ('tags has "nope"', False),
        ("optimizer.betas has 0.9", True),
        ('optimizer.name has "a"', False),
        # built-in fields
        ('status == "finished"', True),
        ('status in ["finished", "crashed"]', True),
        ('id == "abc12345"', True),
        ('project == "grasping"', True),
        ('group == "sweep-1"', True),
        ("job_type == null", True),
        ("created_at > 1600000000", True),
        ("runtime >= 12.5", True),
        # prefixes: bare keys look in config, then summary, then the run's fields
        ('loss == "mse"', True),
        ("summary.loss == 0.25", True),
        ('config.loss == "mse"', True),
        ("acc > 0.5", True),
        ('name == "summary-name"', True),
        ('run.name == "brave-otter"', True),
        ("summary.val/acc == 0.8", True),
        ("val/acc == 0.8", True),
        ("dotted.key == 7", True),
        ("config.dotted.key == 7", True),
        ("summary.lr == 3e-4", False),
        ("config.acc == 0.9", False),
        # missing keys: every comparison is false, its negation true
        ("missing == 1", False),
        ("missing != 1", False),
        ("missing < 1", False),
        ("missing in [1]", False),
        ("missing not in [1]", False),
        ('missing has "x"', False),
        ("missing == null", False),
        ("not missing == 1", True),
        ("optimizer.nope == 1", False),
        ("lr.deeper == 1", False),
        # incompatible types are false, never errors
        ('lr < "a"', False),
        ('lr != "a"', False),
        ("optimizer.name > 3", False),
        ("optimizer == 1", False),
        ("optimizer != 1", False),
        ("optimizer.betas < 1", False),
        ("nan == 1", False),
        ("nan < 1", False),
        ("nan != 1", True),
        # boolean logic and precedence: not > and > or
        ("epochs == 10 and lr < 1", True),
        ("epochs == 10 and lr > 1", False),
        ("epochs == 1 or lr < 1", True),
        ("epochs == 1 or lr > 1", False),
        ("not epochs == 1", True),
        ("not not epochs == 10", True),
        ("epochs == 1 and lr > 1 or acc > 0.5", True),
        ("epochs == 1 and (lr > 1 or acc > 0.5)", False),
        ("acc > 0.5 or epochs == 1 and lr > 1", True),
        ("(acc > 0.5 or epochs == 1) and lr > 1", False),
        ("not (epochs == 10 and lr > 1)", True),
        ("not epochs == 10 and lr > 1", False),
        ("((epochs == 10))", True),
    ],
)
def test_a_filter_matches_as_documented(text: str, expected: bool) -> None:
    assert parse(text).matches(RUN) is expected


def test_a_filter_is_a_predicate_and_lists_its_keys() -> None:
    f = parse('lr >= 1e-4 and (summary.loss < 1 or run.status == "crashed") and lr < 1')
    assert f.keys == ("lr", "summary.loss", "run.status")
    assert f(RUN) is True
    assert list(filter(f, [RUN, SimpleNamespace(config={}, summary={})])) == [RUN]


def test_the_syntax_tree_and_its_canonical_text() -> None:
    f = parse("not a == 1 and (b in [1, 'x'] or config.c.d has true) or e != null")
    assert f.expr == Or(
        (
            And(
                (
                    Not(Compare(Key("any", ("a",)), "==", 1)),
                    Or(
                        (
                            Compare(Key("any", ("b",)), "in", (1, "x")),
                            Compare(Key("config", ("c", "d")), "has", True),
                        )
                    ),
                )
            ),
            Compare(Key("any", ("e",)), "!=", None),
        )
    )
    assert str(f) == ('not a == 1 and (b in [1, "x"] or config.c.d has true) or e != null')
    assert str(parse("not (a == 1 or b == 2)")) == "not (a == 1 or b == 2)"
    assert str(parse("x == 'say \"hi\"\\n'")) == 'x == "say \\"hi\\"\\n"'


def test_parse_key_reads_prefixes() -> None:
    assert parse_key("lr") == Key("any", ("lr",))
    assert parse_key("config.optimizer.name") == Key("config", ("optimizer", "name"))
    assert parse_key("summary.val/acc") == Key("summary", ("val/acc",))
    assert parse_key("run.status") == Key("run", ("status",))
    assert parse_key("config") == Key("any", ("config",))
    with pytest.raises(FilterSyntaxError, match="unknown run field 'loss'"):
        parse_key("run.loss")
    with pytest.raises(FilterSyntaxError, match="unexpected ' '"):
        parse_key("a b")


def test_the_error_is_a_runlab_error_and_a_value_error() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse("lr >=")
    assert isinstance(info.value, runlab.RunlabError)
    assert isinstance(info.value, ValueError)
    assert info.value.column == 6
    assert info.value.text == "lr >="


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("", 1, "empty filter: expected a condition such as lr >= 1e-4"),
        ("   ", 4, "empty filter"),
        ("lr >= ", 7, "expected a number, a string, true, false or null after '>=', got the end"),
        ("lr = 1", 4, "unexpected '=': write '==' to compare"),
        ("!lr", 1, "unexpected '!': write '!=' or 'not'"),
        ("a == 1 && b == 2", 8, "unexpected '&': write 'and'"),
        ("a == 1 || b == 2", 8, "unexpected '|': write 'or'"),
        ("a == 1 ; b", 8, "unexpected character ';'"),
        ("(a == 1", 8, "expected ')' to close the '(' at column 1, got the end of the filter"),
        ("a == 1)", 7, "unexpected ')' after a complete condition; join conditions with 'and'"),
        ("a == 1 b == 2", 8, "unexpected 'b' after a complete condition"),
        ("a in 3", 6, "'in' needs a list such as [1, 2], got '3'"),
        ("a not in 3", 10, "'not in' needs a list such as [1, 2], got '3'"),
        ("a not 3", 7, "expected 'in' after 'not', got '3'"),
        ('name == "x', 9, 'unterminated string: no closing "'),
        ("name == 'x", 9, "unterminated string: no closing '"),
        ("a. == 1", 3, "expected a key name after 'a.'"),
        ("run.loss < 1", 1, "unknown run field 'loss'; use one of id, name, project, status"),
        ("1.2.3 == a", 1, "malformed number '1.2.'"),
        ("a == 1e999", 6, "number '1e999' is out of range"),
        ("a < [1]", 3, "'<' needs a number or a string, not a list"),
        ("a has [1]", 7, "'has' needs a number, a string, true, false or null, not a list"),
        ("a == adam", 6, "got 'adam' (quote strings: \"adam\")"),
        ("a == and", 6, "expected a number, a string, true, false or null after '==', got 'and'"),
        ("a in [1 2]", 9, "expected ',' or ']' in the list opened at column 6, got '2'"),
        ("a in [1,", 9, "after ',', got the end of the filter"),
        ("a in [,]", 7, "after '[' or ',', got ','"),
        ("a b", 3, "expected an operator (==, !=, <, <=, >, >=, in, not in or has) after 'a'"),
        ("a", 2, "expected an operator"),
        ("== 1", 1, "expected a key such as lr or config.lr, got '=='"),
        ("and == 1", 1, "expected a key such as lr or config.lr, got 'and'"),
        ("a == 1 and", 11, "expected a key such as lr or config.lr, got the end of the filter"),
        ("not", 4, "expected a key such as lr or config.lr, got the end of the filter"),
    ],
)
def test_a_syntax_error_names_its_position(text: str, column: int, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse(text)
    error = info.value
    assert message in error.reason
    assert error.column == column
    lines = str(error).split("\n")
    assert lines[0] == f"{error.reason} (column {column})"
    assert lines[1] == f"  {text}"
    assert lines[2] == "  " + " " * (column - 1) + "^"


def test_the_caret_line_stays_aligned_under_newlines_and_tabs() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse("a == 1\nand\tb = 2")
    assert info.value.column == 14
    assert str(info.value).split("\n")[1:] == ["  a == 1 and b = 2", "  " + " " * 13 + "^"]


# -- property tests --------------------------------------------------------------------------

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_/\-]{0,6}", fullmatch=True).filter(
    lambda s: s not in {"and", "or", "not", "in", "has", "true", "false", "null"}
)
KEYS = st.builds(
    lambda prefix, parts: prefix + ".".join(parts),
    st.sampled_from(["", "", "config.", "summary."]),
    st.lists(NAMES, min_size=1, max_size=3),
) | st.sampled_from(["run.status", "run.tags", "run.runtime", "status", "tags"])


def _quoted(text: str, quote: str) -> str:
    escaped = text.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return f"{quote}{escaped}{quote}"


NUMBERS = st.integers(-(10**12), 10**12).map(str) | st.floats(
    allow_nan=False, allow_infinity=False
).map(repr)
STRINGS = st.builds(_quoted, st.text(max_size=8), st.sampled_from(["'", '"']))
SCALARS = NUMBERS | STRINGS | st.sampled_from(["true", "false", "null"])
LISTS = st.lists(SCALARS, max_size=4).map(lambda items: "[" + ", ".join(items) + "]")
SPACE = st.sampled_from([" ", "  ", "\t", "\n "])


@st.composite
def comparisons(draw: st.DrawFn) -> str:
    key = draw(KEYS)
    space = draw(SPACE)
    kind = draw(st.sampled_from(["compare", "in", "has"]))
    if kind == "in":
        op = draw(st.sampled_from(["in", "not in"]))
        return f"{key}{space}{op}{space}{draw(LISTS)}"
    if kind == "has":
        return f"{key}{space}has{space}{draw(SCALARS)}"
    op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    value = draw(SCALARS | LISTS) if op in ("==", "!=") else draw(SCALARS)
    return f"{key}{draw(st.sampled_from(['', ' ']))}{op}{space}{value}"


EXPRESSIONS = st.recursive(
    comparisons(),
    lambda inner: (
        st.builds(lambda e: f"not {e}", inner)
        | st.builds(lambda e: f"({e})", inner)
        | st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(["and", "or"]), inner)
    ),
    max_leaves=8,
)

VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=6,
)
RUNS = st.builds(
    SimpleNamespace,
    config=st.dictionaries(NAMES, VALUES, max_size=4),
    summary=st.dictionaries(NAMES, VALUES, max_size=4),
    status=st.sampled_from(list(RunStatus)),
    tags=st.lists(st.text(max_size=4), max_size=3).map(tuple),
    runtime=st.none() | st.floats(),
)


@settings(max_examples=300, deadline=None)
@given(EXPRESSIONS)
def test_valid_expressions_parse_and_round_trip(text: str) -> None:
    f = parse(text)
    again = parse(str(f))
    assert again.expr == f.expr
    assert str(again) == str(f)
    assert again.keys == f.keys


@settings(max_examples=200, deadline=None)
@given(EXPRESSIONS, RUNS)
def test_evaluation_never_raises_and_not_negates(text: str, run: SimpleNamespace) -> None:
    f = parse(text)
    result = f.matches(run)
    assert isinstance(result, bool)
    assert parse(f"not ({text})").matches(run) is (not result)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_any_text_parses_or_raises_a_positioned_syntax_error(text: str) -> None:
    try:
        parse(text)
    except FilterSyntaxError as exc:
        assert 1 <= exc.column <= len(text) + 1


# -- against recorded runs -------------------------------------------------------------------

QUICK = {"quiet": True, "capture_output": False, "capture_packages": False, "capture_git": False}


def test_filters_read_recorded_runs_and_see_crashed_ones(tmp_path: Path) -> None:
    for lr, tags in ((1e-3, ["baseline"]), (1e-5, [])):
        run = runlab.init(
            dir=tmp_path,
            project="p",
            config={"lr": lr, "optimizer": {"name": "adam"}},
            tags=tags,
            settings=QUICK,
        )
        run.log({"loss": lr * 100})
        run.finish()
    # A run left "running" whose heartbeat lapsed an hour ago: readers derive ``crashed``.
    crashed = RunRecord(
        id="c7ashed1",
        project="p",
        name="lost-lynx-1",
        status="running",
        created_at=time.time() - 7200,
        heartbeat_at=time.time() - 3600,
        heartbeat_interval=10.0,
        config={"lr": 0.5},
    )
    run_dir(tmp_path, crashed.id).mkdir(parents=True)
    write_json_atomic(run_dir(tmp_path, crashed.id) / "run.json", crashed.to_json())
    crashed_id = crashed.id
    runs = runlab.Api(tmp_path).runs()
    assert len(runs) == 3

    def ids(text: str) -> set[str]:
        f = parse(text)
        return {view.id for view in runs if f.matches(view)}

    assert len(ids('tags has "baseline" and optimizer.name == "adam"')) == 1
    assert ids('status == "crashed"') == {crashed_id}
    assert ids("lr >= 1e-4 and summary.loss < 1") == ids('tags has "baseline"')


def test_the_filter_module_does_not_import_polars() -> None:
    import subprocess
    import sys

    code = "import sys, runlab.query._filter as f; "
    code += "f.parse('a == 1'); print('polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
