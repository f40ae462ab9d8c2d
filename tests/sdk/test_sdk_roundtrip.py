"""What ``run.log`` records reads back equal: any keys, any scalars, any valid steps."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sdk_helpers import FAST

import runlab
from runlab.sdk import _hooks
from runlab.storage._reader import read_history, read_series

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def _no_open_runs() -> Iterator[None]:
    yield
    for run in _hooks.open_runs():
        run.finish()


# -- strategies --------------------------------------------------------------------------------

# Anything the key rule allows in one '/'-separated part (C1 controls and any plane included).
segments = st.text(
    st.characters(
        exclude_categories=("Cs",), exclude_characters="/" + "".join(map(chr, range(32))) + "\x7f"
    ),
    min_size=1,
    max_size=12,
)
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
    st.sampled_from([-0.0, 0.0, 5e-324, -5e-324, math.nan, math.inf, -math.inf]),
)
int64s = st.one_of(
    st.integers(INT64_MIN, INT64_MAX),
    st.sampled_from([INT64_MIN, INT64_MAX, INT64_MIN + 1, INT64_MAX - 1, 0, -1]),
)
KINDS = {"float": floats, "int": int64s, "bool": st.booleans()}


@st.composite
def key_pool(draw: st.DrawFn) -> dict[tuple[str, ...], str]:
    """Metric paths (no path a prefix of another, so they nest cleanly), each with a kind."""
    paths = draw(st.lists(st.lists(segments, min_size=1, max_size=3).map(tuple), max_size=8))
    pool: dict[tuple[str, ...], str] = {}
    for path in paths:
        if len(path) == 1 and path[0] in ("step", "timestamp"):
            continue
        if any(p[: len(path)] == path or path[: len(p)] == p for p in pool):
            continue
        pool[path] = draw(st.sampled_from(sorted(KINDS)))
    if not pool:
        pool[("loss",)] = "float"
    return pool


def nest(flat: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in flat.items():
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


@st.composite
def sessions(draw: st.DrawFn) -> tuple[list[Any], bool]:
    """A list of actions: ("log", data, step, commit, expected-flat) or ("flush",)."""
    pool = draw(key_pool())
    paths = sorted(pool)
    actions: list[Any] = []
    max_step, next_step = -1, 0
    for _ in range(draw(st.integers(1, 25))):
        if draw(st.integers(0, 9)) == 0:
            actions.append(("flush",))
            continue
        chosen = draw(st.lists(st.sampled_from(paths), unique=True, max_size=len(paths)))
        flat = {p: draw(KINDS[pool[p]]) for p in chosen}
        data = nest(flat) if draw(st.booleans()) else {"/".join(p): v for p, v in flat.items()}
        step = None
        if draw(st.booleans()):
            jump = draw(st.sampled_from([0, 0, 1, 2, 3, 1000, 2**40]))
            step = max(max_step, 0) + jump
        commit = draw(st.booleans()) if draw(st.booleans()) else True
        actions.append(("log", data, step, commit, {"/".join(p): v for p, v in flat.items()}))
        at = next_step if step is None else step
        next_step = at + 1 if commit else max(next_step, at)
        max_step = max(max_step, at)
    return actions, draw(st.booleans())


# -- comparison ----------------------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type, NaN equal to NaN, -0.0 told apart from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


def same_list(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))


def replay(run: runlab.Run, actions: list[Any]) -> dict[str, dict[int, Any]]:
    """Perform the actions, checking the step counter against the documented rule, and return
    what should be stored: per key, step -> the last value logged there."""
    expected: dict[str, dict[int, Any]] = {}
    next_step = 0
    for action in actions:
        if action[0] == "flush":
            dict(run.summary)  # reading the summary flushes what was logged
            continue
        _, data, step, commit, flat = action
        run.log(data, step=step, commit=commit)
        at = next_step if step is None else step
        next_step = at + 1 if commit else max(next_step, at)
        assert run.step == next_step
        for key, value in flat.items():
            expected.setdefault(key, {})[at] = value
    return expected


def check_series(run_dir: Path, expected: dict[str, dict[int, Any]], t0: float) -> None:
    series = read_series(run_dir)
    assert set(series) == set(expected)
    for key, points in expected.items():
        got = series[key]
        assert got.steps.tolist() == sorted(points), key
        assert same_list(got.values.tolist(), [points[s] for s in sorted(points)]), key
        ts = got.timestamps.tolist()
        assert ts == sorted(ts)
        assert all(t0 - 1 <= t <= time.time() + 1 for t in ts)


def check_frame(run_dir: Path, expected: dict[str, dict[int, Any]]) -> None:
    frame = read_history(run_dir)
    steps = sorted({s for points in expected.values() for s in points})
    assert frame.columns[:2] == ["step", "timestamp"]
    assert sorted(frame.columns[2:]) == sorted(expected)
    assert frame["step"].to_list() == steps
    for key, points in expected.items():
        assert same_list(frame[key].to_list(), [points.get(s) for s in steps]), key


# -- properties ----------------------------------------------------------------------------------


@PROPERTY
@given(sessions())
def test_any_valid_log_sequence_reads_back_equal(
    tmp_path_factory: pytest.TempPathFactory, session: tuple[list[Any], bool]
) -> None:
    actions, write_through = session
    store = tmp_path_factory.mktemp("store")
    t0 = time.time()
    with runlab.init(dir=store, settings={**FAST, "write_through": write_through}) as run:
        expected = replay(run, actions)
        # The summary is each key's last logged value by default.
        summary = dict(run.summary)
        assert set(summary) == set(expected)
        for key, points in expected.items():
            assert same(summary[key], points[max(points)]), key
    check_series(run.dir, expected, t0)
    check_frame(run.dir, expected)


@PROPERTY
@given(sessions())
def test_module_level_log_records_the_same(
    tmp_path_factory: pytest.TempPathFactory, session: tuple[list[Any], bool]
) -> None:
    actions, _ = session
    store = tmp_path_factory.mktemp("store")
    run = runlab.init(dir=store, settings=FAST)
    expected: dict[str, dict[int, Any]] = {}
    next_step = 0
    for action in actions:
        if action[0] == "log":
            _, data, step, commit, flat = action
            runlab.log(data, step=step, commit=commit)
            at = next_step if step is None else step
            next_step = at + 1 if commit else max(next_step, at)
            for key, value in flat.items():
                expected.setdefault(key, {})[at] = value
    runlab.finish()
    check_series(run.dir, expected, 0.0)


# -- examples worth naming -----------------------------------------------------------------------


def test_the_last_value_at_a_repeated_step_wins(tmp_path: Path) -> None:
    with runlab.init(dir=tmp_path, settings=FAST) as run:
        run.log({"a": 1.0, "b": 10}, step=3)
        run.log({"a": 2.0}, step=3)
        dict(run.summary)  # the next repeat lands in another frame
        run.log({"a": 3.0}, step=3)
        run.log({"a": 4.0}, step=4)
    series = read_series(run.dir)
    assert series["a"].steps.tolist() == [3, 4]
    assert series["a"].values.tolist() == [3.0, 4.0]
    assert series["b"].values.tolist() == [10]
    frame = read_history(run.dir)
    assert frame.select("step", "a", "b").rows() == [(3, 3.0, 10), (4, 4.0, None)]


def test_commit_false_merges_calls_into_one_step(tmp_path: Path) -> None:
    with runlab.init(dir=tmp_path, settings=FAST) as run:
        run.log({"loss": 0.5}, commit=False)
        run.log({"acc": 0.9}, commit=False)
        run.log({"lr": 0.1})
        run.log({"loss": 0.4})
    frame = read_history(run.dir)
    assert frame.select("step", "loss", "acc", "lr").rows() == [
        (0, 0.5, 0.9, 0.1),
        (1, 0.4, None, None),
    ]


def test_nested_dicts_become_slash_keys(tmp_path: Path) -> None:
    with runlab.init(dir=tmp_path, settings=FAST) as run:
        run.log({"train": {"loss": 1.0, "opt": {"lr": 0.1}}, "val/loss": 2.0})
        run.log({"train/loss": 0.5, "train": {"opt": {"lr": 0.05}}})
        run.log({"episode": {"step": 7, "timestamp": 1.5}})  # only top-level names are reserved
    series = read_series(run.dir)
    assert list(series) == ["train/loss", "train/opt/lr", "val/loss", "episode/step",
                            "episode/timestamp"]  # fmt: skip
    assert series["train/loss"].values.tolist() == [1.0, 0.5]
    assert series["train/opt/lr"].values.tolist() == [0.1, 0.05]
    assert series["episode/step"].values.tolist() == [7]


def test_unicode_keys_round_trip(tmp_path: Path) -> None:
    keys = ["损失", "ödön/ß", "🚀/ε", "a b c", "x" * 256, "naïve/\u0085"]
    with runlab.init(dir=tmp_path, settings=FAST) as run:
        for i in range(3):
            run.log({k: float(i) for k in keys})
    series = read_series(run.dir)
    assert list(series) == keys
    assert all(s.values.tolist() == [0.0, 1.0, 2.0] for s in series.values())


def test_round_trip_with_default_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Terminal lines, output capture and environment capture all on."""
    monkeypatch.chdir(tmp_path)
    run = runlab.init(config={"lr": 0.1})
    for i in range(500):
        run.log({"loss": 1 / (i + 1), "i": i, "ok": i % 2 == 0, "nan": math.nan})
    print("hello from the training loop")
    run.finish()
    series = read_series(run.dir)
    assert series["loss"].values.tolist() == [1 / (i + 1) for i in range(500)]
    assert series["i"].values.tolist() == list(range(500))
    assert series["ok"].values.tolist() == [i % 2 == 0 for i in range(500)]
    assert all(math.isnan(v) for v in series["nan"].values.tolist())
    assert series["loss"].steps.tolist() == list(range(500))
    assert run.dir.resolve().is_relative_to((tmp_path / "runlab").resolve())
    assert (run.dir / "metadata.json").exists()
    output = run.dir / "files" / "output.log"
    assert "hello from the training loop" in output.read_text()
