"""Property tests: literals parse back to what was written; specs survive YAML round trips."""

from __future__ import annotations

import math
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runlab.scenario import Scenario, ScenarioError

PROPERTY = settings(max_examples=80, deadline=None)

# -- literals -------------------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | st.integers() | finite | st.text(max_size=12)
literals = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=12)


def write(value: Any, draw: st.DrawFn) -> str:
    """Our own writer of the argument syntax, with the spellings it allows chosen at random."""
    blank = draw(st.sampled_from(["", " ", "  "]))
    if value is None:
        return draw(st.sampled_from(["null", "None"]))
    if isinstance(value, bool):
        return draw(st.sampled_from(["true", "True"] if value else ["false", "False"]))
    if isinstance(value, int):
        return draw(st.sampled_from([str(value), f"+{value}" if value >= 0 else str(value)]))
    if isinstance(value, float):
        general = f"{value:.17g}"
        if not any(c in general for c in ".e"):
            general += ".0"  # %g drops the point of integral values, which would read as an int
        return draw(st.sampled_from([repr(value), f"{value:.16e}", general]))
    if isinstance(value, str):
        quote = draw(st.sampled_from(["'", '"']))
        escaped = value.replace("\\", "\\\\").replace(quote, "\\" + quote)
        return quote + escaped + quote
    items = [write(v, draw) for v in value]
    trailing = "," if items and draw(st.booleans()) else ""
    return "[" + blank + ("," + blank).join(items) + trailing + blank + "]"


def same(a: Any, b: Any) -> bool:
    """Equal with equal types (1 and 1.0 and True are told apart)."""
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


@PROPERTY
@given(value=literals, data=st.data())
def test_literals_parse_back_to_their_value(value: Any, data: st.DataObject) -> None:
    text = f"${{categorical([{write(value, data.draw)}])}}"
    parsed = Scenario({"x": text}).parameters["x"].args["choices"][0]
    assert same(parsed, value)


@PROPERTY
@given(text=st.from_regex(r"\A[+-]?(\d{1,30}(\.\d{0,20})?|\.\d{1,20})([eE][+-]?\d{1,3})?\Z"))
def test_number_literals_match_python(text: str) -> None:
    is_int = not any(c in text for c in ".eE")
    expected: int | float = int(text) if is_int else float(text)
    spec = {"x": f"${{categorical([{text}])}}"}
    if isinstance(expected, float) and not math.isfinite(expected):
        with pytest.raises(ScenarioError, match="too large"):
            Scenario(spec)
        return
    assert same(Scenario(spec).parameters["x"].args["choices"], [expected])


@PROPERTY
@given(value=literals)
def test_canonical_text_parses_back(value: Any) -> None:
    dist = Scenario({"x": "${categorical([0])}"}).parameters["x"]
    spec = {"x": str(type(dist)("categorical", {"choices": [value]}))}
    assert same(Scenario(spec).parameters["x"].args["choices"], [value])


# -- whole specs ----------------------------------------------------------------------------------

numbers = st.integers(-(10**6), 10**6) | st.floats(-1e6, 1e6)
positive = st.integers(1, 10**6) | st.floats(1e-300, 1e6)
probability = st.integers(0, 1) | st.floats(0, 1)
text_values = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="$"))
constants = st.none() | st.booleans() | st.integers() | finite | text_values


@st.composite
def distribution_text(draw: st.DrawFn) -> str:
    """A valid distribution written as a call or in resolver form, args by position or name."""
    axes = draw(st.sampled_from(["", "_1d", "_2d", "_3d"]))
    n = int(axes[1]) if axes else 0
    family = draw(
        st.sampled_from(
            ["uniform", "log_uniform", "gaussian", "truncated_gaussian", "bernoulli", "randint"]
            + ([] if axes else ["categorical", "discrete"])
        )
    )
    args: list[tuple[str, Any]]
    if family in ("uniform", "log_uniform", "randint", "truncated_gaussian"):
        base = {"uniform": numbers, "log_uniform": positive}.get(family, st.integers(-50, 50))
        pairs = [sorted(draw(st.lists(base, min_size=2, max_size=2))) for _ in range(max(n, 1))]
        low = [p[0] for p in pairs] if n else pairs[0][0]
        high = [p[1] for p in pairs] if n else pairs[0][1]
        args = [("low", low), ("high", high)]
        if family == "truncated_gaussian":
            args = [("mean", draw(numbers)), ("std", draw(st.floats(0, 100))), *args]
    elif family == "gaussian":
        args = [("mean", draw(numbers)), ("std", draw(st.floats(0, 1e3) | st.integers(0, 9)))]
    elif family == "bernoulli":
        args = [("p", draw(st.lists(probability, min_size=n, max_size=n) if n else probability))]
    else:
        choices = draw(st.lists(literals, min_size=1, max_size=4))
        weights = draw(st.none() | st.lists(st.integers(0, 5), min_size=len(choices)))
        if weights is not None:
            weights = weights[: len(choices)]
            weights = weights if sum(weights) else None
        if family == "categorical":
            args = [("choices", choices)] + ([("weights", weights)] if weights else [])
        else:
            probs = [w / sum(weights) for w in weights] if weights else None
            args = [("n", len(choices)), ("values", choices)] + ([("probs", probs)] * bool(probs))
    if draw(st.booleans()):
        args.append(("size", draw(st.integers(1, 4))))
    by_name = draw(st.integers(0, len(args)))  # the last ones are passed by keyword
    items = [
        (f"{k}={write(v, draw)}" if i >= by_name or k == "size" else write(v, draw))
        for i, (k, v) in enumerate(args)
    ]
    name = family + axes
    if draw(st.booleans()):
        return f"${{{name}({', '.join(items)})}}"
    return f"${{{name}: {', '.join(items)}}}"


keys = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=6)
leaves = st.one_of(distribution_text(), distribution_text(), constants)
trees = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)


def leaf_paths(node: Any, prefix: str = "") -> list[str]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in leaf_paths(v, f"{prefix}.{k}" if prefix else k)]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in leaf_paths(v, f"{prefix}[{i}]")]
    return [prefix]


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = draw(st.dictionaries(keys, trees, min_size=1, max_size=5))
    targets = leaf_paths(spec)
    for i in range(draw(st.integers(0, 3))):
        if targets:
            target = draw(st.sampled_from(targets))
            spec[f"ref{i}"] = draw(st.sampled_from([f"${{{target}}}", f"<${{{target}}}>"]))
    return spec


@PROPERTY
@given(spec=specs(), seed=st.integers(0, 2**64), k=st.integers(0, 10**6))
def test_specs_survive_yaml_and_dict_round_trips(spec: dict[str, Any], seed: int, k: int) -> None:
    s = Scenario(spec)
    for again in (Scenario(s.to_yaml()), Scenario(s.to_dict()), Scenario(s)):
        assert again.to_dict() == s.to_dict()
        assert again.parameters == s.parameters
        assert again.sample(seed) == s.sample(seed)
        assert again.sample_episode(seed, k) == s.sample_episode(seed, k)


@PROPERTY
@given(spec=specs(), seed=st.integers(0, 2**32))
def test_canonical_texts_sample_like_the_originals(spec: dict[str, Any], seed: int) -> None:
    s = Scenario(spec)
    assert Scenario(s.to_dict()).sample(seed) == s.sample(seed)
    for path, dist in s.parameters.items():
        canonical = Scenario({"x": str(dist)}).parameters["x"]
        assert canonical == dist, path
