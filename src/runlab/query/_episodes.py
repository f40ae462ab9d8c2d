"""Episodes as frames: one row per episode, and the "where does my policy fail" table.

The same functions answer ``RunView.episodes()``, ``runlab episodes`` and a live run's
``run.episodes()``: they take a run directory (or records already read) and return Polars
frames.

``episodes`` columns, in order:

- ``episode_id``, ``index``, ``seed``, ``status``, ``err_msg``, ``start``, ``end``, ``duration``
  (times in seconds since the epoch, ``duration`` in seconds; ``end``/``duration`` null while
  an episode is unfinished, whose status is ``RUNNING`` or ``INTERRUPTED``, see
  ``runlab.storage._episodes``);
- one column per sampled parameter, named by its dotted path (``robot.mass``); vectors are
  List columns; a parameter whose path is one of the fixed names above is ``param.<path>``;
- one column per episode metric holding the last value the episode logged, named by the key,
  or ``metric.<key>`` when the key is already a fixed or parameter column.

A shared run with ranks (``init(shared=True, label=...)``) lists every process's episodes:
the owner's first, then each rank's in label order (``rank-2`` before ``rank-10``), each
process's by its own index, with a ``rank`` column after ``index`` holding the process's label
(the owner's label, or ``"owner"`` without one). Indexes and ids are per process, so they
repeat across ranks: an episode is (``rank``, ``index``), and ``find_episode`` and
``episode_history`` take ``rank=`` (without it, the owner's episode). A run without ranks has
no ``rank`` column. See ``runlab.storage._ranks``.

Values of mixed types in one column (a parameter that is an int in one episode and a string
in another) become text.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlab._errors import RunlabError
from runlab.storage._episodes import (
    ALL_STATUSES,
    ENDED_STATUSES,
    EpisodeNotFound,
    EpisodeRecord,
    Unfinished,
    read_episode_history,
    read_episodes,
)
from runlab.storage._layout import RANK_JSON, RUN_JSON, read_json
from runlab.storage._ranks import (
    OWNER,
    has_ranks,
    merged_episodes,
    names_owner,
    process_episode_history,
    rank_dir,
    rank_labels,
)

if TYPE_CHECKING:
    import polars as pl

FIXED_COLUMNS = ("episode_id", "index", "seed", "status", "err_msg", "start", "end", "duration")
RANK_COLUMN = "rank"
"""The process's label, after ``index``: only in a shared run with ranks."""
STATS_COLUMNS = ("parameter", "bin", "lo", "hi", "n")


# -- one row per episode ---------------------------------------------------------------------


def episodes(run_dir: Path, *, unfinished: Unfinished | None = None) -> pl.DataFrame:
    """The run's episodes as a frame (see the module docstring for the columns).

    Args:
        run_dir: the run's directory.
        unfinished: the status of started, unended episodes (default: from ``run.json``).
    """
    return episodes_frame(run_episodes(run_dir, unfinished=unfinished))


def run_episodes(run_dir: Path, *, unfinished: Unfinished | None = None) -> list[EpisodeRecord]:
    """The run's episode records: every process's when it has ranks (``rank`` set, see
    ``runlab.storage._ranks.merged_episodes``; ``unfinished`` is then the owner's, each rank's
    comes from its ``rank.json``), else its own log's."""
    if has_ranks(run_dir):
        return merged_episodes(run_dir, unfinished=unfinished)
    return read_episodes(run_dir, unfinished=unfinished)


def episodes_frame(records: Sequence[EpisodeRecord]) -> pl.DataFrame:
    """``records`` as the episodes frame; the fixed columns only when there are none (and
    ``rank`` when some record has one)."""
    import polars as pl

    columns: list[pl.Series] = [
        pl.Series("episode_id", [r.episode_id for r in records], dtype=pl.Utf8),
        pl.Series("index", [r.index for r in records], dtype=pl.Int64),
        _int_series("seed", [r.seed for r in records]),
        pl.Series("status", [r.status for r in records], dtype=pl.Utf8),
        pl.Series("err_msg", [r.err_msg for r in records], dtype=pl.Utf8),
        pl.Series("start", [r.start for r in records], dtype=pl.Float64),
        pl.Series("end", [r.end for r in records], dtype=pl.Float64),
        pl.Series("duration", [r.duration for r in records], dtype=pl.Float64),
    ]
    taken = set(FIXED_COLUMNS)
    if any(r.rank is not None for r in records):
        columns.insert(2, pl.Series(RANK_COLUMN, [r.rank for r in records], dtype=pl.Utf8))
        taken.add(RANK_COLUMN)
    for path in _keys(r.params for r in records):
        name = _free_name(path, "param.", taken)
        columns.append(value_series(name, [r.params.get(path) for r in records]))
    for key in _keys(r.metrics for r in records):
        name = _free_name(key, "metric.", taken)
        columns.append(value_series(name, [r.metrics.get(key) for r in records]))
    return pl.DataFrame(columns)


def _keys(mappings: Any) -> list[str]:
    seen: dict[str, None] = {}
    for mapping in mappings:
        seen.update(dict.fromkeys(mapping))
    return list(seen)


def _free_name(name: str, prefix: str, taken: set[str]) -> str:
    while name in taken:
        name = prefix + name
    taken.add(name)
    return name


def _int_series(name: str, values: list[int | None]) -> pl.Series:
    import polars as pl

    for dtype in (pl.Int64, pl.UInt64):  # seeds drawn from a SeedSequence may pass 2**63
        try:
            return pl.Series(name, values, dtype=dtype)
        except (OverflowError, TypeError, ValueError, pl.exceptions.PolarsError):
            continue
    return pl.Series(name, [None if v is None else str(v) for v in values], dtype=pl.Utf8)


def value_series(name: str, values: list[Any]) -> pl.Series:
    """A typed column for JSON-ish values: Boolean, Int64, Float64, Utf8 or a List of those."""
    import polars as pl

    dtype = _dtype([v for v in values if v is not None])
    if dtype is None:
        return pl.Series(name, [None if v is None else str(v) for v in values], dtype=pl.Utf8)
    try:
        return pl.Series(name, values, dtype=dtype, strict=False)
    except (OverflowError, pl.exceptions.PolarsError):  # ints beyond int64
        return pl.Series(name, [None if v is None else str(v) for v in values], dtype=pl.Utf8)


def _dtype(values: list[Any]) -> Any:
    """The Polars dtype holding every value exactly, or None when only text will do."""
    import polars as pl

    if not values:
        return pl.Float64
    kind = _kind(values)
    if kind == "list":
        inner = _dtype([item for value in values for item in value if item is not None])
        return None if inner is None or isinstance(inner, pl.List) else pl.List(inner)
    return {"bool": pl.Boolean, "int": pl.Int64, "float": pl.Float64, "str": pl.Utf8}.get(kind)


def _kind(values: list[Any]) -> str:
    """``bool``, ``int``, ``float`` (ints and floats), ``str``, ``list`` or ``mixed``."""
    types = {type(v) for v in values}
    if types == {bool}:
        return "bool"
    if types == {int}:
        return "int"
    if types <= {int, float}:
        return "float"
    if types == {str}:
        return "str"
    if types <= {list, tuple}:
        return "list"
    return "mixed"


# -- one episode -----------------------------------------------------------------------------


def find_episode(
    records: Sequence[EpisodeRecord], index_or_id: int | str, rank: str | None = None
) -> EpisodeRecord:
    """The episode with this index (an int) or episode id (a str).

    Args:
        records: episode records, a shared run's from every process.
        index_or_id: the episode's index or id in its process.
        rank: the label of the process that ran it (``"owner"`` also names the owner);
            ``None``: the owner's episode (a run without ranks: its own).

    Raises:
        EpisodeNotFound: that process has no episode with it.
    """
    by_index = isinstance(index_or_id, int) and not isinstance(index_or_id, bool)
    mine = [r for r in records if _ran_on(r, rank)]
    for record in mine:
        if (record.index if by_index else record.episode_id) == index_or_id:
            return record
    what = "index" if by_index else "id"
    where = "the run" if rank is None else f"rank {rank!r}"
    elsewhere = [
        r.rank
        for r in records
        if not _ran_on(r, rank) and (r.index if by_index else r.episode_id) == index_or_id
    ]
    hint = f"; rank {elsewhere[0]!r} has one: pass rank={elsewhere[0]!r}" if elsewhere else ""
    if not mine:
        raise EpisodeNotFound(
            f"no episode with {what} {index_or_id!r}: {where} has no episodes{hint}"
        )
    span = f"indexes {mine[0].index}..{mine[-1].index}"
    raise EpisodeNotFound(
        f"no episode with {what} {index_or_id!r} ({where} has {len(mine)} episodes, {span}; "
        f"give an int index or a str episode id){hint}"
    )


def _ran_on(record: EpisodeRecord, rank: str | None) -> bool:
    """Whether the process named ``rank`` (``None``: the owner) ran this episode."""
    if rank is None or rank == OWNER:
        return names_owner(record.rank)
    return record.rank == rank


def episode_history(
    run_dir: Path,
    index_or_id: int | str,
    keys: Sequence[str] | None = None,
    *,
    rank: str | None = None,
) -> pl.DataFrame:
    """One episode's metric history: ``step``, ``timestamp``, one column per key.

    ``rank`` names the process that ran it, as in :func:`find_episode` (default: the owner).

    Raises:
        EpisodeNotFound: that process has no episode with this index (int) or id (str).
    """
    record = find_episode(run_episodes(run_dir, unfinished="INTERRUPTED"), index_or_id, rank)
    if record.rank is None:
        return read_episode_history(run_dir, record.index, keys)
    return process_episode_history(run_dir, record.rank, record.index, keys)


# -- where does my policy fail ---------------------------------------------------------------


def scenario_stats(
    run_dir: Path,
    bins: int = 10,
    outcome: str = "status",
    *,
    unfinished: Unfinished | None = None,
) -> pl.DataFrame:
    """Outcomes per parameter bin or category over the run's episodes (a shared run's: every
    process's, see :func:`run_episodes`).

    The parameters' kinds come from the run's scenario when the scenario package can read it
    (a ``categorical`` parameter is a category even when its values are floats), else from
    the values alone; a shared run's from the owner's scenario, then its ranks' for
    parameters the owner's lacks. See :func:`scenario_stats_frame`.
    """
    records = run_episodes(run_dir, unfinished=unfinished)
    kinds = parameter_kinds(_spec(Path(run_dir) / RUN_JSON))
    if any(r.rank is not None for r in records):
        for label in rank_labels(run_dir):
            rank_kinds = parameter_kinds(_spec(rank_dir(run_dir, label) / RANK_JSON))
            kinds = {**rank_kinds, **kinds}
    return scenario_stats_frame(records, bins, outcome, kinds=kinds)


def _spec(state_file: Path) -> Any:
    """The scenario a process's state file (``run.json``, ``rank.json``) records."""
    try:
        data = read_json(state_file)
    except (OSError, ValueError):
        return None
    return data.get("scenario") if isinstance(data, dict) else None


def parameter_kinds(spec: Any) -> dict[str, str]:
    """Dotted path → ``numeric``/``categorical``/``vector`` from a scenario spec; ``{}`` when
    there is none or the scenario package cannot read it (the values decide then)."""
    if not spec:
        return {}
    try:
        module = importlib.import_module("runlab.scenario")
        parameters = module.Scenario(spec).parameters
        return {str(path): str(getattr(dist, "kind", "")) for path, dist in parameters.items()}
    except (ImportError, RunlabError, AttributeError, KeyError, TypeError, ValueError):
        return {}


def scenario_stats_frame(
    records: Sequence[EpisodeRecord],
    bins: int = 10,
    outcome: str = "status",
    kinds: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """The "where does my policy fail" table: outcomes per parameter bin or category.

    One row per (parameter, bin or category), parameters in first-sampled order:

    - ``parameter``: the dotted path; a vector's components are ``pos[0]``, ``pos[1]``...
    - ``bin``: ``"[0.2, 0.3)"`` for a numeric bin (the last one is closed, ``"[0.9, 1]"``),
      or the category's value as text; ``lo``/``hi``: the bin's edges (null for categories);
    - ``n``: episodes in the bin (empty numeric bins are kept, with ``n`` 0);
    - with ``outcome="status"``: one count column per status present (``SUCCESS``,
      ``FAILED``, ``ERRORED``, ``CANCELED``, then ``RUNNING``/``INTERRUPTED``), and
      ``success_rate`` = SUCCESS / ended episodes in the bin (null when none ended);
    - with ``outcome`` a metric key: ``count`` (episodes that logged it), ``mean``, ``min``,
      ``max`` of its last values (booleans as 0/1), and ``success_rate`` (= ``mean``) when
      the metric is boolean.

    Numeric parameters are cut into ``bins`` equal-width bins over their observed range
    (non-finite values are left out). Booleans, strings, ints with at most ``bins`` distinct
    values, parameters the scenario calls categorical, and values of mixed types are
    categories. Episodes without a parameter are left out of its rows.

    Raises:
        ValueError: ``bins`` is not a positive int, or ``outcome`` is neither ``"status"``
            nor a metric some episode logged.

    Example:
        >>> from runlab.storage._episodes import EpisodeRecord
        >>> recs = [EpisodeRecord(i, str(i), i, "SUCCESS" if i % 2 else "FAILED",
        ...                       params={"color": "red" if i < 2 else "blue"})
        ...         for i in range(4)]
        >>> scenario_stats_frame(recs).select("bin", "n", "success_rate").rows()
        [('blue', 2, 0.5), ('red', 2, 0.5)]
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins={bins!r} must be an int >= 1")
    summarize, outcomes, schema = _outcome(records, outcome)
    rows: list[dict[str, Any]] = []
    for name, values, categorical in _parameter_columns(records, kinds or {}):
        for label, lo, hi, members in _groups(values, bins, categorical):
            row: dict[str, Any] = {"parameter": name, "bin": label, "lo": lo, "hi": hi}
            row["n"] = len(members)
            row.update(summarize([outcomes[i] for i in members]))
            rows.append(row)
    return _stats_frame(rows, schema)


def _stats_frame(rows: list[dict[str, Any]], schema: dict[str, Any]) -> pl.DataFrame:
    import polars as pl

    full = {
        "parameter": pl.Utf8,
        "bin": pl.Utf8,
        "lo": pl.Float64,
        "hi": pl.Float64,
        "n": pl.Int64,
        **schema,
    }
    return pl.DataFrame(rows, schema=full)


Summarize = Callable[[list[Any]], dict[str, Any]]


def _outcome(
    records: Sequence[EpisodeRecord], outcome: str
) -> tuple[Summarize, list[Any], dict[str, Any]]:
    """How to summarise a bin's outcomes, each episode's outcome, and the columns it adds."""
    import polars as pl

    if outcome == "status":
        statuses = [r.status for r in records]
        present = set(statuses)
        order = [s for s in ALL_STATUSES if s in present] + sorted(present - set(ALL_STATUSES))
        schema: dict[str, Any] = dict.fromkeys(order, pl.Int64)
        schema["success_rate"] = pl.Float64
        return (lambda group: _status_counts(group, order)), statuses, schema
    metrics = _keys(r.metrics for r in records)
    if outcome not in metrics:
        allowed = ", ".join(repr(k) for k in ["status", *metrics])
        raise ValueError(f"outcome={outcome!r} is not one of {allowed}")
    values = [r.metrics.get(outcome) for r in records]
    present_values = [v for v in values if v is not None]
    kind = _kind(present_values)
    if kind not in ("bool", "int", "float"):
        raise ValueError(
            f"outcome={outcome!r}: the metric is {kind}, not numeric or boolean; "
            "use a numeric or boolean metric, or 'status'"
        )
    schema = {"count": pl.Int64, "mean": pl.Float64, "min": pl.Float64, "max": pl.Float64}
    if kind == "bool":
        schema["success_rate"] = pl.Float64
    return (lambda group: _metric_summary(group, kind == "bool")), values, schema


def _status_counts(group: list[str], order: list[str]) -> dict[str, Any]:
    counts = dict.fromkeys(order, 0)
    for status in group:
        counts[status] += 1
    ended = sum(counts.get(s, 0) for s in ENDED_STATUSES)
    rate = counts.get("SUCCESS", 0) / ended if ended else None
    return {**counts, "success_rate": rate}


def _metric_summary(group: list[Any], boolean: bool) -> dict[str, Any]:
    values = [float(v) for v in group if v is not None]
    finite = [v for v in values if math.isfinite(v)]
    summary: dict[str, Any] = {
        "count": len(values),
        "mean": sum(finite) / len(finite) if finite else None,
        "min": min(finite) if finite else None,
        "max": max(finite) if finite else None,
    }
    if boolean:
        summary["success_rate"] = summary["mean"]
    return summary


def _parameter_columns(
    records: Sequence[EpisodeRecord], kinds: Mapping[str, str]
) -> list[tuple[str, list[Any], bool]]:
    """(name, value per episode, forced categorical) per parameter; vectors per component."""
    out: list[tuple[str, list[Any], bool]] = []
    for path in _keys(r.params for r in records):
        values = [r.params.get(path) for r in records]
        categorical = kinds.get(path) == "categorical"
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, (list, tuple)) for v in present):
            width = max(len(v) for v in present)
            for i in range(width):
                component = [
                    v[i] if isinstance(v, (list, tuple)) and i < len(v) else None for v in values
                ]
                out.append((f"{path}[{i}]", component, categorical))
        else:
            out.append((path, values, categorical))
    return out


Group = tuple[str, float | None, float | None, list[int]]


def _groups(values: list[Any], bins: int, categorical: bool) -> list[Group]:
    """(label, lo, hi, member episode positions) for each bin or category of one parameter."""
    present = [(i, v) for i, v in enumerate(values) if v is not None]
    if not present:
        return []
    kind = _kind([v for _, v in present])
    distinct = len({v for _, v in present}) if kind == "int" else 0
    if not categorical and (kind == "float" or (kind == "int" and distinct > bins)):
        return _numeric_bins(present, bins)
    return _categories(present)


def _categories(present: list[tuple[int, Any]]) -> list[Group]:
    # Keyed with the bool flag too: True == 1 in a dict, but they are different categories.
    groups: dict[tuple[bool, Any], list[int]] = {}
    for i, value in present:
        groups.setdefault((isinstance(value, bool), _hashable(value)), []).append(i)
    ordered = sorted(groups.items(), key=lambda item: _category_order(item[0][1]))
    return [(_category_label(key[1]), None, None, members) for key, members in ordered]


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return str(value)
    return value


def _category_order(value: Any) -> tuple[int, Any, str]:
    if isinstance(value, bool):
        return (0, int(value), "")
    if isinstance(value, (int, float)) and not math.isnan(value):
        return (1, value, "")
    return (2, 0, _category_label(value))


def _category_label(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_category_label(v) for v in value) + "]"
    return str(value)


def _numeric_bins(present: list[tuple[int, Any]], bins: int) -> list[Group]:
    import numpy as np

    positions = np.array([i for i, _ in present], dtype=np.int64)
    x = np.array([float(v) for _, v in present], dtype=np.float64)
    keep = np.isfinite(x)
    positions, x = positions[keep], x[keep]
    if not len(x):
        return []
    lo, hi = float(x.min()), float(x.max())
    if lo == hi:  # one value: one closed bin holding every episode
        label = _labels([lo, hi], closed_all=True)[0]
        return [(label, lo, hi, positions.tolist())]
    edges = _snap(np.linspace(lo, hi, bins + 1))  # the last edge is exactly ``hi``
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    labels = _labels(edges.tolist())
    return [
        (labels[b], float(edges[b]), float(edges[b + 1]), positions[which == b].tolist())
        for b in range(bins)
    ]


def _snap(edges: Any) -> Any:
    """Edges rounded to 12 significant digits, so that 0.6 opens ``[0.6, 0.8)`` rather than
    falling below an edge computed as 0.6000000000000001; unrounded when rounding would merge
    edges (a range narrow for its magnitude)."""
    import numpy as np

    snapped = np.array([float(f"{e:.12g}") for e in edges])
    snapped[0], snapped[-1] = edges[0], edges[-1]
    return snapped if bool((np.diff(snapped) > 0).all()) else edges


def _labels(edges: list[float], closed_all: bool = False) -> list[str]:
    """``[a, b)`` per bin (the last ``[a, b]``) with the fewest digits that tell edges apart."""
    for digits in range(3, 18):
        text = [_number(e, digits) for e in edges]
        if len(set(text)) == len(set(edges)):
            break
    n = len(edges) - 1
    return [
        f"[{text[b]}, {text[b + 1]}{']' if closed_all or b == n - 1 else ')'}" for b in range(n)
    ]


def _number(value: float, digits: int) -> str:
    text = f"{value:.{digits}g}"
    return "0" if text == "-0" else text
