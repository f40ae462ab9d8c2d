"""The distributions a ``${...}`` value can name: their arguments, rules and samplers.

==========================================  ==============================================
``uniform(low, high)``                      float in [low, high]; low <= high
``log_uniform(low, high)``                  float whose log is uniform; 0 < low <= high
``gaussian(mean, std)``                     float; std >= 0
``truncated_gaussian(mean, std, low, high)``  gaussian conditioned on [low, high], exactly
``bernoulli(p)``                            bool, True with probability p in [0, 1]
``randint(low, high)``                      int in [low, high], both ends included
``categorical(choices, weights=None)``      one of ``choices``; ``weights`` are relative
                                            (non-negative, not all zero) and normalised
``discrete(n, values, probs=None)``         one of the n ``values``; ``probs`` must be
                                            non-negative and sum to 1 within 1e-6
==========================================  ==============================================

The numeric ones (all but categorical and discrete) also come as ``<name>_1d``, ``_2d`` and
``_3d``: a list of 1, 2 or 3 values, where each argument is a number for every axis or a list with
one number per axis (``uniform_3d([-5, -5, 0], [5, 5, 10])``). Every distribution takes
``size=N`` (1 <= N <= 1,000,000) for a list of N independent draws.
"""

from __future__ import annotations

import bisect
import copy
import difflib
import functools
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from runlab.scenario._syntax import Call, Problem, render

if TYPE_CHECKING:
    pass

Kind = Literal["numeric", "categorical", "vector"]
PROBABILITY_TOLERANCE = 1e-6
MAX_SIZE = 1_000_000
_AXES = {"_1d": 1, "_2d": 2, "_3d": 3}
_INT64 = 2**63
_MAX_FLOAT = 1.7976931348623157e308


class _Rule(Exception):
    """A broken argument rule; ``arg`` names the argument it is about."""

    def __init__(self, message: str, arg: str) -> None:
        super().__init__(message)
        self.arg = arg


@dataclass(frozen=True)
class _Family:
    name: str
    params: tuple[str, ...]
    required: int
    types: tuple[str, ...]  # "real", "int", "list", "reals?" (a list of reals, or null)
    check: Callable[[dict[str, Any]], None]
    kind: Kind
    vectors: bool  # has _1d/_2d/_3d forms; its "real"/"int" arguments may then be per axis

    def signature(self) -> str:
        parts = list(self.params[: self.required])
        parts += [f"{p}=None" for p in self.params[self.required :]]
        return f"{self.name}({', '.join(parts)})"


@dataclass(frozen=True)
class Distribution:
    """A distribution named by a scenario value, with its arguments by name.

    Two distributions are equal when their names and arguments are; ``text`` (the value as
    written) and ``path`` (its key path) are informative only. ``str()`` gives canonical text.

    Example:
        >>> from runlab.scenario import Scenario
        >>> d = Scenario({"goal": "${uniform_2d: [0, -1], 1, size=5}"}).parameters["goal"]
        >>> d.name, d.args, d.kind, d.shape
        ('uniform_2d', {'low': [0, -1], 'high': 1, 'size': 5}, 'vector', (5, 2))
        >>> str(d)
        '${uniform_2d([0, -1], 1, size=5)}'

    """

    name: str
    args: dict[str, Any]
    text: str = field(default="", compare=False)
    path: str = field(default="", compare=False)

    @functools.cached_property
    def family(self) -> str:
        """The name without its ``_1d``/``_2d``/``_3d`` suffix."""
        return _split(self.name)[0]

    @functools.cached_property
    def axes(self) -> int:
        """The length of one draw of a ``_1d``/``_2d``/``_3d`` form, else 0."""
        return _split(self.name)[1]

    @functools.cached_property
    def shape(self) -> tuple[int, ...]:
        """``(size,)`` when ``size=`` is given, then ``(axes,)`` for vector forms."""
        size = self.args.get("size")
        return ((size,) if size is not None else ()) + ((self.axes,) if self.axes else ())

    @property
    def kind(self) -> Kind:
        """``'vector'`` when a draw is a list, else ``'numeric'`` or ``'categorical'``.

        bernoulli and categorical are categorical; discrete is numeric when all its values
        are numbers; the others are numeric.
        """
        if self.shape:
            return "vector"
        if self.family == "discrete":
            numeric = all(_is_real(v) for v in self.args["values"])
            return "numeric" if numeric else "categorical"
        return _FAMILIES[self.family].kind

    def sample(self, rng: Uniforms) -> Any:
        """One draw as plain Python values (float, int, bool, or the choices' own types).

        ``rng`` gives uniforms in (0, 1) through ``.random()``: a scenario stream, a NumPy
        ``Generator`` or a ``random.Random``.
        """
        return self.sampler(rng)

    @functools.cached_property
    def sampler(self) -> Callable[[Uniforms], Any]:
        """``sample`` compiled once: arguments converted and bound, shape unrolled."""
        return _compile(self)

    def __str__(self) -> str:
        family = _FAMILIES[self.family]
        required = family.params[: family.required]
        items = [render(self.args[p]) for p in required]
        items += [f"{k}={render(v)}" for k, v in self.args.items() if k not in required]
        return f"${{{self.name}({', '.join(items)})}}"


def names() -> tuple[str, ...]:
    """Every distribution name, vector forms included, sorted."""
    out = list(_FAMILIES)
    for f in _FAMILIES.values():
        if f.vectors:
            out += [f.name + suffix for suffix in _AXES]
    return tuple(sorted(out))


def check_name(name: str, index: int) -> None:
    """Raise a Problem listing the known distributions if ``name`` is not one of them."""
    family_name, axes = _split(name)
    family = _FAMILIES.get(family_name)
    if family is None or (axes and not family.vectors):
        raise Problem(_unknown(name), index)


def bind(call: Call, text: str = "", path: str = "") -> Distribution:
    """Check a parsed call against its distribution's rules.

    Raises:
        Problem: unknown name, wrong argument count or type, or a broken rule.
    """
    check_name(call.name, call.index)
    family_name, axes = _split(call.name)
    family = _FAMILIES[family_name]
    where: dict[str, int] = {}
    args: dict[str, Any] = {}
    allowed = (*family.params, "size")
    if len(call.args) > len(family.params):
        raise Problem(
            _count(call.name, family, len(call.args)), call.args[len(family.params)].index
        )
    for param, arg in zip(family.params, call.args, strict=False):
        args[param], where[param] = arg.value, arg.index
    for key, arg in call.kwargs:
        if key not in allowed:
            raise Problem(
                f"{call.name} has no argument {key!r}; it takes {', '.join(allowed)}", arg.index
            )
        if key in args:
            raise Problem(f"{call.name} got argument {key!r} twice", arg.index)
        args[key], where[key] = arg.value, arg.index
    given = [p for p in family.params if p in args]
    if any(p not in args for p in family.params[: family.required]):
        raise Problem(_count(call.name, family, len(given)), call.index)
    try:
        _check_types(call.name, family, axes, args)
        for axis in range(max(axes, 1)):
            values = {k: (v[axis] if axes and isinstance(v, list) else v) for k, v in args.items()}
            try:
                family.check(values)
            except _Rule as rule:
                suffix = f" on axis {axis}" if axes else ""
                raise _Rule(f"{call.name}: {rule}{suffix}", rule.arg) from None
    except _Rule as rule:
        raise Problem(str(rule), where.get(rule.arg, call.index)) from None
    ordered = {p: args[p] for p in allowed if p in args}
    return Distribution(call.name, ordered, text, path)


# -- argument checks ---------------------------------------------------------------------------


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_types(name: str, family: _Family, axes: int, args: dict[str, Any]) -> None:
    for param, kind in zip(family.params, family.types, strict=True):
        if param not in args:
            continue
        v = args[param]
        if kind in ("real", "int") and axes and isinstance(v, list):
            if len(v) != axes:
                raise _Rule(
                    f"{name}: {param} has {len(v)} values, but {name} has {axes} axes "
                    f"(give one number per axis, or a single number for all)",
                    param,
                )
            for item in v:
                _check_scalar(name, param, kind, item, per_axis=True)
        elif kind in ("real", "int"):
            _check_scalar(name, param, kind, v, per_axis=bool(axes))
        elif kind == "list" and (not isinstance(v, list) or not v):
            raise _Rule(f"{name}: {param} must be a non-empty list, got {render(v)}", param)
        elif kind == "reals?" and not (
            v is None or (isinstance(v, list) and all(_is_real(x) for x in v))
        ):
            raise _Rule(f"{name}: {param} must be a list of numbers, got {render(v)}", param)
    size = args.get("size")
    if size is not None and (
        not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_SIZE
    ):
        raise _Rule(f"{name}: size must be an integer from 1 to {MAX_SIZE:,}, got {size!r}", "size")


def _check_scalar(name: str, param: str, kind: str, v: Any, *, per_axis: bool) -> None:
    ok = _is_real(v) and (kind == "real" or isinstance(v, int))
    if not ok:
        what = "an integer" if kind == "int" else "a number"
        if per_axis:
            what += " or a list with one per axis"
        raise _Rule(f"{name}: {param} must be {what}, got {render(v)}", param)
    if kind == "real" and isinstance(v, int) and abs(v) > _MAX_FLOAT:
        raise _Rule(f"{name}: {param} is too large for a float, got {v}", param)


def _ordered(low: str, high: str) -> Callable[[dict[str, Any]], None]:
    def check(a: dict[str, Any]) -> None:
        if a[low] > a[high]:
            raise _Rule(f"{low} must be <= {high}, got {low}={a[low]}, {high}={a[high]}", low)

    return check


def _check_log_uniform(a: dict[str, Any]) -> None:
    if a["low"] <= 0:
        raise _Rule(f"low must be > 0 (log of low), got low={a['low']}", "low")
    _ordered("low", "high")(a)


def _check_std(a: dict[str, Any]) -> None:
    if a["std"] < 0:
        raise _Rule(f"std must be >= 0, got std={a['std']}", "std")


def _check_truncated(a: dict[str, Any]) -> None:
    _check_std(a)
    _ordered("low", "high")(a)


def _check_bernoulli(a: dict[str, Any]) -> None:
    if not 0 <= a["p"] <= 1:
        raise _Rule(f"p must be in [0, 1], got p={a['p']}", "p")


def _check_randint(a: dict[str, Any]) -> None:
    for k in ("low", "high"):
        if not -_INT64 <= a[k] < _INT64:
            raise _Rule(f"{k} must fit in a signed 64-bit integer, got {k}={a[k]}", k)
    _ordered("low", "high")(a)


def _check_weights(weights: list[Any], count: int, param: str, of: str) -> None:
    if len(weights) != count:
        raise _Rule(f"{param} has {len(weights)} entries but {of} has {count}", param)
    for i, w in enumerate(weights):
        if w < 0:
            raise _Rule(f"{param} must be non-negative, got {w} at index {i}", param)


def _check_categorical(a: dict[str, Any]) -> None:
    weights = a.get("weights")
    if weights is not None:
        _check_weights(weights, len(a["choices"]), "weights", "choices")
        if not sum(weights) > 0:
            raise _Rule("weights must not all be zero", "weights")


def _check_discrete(a: dict[str, Any]) -> None:
    n = a["n"]
    if n < 1:
        raise _Rule(f"n must be >= 1, got n={n}", "n")
    if len(a["values"]) != n:
        raise _Rule(f"n={n} but values has {len(a['values'])} entries", "values")
    probs = a.get("probs")
    if probs is not None:
        _check_weights(probs, n, "probs", "values")
        total = math.fsum(probs)
        if abs(total - 1.0) > PROBABILITY_TOLERANCE:
            raise _Rule(
                f"probs must sum to 1 (within {PROBABILITY_TOLERANCE:g}), got {total!r}", "probs"
            )


_FAMILIES: dict[str, _Family] = {
    f.name: f
    for f in (
        _Family(
            "uniform", ("low", "high"), 2, ("real",) * 2, _ordered("low", "high"), "numeric", True
        ),
        _Family(
            "log_uniform", ("low", "high"), 2, ("real",) * 2, _check_log_uniform, "numeric", True
        ),
        _Family("gaussian", ("mean", "std"), 2, ("real",) * 2, _check_std, "numeric", True),
        _Family(
            "truncated_gaussian",
            ("mean", "std", "low", "high"),
            4,
            ("real",) * 4,
            _check_truncated,
            "numeric",
            True,
        ),
        _Family("bernoulli", ("p",), 1, ("real",), _check_bernoulli, "categorical", True),
        _Family("randint", ("low", "high"), 2, ("int",) * 2, _check_randint, "numeric", True),
        _Family(
            "categorical",
            ("choices", "weights"),
            1,
            ("list", "reals?"),
            _check_categorical,
            "categorical",
            False,
        ),
        _Family(
            "discrete",
            ("n", "values", "probs"),
            2,
            ("int", "list", "reals?"),
            _check_discrete,
            "numeric",
            False,
        ),
    )
}


def _split(name: str) -> tuple[str, int]:
    for suffix, axes in _AXES.items():
        if name.endswith(suffix):
            return name[: -len(suffix)], axes
    return name, 0


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name, names(), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    vectors = ", ".join(f.name for f in _FAMILIES.values() if f.vectors)
    return (
        f"unknown distribution {name!r}{hint} Known: {', '.join(sorted(_FAMILIES))}; "
        f"as _1d/_2d/_3d vectors: {vectors}"
    )


def _count(name: str, family: _Family, given: int) -> str:
    n, total = family.required, len(family.params)
    count = f"{n} arguments" if n == total else f"{n} to {total} arguments"
    return f"{name} takes {count}: {family.signature()}, got {given}"


# -- sampling ----------------------------------------------------------------------------------


class Uniforms(Protocol):
    """A source of independent uniforms in the open interval (0, 1)."""

    def random(self) -> float: ...


def _compile(dist: Distribution) -> Callable[[Uniforms], Any]:
    """A sampler by inverse CDF, one uniform per scalar (far-tail rejection may take more)."""
    family, shape, args = dist.family, dist.shape, dist.args
    if family in ("categorical", "discrete"):
        choices = args["choices"] if family == "categorical" else args["values"]
        weights = args.get("weights") if family == "categorical" else args.get("probs")
        one = _picker(choices, cumulative(len(choices), weights))
        if not shape:
            return one
        return lambda rng: [one(rng) for _ in range(shape[0])]
    params = {k: v for k, v in args.items() if k != "size"}
    make = _SCALAR[family]
    if not dist.axes:
        one = make(params)
        if not shape:
            return one
        return lambda rng: [one(rng) for _ in range(shape[0])]
    per_axis = [
        make({k: v[axis] if isinstance(v, list) else v for k, v in params.items()})
        for axis in range(dist.axes)
    ]
    if len(shape) == 1:
        return lambda rng: [one(rng) for one in per_axis]
    return lambda rng: [[one(rng) for one in per_axis] for _ in range(shape[0])]


Sampler = Callable[[Uniforms], Any]


def _uniform(a: Mapping[str, Any]) -> Sampler:
    low, high = float(a["low"]), float(a["high"])
    span = high - low
    return lambda rng: min(max(low + span * rng.random(), low), high)


def _log_uniform(a: Mapping[str, Any]) -> Sampler:
    low, high = float(a["low"]), float(a["high"])
    lo, span = math.log(low), math.log(high) - math.log(low)
    return lambda rng: min(max(math.exp(lo + span * rng.random()), low), high)


def _gaussian(a: Mapping[str, Any]) -> Sampler:
    from runlab.scenario._normal import ndtri

    mean, std = float(a["mean"]), float(a["std"])
    return lambda rng: mean + std * ndtri(rng.random())


def _truncated_gaussian(a: Mapping[str, Any]) -> Sampler:
    from runlab.scenario._normal import truncated_normal

    mean, std, low, high = (float(a[k]) for k in ("mean", "std", "low", "high"))
    return lambda rng: truncated_normal(rng.random(), mean, std, low, high, rng)


def _bernoulli(a: Mapping[str, Any]) -> Sampler:
    p = float(a["p"])
    return lambda rng: rng.random() < p


def _randint(a: Mapping[str, Any]) -> Sampler:
    low, high = int(a["low"]), int(a["high"])
    span = high - low + 1
    return lambda rng: low + min(int(rng.random() * span), span - 1)


_SCALAR: dict[str, Callable[[Mapping[str, Any]], Sampler]] = {
    "uniform": _uniform,
    "log_uniform": _log_uniform,
    "gaussian": _gaussian,
    "truncated_gaussian": _truncated_gaussian,
    "bernoulli": _bernoulli,
    "randint": _randint,
}


def _picker(choices: list[Any], cdf: list[float]) -> Sampler:
    last = len(choices) - 1
    if any(isinstance(c, (list, dict)) for c in choices):  # hand out copies of mutable choices
        return lambda rng: copy.deepcopy(choices[min(bisect.bisect_right(cdf, rng.random()), last)])
    return lambda rng: choices[min(bisect.bisect_right(cdf, rng.random()), last)]


def cumulative(n: int, weights: list[Any] | None) -> list[float]:
    """The cumulative probabilities of n choices (the last one with weight is exactly 1)."""
    w = [1.0] * n if weights is None else [float(x) for x in weights]
    total = math.fsum(w)
    cdf = [c / total for c in itertools.accumulate(w)]
    # Rounding can leave the cdf just under 1; the last choice with weight owns the rest.
    last = max(i for i, x in enumerate(w) if x > 0)
    for i in range(last, n):
        cdf[i] = 1.0
    return cdf
