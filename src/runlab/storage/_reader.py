"""Read a run's ``history.rlog`` back at full fidelity.

Everything before a torn or corrupt record is recovered (and everything after it that is
intact). Points logged twice at the same step for the same key keep the last value.
"""

from __future__ import annotations

import mmap
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlab.storage._chain import Segment, chain, read_log_file
from runlab.storage._format import (
    KIND_EVENT,
    KIND_HISTORY,
    ScanReport,
    block_micros,
    block_steps,
    decode_event,
    decode_history,
    iter_frames,
)
from runlab.storage._layout import HISTORY_FILE, SYSTEM_PREFIX

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

_NP_DTYPES = {"d": "<f8", "q": "<i8", "?": "?"}


@dataclass
class KeySeries:
    """One key's full history: parallel arrays of steps, timestamps (seconds) and values."""

    key: str
    steps: np.ndarray[Any, Any]
    timestamps: np.ndarray[Any, Any]
    values: np.ndarray[Any, Any]


def _read_log(run_dir: Path) -> bytes | mmap.mmap:
    """The run's own log, memory-mapped (only the pages of the columns read are touched)."""
    return read_log_file(Path(run_dir) / HISTORY_FILE)


def scan(run_dir: Path) -> ScanReport:
    """Check a run log: intact frame count, corrupt ranges, torn tail."""
    report = ScanReport()
    for _ in iter_frames(_read_log(run_dir), report):
        pass
    return report


def iter_events(run_dir: Path) -> Iterator[dict[str, Any]]:
    """Yield the JSON events of a run log in order."""
    for fr in iter_frames(_read_log(run_dir)):
        if fr.kind == KIND_EVENT:
            yield decode_event(fr.payload)


def history_keys(run_dir: Path) -> list[str]:
    """Every metric key that appears in the run's history, in first-logged order (a fork's
    or a rewound run's earlier logs included: see ``_chain``)."""
    seen: dict[str, None] = {}
    for segment in chain(Path(run_dir)):
        for fr in iter_frames(segment.buf):
            if fr.kind == KIND_HISTORY:
                names = decode_history(fr.payload, frozenset()).names
                if not segment.system:
                    names = tuple(k for k in names if not _is_system(k))
                seen.update(dict.fromkeys(names))
    return list(seen)


def read_series(run_dir: Path, keys: Sequence[str] | None = None) -> dict[str, KeySeries]:
    """Read each key's history as NumPy arrays (keys in first-logged order).

    A fork's history starts with its parent's points up to the fork step, a rewound run's
    with its archived log's points up to the rewind step (see ``_chain``).
    """
    segments = chain(Path(run_dir))
    if len(segments) == 1:
        return _own_series(segments[0].buf, keys)
    parts = [(seg, _own_series(seg.buf, keys)) for seg in segments]
    return _stitch(parts)


def _own_series(buf: bytes | mmap.mmap, keys: Sequence[str] | None) -> dict[str, KeySeries]:
    payloads = (fr.payload for fr in iter_frames(buf) if fr.kind == KIND_HISTORY)
    return series_from_payloads(payloads, keys)


def _stitch(parts: list[tuple[Segment, dict[str, KeySeries]]]) -> dict[str, KeySeries]:
    """Each segment's series cut at its step, concatenated per key in chain order."""
    import numpy as np

    chunks: dict[str, list[KeySeries]] = {}
    for segment, series in parts:
        for key, s in series.items():
            if _is_system(key):
                if not segment.system:
                    continue
            elif segment.upto is not None:
                n = int(np.searchsorted(s.steps, segment.upto, side="right"))
                if n < len(s.steps):
                    s = KeySeries(key, s.steps[:n], s.timestamps[:n], s.values[:n])
            if len(s.steps):
                chunks.setdefault(key, []).append(s)
    out: dict[str, KeySeries] = {}
    for key, got in chunks.items():
        if len(got) == 1:
            out[key] = got[0]
            continue
        steps = np.concatenate([c.steps for c in got])
        ts = np.concatenate([c.timestamps for c in got])
        values = _concat_values([c.values for c in got])
        if not _is_system(key):
            steps, ts, values = _last_per_step(steps, ts, values)
        out[key] = KeySeries(key, steps, ts, values)
    return out


def read_archived(
    run_dir: Path, keys: Sequence[str] | None = None
) -> list[tuple[int, int, dict[str, KeySeries]]]:
    """The points rewinds set aside: for each archived log still in the run's chain, its
    rewind step and its own points after that step, newest rewind first.

    Returns:
        ``(archive number k, rewind step, {key: series})`` per ``archive/history-<k>.rlog``.
    """
    import numpy as np

    out: list[tuple[int, int, dict[str, KeySeries]]] = []
    segments = chain(Path(run_dir))
    for segment in reversed(segments[:-1]):
        if not segment.system or segment.upto is None:
            break  # a fork parent's log: not this run's archive
        cut = segment.upto
        tail: dict[str, KeySeries] = {}
        for key, s in _own_series(segment.buf, keys).items():
            if _is_system(key):
                continue
            n = int(np.searchsorted(s.steps, cut, side="right"))
            if n < len(s.steps):
                tail[key] = KeySeries(key, s.steps[n:], s.timestamps[n:], s.values[n:])
        number = segment.path.stem.rpartition("-")[2]
        out.append((int(number) if number.isdigit() else 0, cut, tail))
    return out


def series_from_payloads(
    payloads: Iterable[memoryview], keys: Sequence[str] | None = None
) -> dict[str, KeySeries]:
    """Each key's history from history payloads in log order (a run's, or one episode's)."""
    import numpy as np

    wanted = None if keys is None else frozenset(keys)
    parts: dict[str, list[tuple[Any, Any, Any]]] = {}
    for payload in payloads:
        block = decode_history(payload, wanted)
        if not block.keys:
            continue
        steps = block_steps(block)
        ts = block_micros(block)
        for key, col in block.keys.items():
            raw = zlib.decompress(col.values) if col.compressed else col.values
            values = np.frombuffer(raw, dtype=_NP_DTYPES[col.dtype])
            if col.rows is None:
                parts.setdefault(key, []).append((steps, ts, values))
            else:
                rows = np.frombuffer(zlib.decompress(col.rows), dtype="<u4")
                parts.setdefault(key, []).append((steps[rows], ts[rows], values))
    out: dict[str, KeySeries] = {}
    for key, chunks in parts.items():
        steps = np.concatenate([c[0] for c in chunks])
        ts = np.concatenate([c[1] for c in chunks])
        values = _concat_values([c[2] for c in chunks])
        steps, ts, values = _last_per_step(steps, ts, values)
        out[key] = KeySeries(key, steps, ts.astype(np.float64) / 1e6, values)
    return out


def _concat_values(chunks: list[Any]) -> Any:
    import numpy as np

    kinds = {c.dtype.kind for c in chunks}
    if len(kinds) == 1:
        return np.concatenate(chunks)
    if kinds <= {"b", "i"}:
        return np.concatenate([c.astype(np.int64) for c in chunks])
    return np.concatenate([c.astype(np.float64) for c in chunks])


def _last_per_step(steps: Any, ts: Any, values: Any) -> tuple[Any, Any, Any]:
    """Keep the last point of each step (steps are non-decreasing per key)."""
    import numpy as np

    if len(steps) < 2:
        return steps, ts, values
    keep = np.empty(len(steps), dtype=bool)
    np.not_equal(steps[1:], steps[:-1], out=keep[:-1])
    keep[-1] = True
    if keep.all():
        return steps, ts, values
    return steps[keep], ts[keep], values[keep]


def read_history(run_dir: Path, keys: Sequence[str] | None = None) -> pl.DataFrame:
    """The run's history as a Polars frame: ``step``, ``timestamp``, one column per key.

    One row per step at which anything was logged; a key not logged at a step is null there.
    ``timestamp`` is the wall-clock time (seconds since the epoch) of the last point of the step.

    System metrics (``system/*`` keys) have their own step axis, the sample index: they are
    left out unless named in ``keys`` (see :func:`read_system_metrics`). Joining them with the
    user's keys on ``step`` means nothing; join on ``timestamp`` instead.

    Args:
        run_dir: the run's directory.
        keys: only these keys (all but ``system/*`` when None). Keys never logged give
            all-null columns.
    """
    if keys is None:
        series = read_series(run_dir)
        return history_frame({k: v for k, v in series.items() if not _is_system(k)})
    return history_frame(read_series(run_dir, keys), keys)


def archived_history(run_dir: Path, keys: Sequence[str] | None = None) -> pl.DataFrame:
    """The points rewinds set aside (see :func:`read_archived`) as one frame: ``archive``,
    ``step``, ``timestamp`` and one column per key."""
    import polars as pl

    frames = []
    for number, _cut, series in read_archived(run_dir, keys):
        frame = history_frame(series, keys)
        frames.append(frame.select(pl.lit(number, dtype=pl.Int64).alias("archive"), pl.all()))
    if not frames:
        empty = history_frame({}, keys or [])
        return empty.select(pl.lit(None, dtype=pl.Int64).alias("archive"), pl.all()).clear()
    return pl.concat(frames, how="diagonal_relaxed")


def read_system_metrics(run_dir: Path, keys: Sequence[str] | None = None) -> pl.DataFrame:
    """The run's system metrics as a frame: ``step`` (the sample index), ``timestamp`` and one
    column per ``system/*`` key (all of them when ``keys`` is None)."""
    if keys is None:
        keys = [k for k in history_keys(run_dir) if _is_system(k)]
    return history_frame(read_series(run_dir, keys), keys)


def _is_system(key: str) -> bool:
    return key.startswith(SYSTEM_PREFIX)


def history_frame(series: dict[str, KeySeries], keys: Sequence[str] | None = None) -> pl.DataFrame:
    """``series`` as a frame of ``step``, ``timestamp`` and ``keys`` (all series when None)."""
    import polars as pl

    names = list(series) if keys is None else list(keys)
    present = [series[k] for k in names if k in series]
    if not present:
        frame = pl.DataFrame(
            {"step": pl.Series([], dtype=pl.Int64), "timestamp": pl.Series([], dtype=pl.Float64)}
        )
        return frame.with_columns([pl.lit(None, dtype=pl.Float64).alias(k) for k in names])
    all_steps, all_ts = _union_steps(present)
    columns: dict[str, pl.Series] = {
        "step": pl.Series("step", all_steps, dtype=pl.Int64),
        "timestamp": pl.Series("timestamp", all_ts, dtype=pl.Float64),
    }
    sparse: list[pl.DataFrame] = []
    for key in names:
        s_ = series.get(key)
        if s_ is None:
            columns[key] = pl.Series(key, [None] * len(all_steps), dtype=pl.Float64)
        elif len(s_.steps) == len(all_steps):
            columns[key] = pl.Series(key, s_.values)
        else:
            columns[key] = pl.Series(key, [None] * len(all_steps), dtype=_pl_dtype(s_.values))
            sparse.append(pl.DataFrame({"step": s_.steps, key: s_.values}))
    frame = pl.DataFrame(columns)
    for part in sparse:
        key = part.columns[1]
        frame = frame.drop(key).join(part, on="step", how="left")
    return frame.select(["step", "timestamp", *names])


def _union_steps(present: list[KeySeries]) -> tuple[Any, Any]:
    """Sorted union of the keys' steps, with the latest timestamp at each step."""
    import numpy as np

    base = max(present, key=lambda s: len(s.steps))
    steps = base.steps
    for s in present:
        if s is not base and not _same(s.steps, steps):
            steps = np.union1d(steps, s.steps)
    ts = np.zeros(len(steps), dtype=np.float64)
    for s in present:
        if _same(s.steps, steps):
            np.maximum(ts, s.timestamps, out=ts)
        else:
            pos = np.searchsorted(steps, s.steps)
            ts[pos] = np.maximum(ts[pos], s.timestamps)
    return steps, ts


def _same(a: Any, b: Any) -> bool:
    return a is b or (len(a) == len(b) and bool((a == b).all()))


def _pl_dtype(values: Any) -> Any:
    import polars as pl

    return {"f": pl.Float64, "i": pl.Int64, "b": pl.Boolean}[values.dtype.kind]
