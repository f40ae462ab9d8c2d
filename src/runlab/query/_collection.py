"""``RunCollection``: filter, sort, group and tabulate many read-only run views.

The semantics follow HydraFlow's ``RunCollection`` so analysis code moves over unchanged.

>>> from runlab.query._collection import RunCollection
>>> from runlab.query._view import BaseRunView
>>> rc = RunCollection(_demo_views())
>>> len(rc.filter(model="mlp", lr=(0.01, 0.1)))
2
>>> rc.sort("lr", reverse=True).to_list("lr")
[0.1, 0.1, 0.01]
>>> rc.group_by("model", n=len)
shape: (2, 2)
┌───────┬─────┐
│ model ┆ n   │
│ ---   ┆ --- │
│ str   ┆ i64 │
╞═══════╪═════╡
│ mlp   ┆ 2   │
│ cnn   ┆ 1   │
└───────┴─────┘
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal, overload

from runlab._bulk import paused_gc
from runlab._errors import MultipleMatchError, NoMatchError
from runlab.query._view import MISSING, BaseRunView, flatten_dict

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

Missing = Literal["error", "skip"]
_MISSING_CHOICES = ("error", "skip")
_BASE_COLUMNS = ("id", "name", "project", "status", "created_at", "ended_at")


class RunCollection:
    """An ordered, immutable collection of run views.

    ``len``, iteration, ``rc[i]`` (a view), ``rc[a:b]`` and ``rc[[i, j]]`` (collections) and
    ``rc["key"]`` (a Polars Series of ``get(key)``) work as on a list. Every method that selects
    returns a new collection and keeps the original order.
    """

    __slots__ = ("_runs",)

    def __init__(self, runs: Iterable[BaseRunView] = ()) -> None:
        self._runs: list[BaseRunView] = list(runs)

    def __repr__(self) -> str:
        return f"RunCollection({len(self._runs)} runs)"

    def __len__(self) -> int:
        return len(self._runs)

    def __iter__(self) -> Iterator[BaseRunView]:
        return iter(self._runs)

    def __bool__(self) -> bool:
        return bool(self._runs)

    def __contains__(self, item: object) -> bool:
        return item in self._runs

    @overload
    def __getitem__(self, index: int) -> BaseRunView: ...
    @overload
    def __getitem__(self, index: str) -> pl.Series: ...
    @overload
    def __getitem__(self, index: slice | Sequence[int]) -> RunCollection: ...

    def __getitem__(self, index: int | str | slice | Sequence[int]) -> Any:
        if isinstance(index, str):
            return self.to_series(index)
        if isinstance(index, slice):
            return RunCollection(self._runs[index])
        if isinstance(index, int):
            return self._runs[index]
        return RunCollection(self._runs[i] for i in index)

    def __add__(self, other: RunCollection) -> RunCollection:
        return RunCollection([*self._runs, *other._runs])

    # -- selecting -------------------------------------------------------------------------------

    def filter(self, *criteria: Any, missing: Missing = "error", **kw: Any) -> RunCollection:
        """The runs matching every criterion (AND), in their original order.

        A criterion is a ``(key, matcher)`` tuple, ``key=matcher`` (``__`` stands for ``.``), a
        dict of them, a callable taking the run (also as ``predicate=``), or a boolean mask as
        long as the collection. A matcher is applied to ``run.get(key)``, by the first rule that
        fits: a callable ``f`` matches when ``bool(f(value))``; a list or set when the value is
        one of its items; a 2-tuple ``(lo, hi)`` when ``lo <= value <= hi`` (``None`` leaves a
        side open); anything else when it equals the value.

        Args:
            missing: ``"error"`` raises the ``AttributeError`` of ``get`` for a run without a
                key; ``"skip"`` leaves such runs out.

        Raises:
            AttributeError: a run lacks a key and ``missing="error"``.
            ValueError: a mask of the wrong length, or a bad ``missing``.
        """
        keep = self._match_all(criteria, kw, missing)
        return RunCollection(run for run, ok in zip(self._runs, keep, strict=True) if ok)

    def exclude(self, *criteria: Any, missing: Missing = "error", **kw: Any) -> RunCollection:
        """The runs matching none of the criteria (see :meth:`filter` for their forms).

        With ``missing="skip"`` a run without a key does not match that criterion (it is kept).
        """
        tests = _tests(self._runs, criteria, kw, missing)
        return RunCollection(
            run
            for i, run in enumerate(self._runs)
            if not any(test(i, run, False) for test in tests)
        )

    def _match_all(
        self, criteria: Sequence[Any], kw: Mapping[str, Any], missing: Missing
    ) -> list[bool]:
        tests = _tests(self._runs, criteria, kw, missing)
        return [all(test(i, run, False) for test in tests) for i, run in enumerate(self._runs)]

    def get(self, *criteria: Any, **kw: Any) -> BaseRunView:
        """The one run matching the criteria.

        Raises:
            NoMatchError: no run matches.
            MultipleMatchError: several do.
        """
        found = self.filter(*criteria, **kw)
        if len(found) == 1:
            return found[0]
        if not found:
            raise NoMatchError("No item found matching the specified criteria")
        raise MultipleMatchError(
            f"Multiple items ({len(found)}) found matching the criteria, expected exactly one"
        )

    def try_get(self, *criteria: Any, **kw: Any) -> BaseRunView | None:
        """The one run matching the criteria, or None when none does.

        Raises:
            MultipleMatchError: several do.
        """
        try:
            return self.get(*criteria, **kw)
        except NoMatchError:
            return None

    def first(self, *criteria: Any, **kw: Any) -> BaseRunView:
        """The first run matching the criteria. Raises NoMatchError when none does."""
        found = self.filter(*criteria, **kw) if criteria or kw else self
        if not found:
            raise NoMatchError("No item found matching the specified criteria")
        return found[0]

    def last(self, *criteria: Any, **kw: Any) -> BaseRunView:
        """The last run matching the criteria. Raises NoMatchError when none does."""
        found = self.filter(*criteria, **kw) if criteria or kw else self
        if not found:
            raise NoMatchError("No item found matching the specified criteria")
        return found[-1]

    def sort(self, *keys: str, reverse: bool = False) -> RunCollection:
        """The runs ordered by these keys; ties keep their original order in both directions.

        Runs whose value is ``None`` come last (first when ``reverse``).
        """
        if not keys:
            return RunCollection(reversed(self._runs) if reverse else self._runs)
        columns = [self.to_list(key) for key in keys]
        rows = list(zip(*columns, strict=True))

        def order(i: int) -> tuple[Any, ...]:
            return tuple((v is None, v) for v in rows[i])

        idx = sorted(range(len(self._runs)), key=order, reverse=reverse)
        return RunCollection(self._runs[i] for i in idx)

    def map(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
        """``fn(run, *args, **kwargs)`` for every run, in order."""
        return [fn(run, *args, **kwargs) for run in self._runs]

    def sample(self, k: int, seed: int | None = None) -> RunCollection:
        """``k`` runs drawn without replacement by a private ``random.Random(seed)``."""
        picked = random.Random(seed).sample(range(len(self._runs)), k)
        return RunCollection(self._runs[i] for i in picked)

    def shuffle(self, seed: int | None = None) -> RunCollection:
        """The runs in a random order drawn by a private ``random.Random(seed)``."""
        return self.sample(len(self._runs), seed)

    # -- extracting ------------------------------------------------------------------------------

    def to_list(self, key: str, default: Any = MISSING) -> list[Any]:
        """``run.get(key, default)`` for every run."""
        return [run.get(key, default) for run in self._runs]

    def to_numpy(self, key: str, default: Any = MISSING) -> np.ndarray[Any, Any]:
        import numpy as np

        return np.asarray(self.to_list(key, default))

    def to_series(self, key: str, default: Any = MISSING) -> pl.Series:
        return _series(key, self.to_list(key, default))

    def unique(self, key: str, default: Any = MISSING) -> list[Any]:
        """The distinct values of ``key``, sorted (``None`` last)."""
        seen: dict[Any, Any] = {}
        for value in self.to_list(key, default):
            seen.setdefault(_hashable(value), value)
        return sorted(seen.values(), key=lambda v: (v is None, v))

    def n_unique(self, key: str, default: Any = MISSING) -> int:
        return len({_hashable(v) for v in self.to_list(key, default)})

    def to_frame(
        self,
        *keys: str | tuple[str, Any],
        defaults: Mapping[str, Any] | None = None,
        **fns: Callable[[BaseRunView], Any],
    ) -> pl.DataFrame:
        """A Polars frame, one row per run.

        Args:
            keys: columns by key, or ``(key, default)``. With none: ``id``, ``name``,
                ``project``, ``status``, ``created_at``, ``ended_at``, the flattened config and
                the summary (a summary key that collides is prefixed ``summary.``).
            defaults: a default per key, for runs that lack it.
            fns: columns computed per run by ``fn(run)``; a function returning a dict gives one
                column per item.
        """
        import polars as pl

        defaults = dict(defaults or {})
        if keys or not self._runs:
            columns: dict[str, pl.Series] = {}
            for key in keys:
                name, default = key if isinstance(key, tuple) else (key, defaults.get(key, MISSING))
                columns[name] = _series(name, self.to_list(name, default))
            frame = pl.DataFrame(list(columns.values())) if columns else pl.DataFrame()
        else:
            with paused_gc():
                frame = _base_frame(self._runs)
        if fns:
            frame = _add_fn_columns(frame, self._runs, fns)
        return frame

    def group_by(self, *keys: str, **aggs: Callable[[RunCollection], Any]) -> Any:
        """Groups by the values of ``keys``, in order of first appearance.

        Without ``aggs``: a :class:`GroupBy`, a dict from the value (a tuple for several keys;
        lists and dicts made hashable) to a :class:`RunCollection`. With ``aggs``: the frame
        of ``GroupBy.agg(**aggs)``.
        """
        if not keys:
            raise ValueError("group_by needs at least one key")
        columns = [self.to_list(key) for key in keys]
        groups: dict[Any, list[BaseRunView]] = {}
        firsts: dict[Any, tuple[Any, ...]] = {}
        for run, values in zip(self._runs, zip(*columns, strict=True), strict=True):
            label = _hashable(values[0]) if len(keys) == 1 else tuple(map(_hashable, values))
            bucket = groups.get(label)
            if bucket is None:
                groups[label] = bucket = []
                firsts[label] = values
            bucket.append(run)
        grouped = GroupBy(keys, {label: RunCollection(runs) for label, runs in groups.items()})
        grouped._raw = firsts
        return grouped.agg(**aggs) if aggs else grouped

    # -- across runs -----------------------------------------------------------------------------

    def history(self, keys: str | Sequence[str], *, max_workers: int | None = None) -> pl.DataFrame:
        """Every run's history as one long frame, read in parallel.

        One key: ``run_id``, ``step``, ``timestamp``, ``value`` (rows where it was logged).
        Several: ``run_id``, ``step``, ``timestamp`` and a column per key.
        """
        import polars as pl

        names = [keys] if isinstance(keys, str) else list(keys)

        def read(run: BaseRunView) -> pl.DataFrame:
            frame = run.history(names).with_columns(pl.lit(run.id).alias("run_id"))
            return frame.select("run_id", "step", "timestamp", *names)

        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            frames = list(pool.map(read, self._runs))
        if not frames:
            schema: dict[str, Any] = {"run_id": pl.String, "step": pl.Int64}
            schema["timestamp"] = pl.Float64
            schema.update({n: pl.Float64 for n in names})
            frame = pl.DataFrame(schema=schema)
        else:
            frame = pl.concat(frames, how="diagonal_relaxed")
        if isinstance(keys, str):
            frame = frame.filter(pl.col(keys).is_not_null()).rename({keys: "value"})
        return frame


class GroupBy(dict[Any, RunCollection]):
    """Groups of runs by key value, in order of first appearance; ``agg`` tabulates them."""

    def __init__(self, keys: Sequence[str], groups: Mapping[Any, RunCollection]) -> None:
        super().__init__(groups)
        self.keys_by = tuple(keys)
        self._raw: dict[Any, tuple[Any, ...]] = {}

    def agg(self, *keys: str, **fns: Callable[[RunCollection], Any]) -> pl.DataFrame:
        """One row per group: the group's key values, a list column per key in ``keys`` and one
        column per function ``fn(group)``."""
        import polars as pl

        labels = list(self)
        data: dict[str, list[Any]] = {}
        for i, name in enumerate(self.keys_by):
            data[name] = [self._raw.get(label, (label,))[i] for label in labels]
        for key in keys:
            data[key] = [self[label].to_list(key) for label in labels]
        for name, fn in fns.items():
            data[name] = [fn(self[label]) for label in labels]
        return pl.DataFrame([_series(name, values) for name, values in data.items()])


# -- criteria ----------------------------------------------------------------------------------

_Test = Callable[[int, BaseRunView, bool], bool]


def _tests(
    runs: Sequence[BaseRunView], criteria: Sequence[Any], kw: Mapping[str, Any], missing: str
) -> list[_Test]:
    if missing not in _MISSING_CHOICES:
        raise ValueError(
            f"missing={missing!r} is not one of {', '.join(map(repr, _MISSING_CHOICES))}"
        )
    skip = missing == "skip"
    tests: list[_Test] = []
    pairs: list[tuple[str, Any]] = []
    for criterion in criteria:
        if isinstance(criterion, tuple) and len(criterion) == 2 and isinstance(criterion[0], str):
            pairs.append(criterion)
        elif isinstance(criterion, Mapping):
            pairs.extend(criterion.items())
        elif callable(criterion):
            tests.append(_predicate(criterion))
        else:
            tests.append(_mask(criterion, len(runs)))
    for key, matcher in kw.items():
        if key == "predicate" and callable(matcher):
            tests.append(_predicate(matcher))
        else:
            pairs.append((key.replace("__", "."), matcher))
    tests.extend(_key_test(key, matcher, skip) for key, matcher in pairs)
    return tests


def _predicate(fn: Callable[[BaseRunView], Any]) -> _Test:
    return lambda _i, run, _d: bool(fn(run))


def _mask(mask: Any, n: int) -> _Test:
    try:
        values = [bool(v) for v in mask]
    except TypeError:
        raise TypeError(
            f"a filter criterion must be a (key, matcher) tuple, a dict, a callable or a boolean "
            f"mask, not {type(mask).__name__}"
        ) from None
    if len(values) != n:
        raise ValueError(f"a boolean mask of length {len(values)} filters {n} runs")
    return lambda i, _run, _d: values[i]


def _key_test(key: str, matcher: Any, skip: bool) -> _Test:
    match = _matcher(matcher)

    def test(_i: int, run: BaseRunView, _d: bool) -> bool:
        value = run.get(key, MISSING if not skip else _ABSENT)
        return value is not _ABSENT and match(value)

    return test


_ABSENT = object()


def _matcher(matcher: Any) -> Callable[[Any], bool]:
    if callable(matcher):
        return lambda value: bool(matcher(value))
    if isinstance(matcher, (list, set, frozenset)):
        return lambda value: _member(value, matcher)
    if isinstance(matcher, tuple) and len(matcher) == 2:
        lo, hi = matcher
        return lambda value: _between(value, lo, hi)
    return lambda value: bool(value == matcher)


def _member(value: Any, options: list[Any] | set[Any] | frozenset[Any]) -> bool:
    try:
        return value in options
    except TypeError:  # an unhashable value against a set
        return any(value == option for option in options)


def _between(value: Any, lo: Any, hi: Any) -> bool:
    try:
        return (lo is None or lo <= value) and (hi is None or value <= hi)
    except TypeError:  # None or a value of another kind: not in the range
        return False


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, Mapping):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, set):
        return frozenset(_hashable(v) for v in value)
    return value


# -- frames ------------------------------------------------------------------------------------


def _series(name: str, values: list[Any]) -> pl.Series:
    import polars as pl

    values = [getattr(v, "value", v) if isinstance(v, str) else v for v in values]
    try:
        return pl.Series(name, values, strict=False)
    except (TypeError, ValueError, pl.exceptions.PolarsError):
        return pl.Series(name, values, dtype=pl.Object)


def _base_frame(runs: Sequence[BaseRunView]) -> pl.DataFrame:
    import polars as pl

    base = {name: [] for name in _BASE_COLUMNS}  # type: dict[str, list[Any]]
    configs: list[Mapping[str, Any]] = []
    summaries: list[Mapping[str, Any]] = []
    for run in runs:
        base["id"].append(run.id)
        base["name"].append(run.name)
        base["project"].append(run.project)
        base["status"].append(str(getattr(run.status, "value", run.status)))
        base["created_at"].append(run.created_at)
        base["ended_at"].append(run.ended_at)
        configs.append(run._raw_config())
        summaries.append(run._raw_summary())
    frame = pl.DataFrame(
        [
            pl.Series(k, v, dtype=pl.Float64 if k.endswith("_at") else pl.String)
            for k, v in base.items()
        ]
    )
    taken = set(frame.columns)
    config = _dicts_frame(configs)
    summary = _dicts_frame(summaries)
    taken.update(config.columns)
    summary = summary.rename({c: f"summary.{c}" for c in summary.columns if c in taken})
    return pl.concat([frame, config, summary], how="horizontal")


def _dicts_frame(dicts: list[Mapping[str, Any]]) -> pl.DataFrame:
    """Dicts as a frame with one column per flattened key, built by Polars in bulk."""
    import polars as pl

    if not any(dicts):
        return pl.DataFrame()
    try:
        frame = pl.from_dicts(dicts, infer_schema_length=None)
        return _unnest(frame)
    except (TypeError, ValueError, pl.exceptions.PolarsError):
        flat = [flatten_dict(d) for d in dicts]
        names = list(dict.fromkeys(k for d in flat for k in d))
        return pl.DataFrame([_series(n, [d.get(n) for d in flat]) for n in names])


def _unnest(frame: pl.DataFrame, prefix: str = "") -> pl.DataFrame:
    import polars as pl

    parts: list[pl.DataFrame] = []
    for name in frame.columns:
        column = frame.get_column(name)
        full = f"{prefix}{name}"
        if isinstance(column.dtype, pl.Struct) and column.dtype.fields:
            parts.append(_unnest(column.struct.unnest(), f"{full}."))
        else:
            parts.append(column.alias(full).to_frame())
    return pl.concat(parts, how="horizontal") if parts else pl.DataFrame()


def _add_fn_columns(
    frame: pl.DataFrame,
    runs: Sequence[BaseRunView],
    fns: Mapping[str, Callable[[BaseRunView], Any]],
) -> pl.DataFrame:
    import polars as pl

    columns: dict[str, list[Any]] = {}
    for name, fn in fns.items():
        results = [fn(run) for run in runs]
        if results and all(isinstance(r, Mapping) for r in results):
            names = list(dict.fromkeys(k for r in results for k in r))
            for key in names:
                columns[str(key)] = [r.get(key) for r in results]
        else:
            columns[name] = results
    extra = pl.DataFrame([_series(name, values) for name, values in columns.items()])
    if frame.width == 0:
        return extra
    return pl.concat([frame, extra], how="horizontal")


def _demo_views() -> list[BaseRunView]:
    """Three small in-memory runs for the docstring examples."""
    from pathlib import Path

    from runlab.query._api import RunView
    from runlab.storage._layout import RunRecord

    rows = [("a", "mlp", 0.1), ("b", "cnn", 0.1), ("c", "mlp", 0.01)]
    return [
        RunView(
            RunRecord(
                id=i,
                project="demo",
                name=i,
                status="finished",
                created_at=1.0 + n,
                config={"model": model, "lr": lr},
            ),
            Path(i),
        )
        for n, (i, model, lr) in enumerate(rows)
    ]
