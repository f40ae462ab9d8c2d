"""Metric series for charts: one key decoded lean, cached, and M4-downsampled per request.

:func:`runlab.storage._reader.read_series` keeps every block's step, time and value arrays and
then concatenates them, which holds a 10 M-point key several times over. Here only the one key
asked for is decoded from the memory-mapped log (pages dropped as the scan goes): a first walk
over the frame and column headers counts its points, then the checksummed frames are copied (or
inflated) straight into arrays allocated once at that size. A fresh server pays for every page
it touches first, so no per-block arrays are made, joined and given back. Steps that run without
gaps (the common case) are not stored at all, only the first. Decoded series stay in a small
LRU cache, bounded in bytes and keyed by the log's identity, so zooming and refreshing a chart
cost only the bucketing; a log that grew since is decoded from where the cached series ended.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import struct
import threading
import warnings
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from runlab.storage._chain import base_event
from runlab.storage._format import (
    FILE_HEADER,
    FRAME_HEADER_SIZE,
    KIND_HISTORY,
    ColumnView,
    HistoryBlock,
    block_micros,
    first_step_range,
    frame_spans,
    iter_frames,
    locate_column,
    steps_of,
)
from runlab.storage._layout import HISTORY_FILE
from runlab.storage._ranks import has_ranks, merged_series

_DTYPES = {"d": "<f8", "q": "<i8", "?": "?"}
CACHE_BYTES = 256 * 2**20
"""Default byte budget of the decoded-series cache."""


@dataclass
class Series:
    """One key's points, in step order: steps, values and (when asked for) wall times."""

    key: str
    first_step: int | None
    """When not None the steps are ``first_step, first_step + 1, ...`` and ``steps`` is None."""
    steps: np.ndarray[Any, Any] | None
    values: np.ndarray[Any, Any]
    times: np.ndarray[Any, Any] | None
    end: int
    """Offset in the log just past the last frame read."""
    identity: tuple[int, int]
    """Device and inode of the log that was read."""
    _has_nan: bool | None = None

    @property
    def size(self) -> int:
        return len(self.values)

    @property
    def nbytes(self) -> int:
        arrays = (self.steps, self.values, self.times)
        return sum(a.nbytes for a in arrays if a is not None) + 200

    def step_slice(self, start: int, stop: int) -> np.ndarray[Any, Any]:
        if self.steps is not None:
            return self.steps[start:stop]
        assert self.first_step is not None
        return np.arange(self.first_step + start, self.first_step + stop, dtype=np.int64)

    def steps_at(self, where: slice | np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The steps at these positions (a slice, or sorted indices)."""
        if self.steps is not None:
            return self.steps[where]
        assert self.first_step is not None
        if isinstance(where, slice):
            start, stop, _ = where.indices(self.size)
            return np.arange(self.first_step + start, self.first_step + max(start, stop))
        return where.astype(np.int64) + self.first_step

    @property
    def has_nan(self) -> bool:
        """Whether any value is NaN (checked once per series)."""
        if self._has_nan is None:
            # The minimum is NaN when any value is: no 10 M-point mask of fresh memory for it.
            kind = self.values.dtype.kind
            self._has_nan = kind == "f" and self.size > 0 and bool(np.isnan(self.values.min()))
        return self._has_nan

    def step_index(self, step: float, side: str = "left") -> int:
        """Where ``step`` would go in the steps (``numpy.searchsorted`` semantics)."""
        if self.steps is not None:
            return int(np.searchsorted(self.steps, step, side=side))  # type: ignore[call-overload]
        assert self.first_step is not None
        offset = step - self.first_step
        pos = math.floor(offset) + 1 if side == "right" else math.ceil(offset)
        return min(max(pos, 0), self.size)


# -- decoding ------------------------------------------------------------------------------------


def _map(f: Any) -> tuple[Any, tuple[int, int]]:
    """The open log memory-mapped (bytes for an empty file or a filesystem without mmap), and
    its device and inode."""
    st = os.fstat(f.fileno())
    try:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), (st.st_dev, st.st_ino)
    except (ValueError, OSError):
        return f.read(), (st.st_dev, st.st_ino)


def _unmap(buf: Any) -> None:
    if isinstance(buf, mmap.mmap):
        with contextlib.suppress(BufferError):  # a view still alive: the GC unmaps it later
            buf.close()


_DROP_EVERY = 2**20
"""Bytes of the mapping read between drops: its pages are the file cache's, cheap to map again."""


def _frames(buf: Any, start: int) -> Iterator[tuple[memoryview, int]]:
    """History payloads of the log from offset ``start`` (a frame boundary), each with where it
    starts in the log. Pages of the mapping already read are dropped as the scan goes, so a
    large log never sits whole in resident memory."""
    if start <= len(FILE_HEADER):
        view: Any = buf
        base = 0
    else:
        # iter_frames wants a whole log: put the header before the part not read yet.
        view = FILE_HEADER + bytes(memoryview(buf)[start:])
        base = start - len(FILE_HEADER)
    dropped = 0
    drop = getattr(mmap, "MADV_DONTNEED", None)
    advise = getattr(buf, "madvise", None) if view is buf and drop is not None else None
    for fr in iter_frames(view):
        end = fr.offset + FRAME_HEADER_SIZE + len(fr.payload)
        if fr.kind == KIND_HISTORY:
            yield fr.payload, base + fr.offset + FRAME_HEADER_SIZE
        if advise is not None and end - dropped > _DROP_EVERY:
            upto = end - end % mmap.PAGESIZE
            with contextlib.suppress(OSError, ValueError):
                advise(drop, dropped, upto - dropped)
            dropped = upto


def _plan(buf: Any, start: int, name: bytes) -> tuple[int, set[str]]:
    """How many points of the key the frames from ``start`` hold, and their dtypes, from the
    frame and column headers alone: the size to allocate the series' arrays at once.

    Checksums are not checked here (the filling pass checks them): a corrupt frame can make
    this count wrong, which the filling pass then corrects by growing or trimming."""
    view = memoryview(buf)
    total = 0
    kinds: set[str] = set()
    for kind, begin, end in frame_spans(view, max(start, len(FILE_HEADER))):
        if kind != KIND_HISTORY:
            continue
        try:
            col = locate_column(view[begin:end], name)
            if col is not None:
                rows = _row_numbers(col)
                total += col.n_rows if rows is None else len(rows)
                kinds.add(col.dtype)
        except (struct.error, zlib.error, ValueError):
            pass
    return total, kinds


def _row_numbers(col: ColumnView) -> np.ndarray[Any, Any] | None:
    """The rows of its block holding the key, None when it is in every row."""
    if col.rows is None:
        return None
    return np.frombuffer(zlib.decompress(col.rows), dtype="<u4")


def _values(col: ColumnView) -> np.ndarray[Any, Any]:
    """The key's values in its block: a view of the log when stored plain (the usual float
    column)."""
    raw = zlib.decompress(col.values) if col.compressed else col.values
    return np.frombuffer(raw, dtype=_DTYPES[col.dtype])


class _Sink:
    """The arrays of the part of a series being decoded, allocated once at the planned size
    and filled block by block: no per-block arrays to join (and give back to the system)
    afterwards. Steps are only stored once a block breaks the run of consecutive steps."""

    def __init__(
        self, capacity: int, kinds: set[str], with_times: bool, after: Series | None
    ) -> None:
        self.kinds = kinds
        self.values: np.ndarray[Any, Any] = np.empty(capacity, dtype=_value_dtype(kinds))
        self.times = np.empty(capacity, dtype=np.float64) if with_times else None
        self.steps: np.ndarray[Any, Any] | None = None
        self.first: int | None = None
        self.next: int | None = None
        """The step that keeps the steps consecutive, once there is one."""
        self.size = 0
        if after is not None and after.size:
            if after.first_step is None:
                self.steps = np.empty(capacity, dtype=np.int64)
            else:
                self.next = after.first_step + after.size

    def add(self, col: ColumnView) -> None:
        rows = _row_numbers(col)
        n = col.n_rows if rows is None else len(rows)
        if not n:
            return
        self._reserve(n, col.dtype)
        pos, stop = self.size, self.size + n
        self.values[pos:stop] = _values(col)
        first = first_step_range(col.flags, bytes(col.steps_raw))
        steps = None
        if first is None or rows is not None:
            steps = steps_of(col.n_rows, col.flags, bytes(col.steps_raw))
            steps = steps if rows is None else steps[rows]
            first = int(steps[0])
        if self.steps is None and (steps is not None or self.next not in (None, first)):
            self._store_steps()
        if self.steps is not None:
            self.steps[pos:stop] = np.arange(first, first + n) if steps is None else steps
        if self.times is not None:
            block = HistoryBlock(col.n_rows, col.flags, b"", bytes(col.ts_z), {}, ())
            micros = block_micros(block)
            np.divide(micros if rows is None else micros[rows], 1e6, out=self.times[pos:stop])
        if self.first is None:
            self.first = first
        self.next = first + n if steps is None else int(steps[-1]) + 1
        self.size = stop

    def _reserve(self, n: int, kind: str) -> None:
        """Room for ``n`` more points of dtype ``kind`` (more than planned, or another dtype,
        only when the plan was misled by a corrupt frame)."""
        self.kinds.add(kind)
        dtype = _value_dtype(self.kinds)
        if dtype != self.values.dtype:
            self.values = self.values.astype(dtype)
        if self.size + n > len(self.values):
            room = max(2 * len(self.values), self.size + n)
            self.values = _grown(self.values, self.size, room)
            if self.steps is not None:
                self.steps = _grown(self.steps, self.size, room)
            if self.times is not None:
                self.times = _grown(self.times, self.size, room)

    def _store_steps(self) -> None:
        """Steps stored from here on: those so far were consecutive from ``first``."""
        self.steps = np.empty(len(self.values), dtype=np.int64)
        if self.size:
            assert self.first is not None
            self.steps[: self.size] = np.arange(self.first, self.first + self.size)

    def arrays(self) -> tuple[Any, Any, Any]:
        """Steps (None when consecutive), values and times, as long as what was filled."""
        return self._trimmed(self.steps), self._trimmed(self.values), self._trimmed(self.times)

    def _trimmed(self, a: np.ndarray[Any, Any] | None) -> Any:
        if a is None or len(a) == self.size:
            return a
        return a[: self.size].copy()  # not a view: the unused rest is given back


def _grown(a: np.ndarray[Any, Any], used: int, room: int) -> np.ndarray[Any, Any]:
    out = np.empty(room, dtype=a.dtype)
    out[:used] = a[:used]
    return out


def _fill(buf: Any, start: int, name: bytes, sink: _Sink) -> int:
    """The filling pass over checksummed frames; returns the offset past the last one read."""
    end = start
    for payload, offset in _frames(buf, start):
        end = offset + len(payload)
        col = locate_column(payload, name)
        if col is not None:
            sink.add(col)
    return end


def _value_dtype(kinds: set[str]) -> Any:
    if kinds == {"d"}:
        return np.float64
    if kinds <= {"q", "?"}:
        return np.int64 if "q" in kinds else np.bool_
    return np.float64


def decode(run_dir: Path, key: str, *, with_times: bool, after: Series | None = None) -> Series:
    """Read one key of a run's log; with ``after``, only what was appended since it was read.

    Points logged twice at one step keep the last value, as :func:`read_series` does.
    """
    path = Path(run_dir) / HISTORY_FILE
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below, after both passes)
    except FileNotFoundError:
        return Series(key, 0, None, np.empty(0), np.empty(0) if with_times else None, 0, (0, 0))
    name = key.encode("utf-8")
    with f:
        buf, identity = _map(f)
        try:
            start = after.end if after is not None else 0
            capacity, kinds = _plan(buf, start, name)
            if after is not None and after.size:
                kinds.add({"f": "d", "i": "q", "b": "?"}[after.values.dtype.kind])
            sink = _Sink(capacity, kinds, with_times, after)
            end = _fill(buf, start, name, sink)
        finally:
            _unmap(buf)
    steps, values, times = sink.arrays()
    first = (sink.first if sink.first is not None else 0) if steps is None else None
    series = Series(key, first, steps, values, times, end, identity)
    if after is not None and after.size:
        series = _append(after, series)
    if series.steps is not None:
        _keep_last_per_step(series)
    return series


def _append(old: Series, new: Series) -> Series:
    if not new.size:
        return Series(
            old.key, old.first_step, old.steps, old.values, old.times, new.end, new.identity
        )
    if new.first_step is not None and old.first_step is not None:
        steps = None
    else:
        steps = np.concatenate([old.step_slice(0, old.size), new.step_slice(0, new.size)])
    values = np.concatenate([old.values, new.values])
    times = None
    if old.times is not None and new.times is not None:
        times = np.concatenate([old.times, new.times])
    first = old.first_step if steps is None else None
    return Series(old.key, first, steps, values, times, new.end, new.identity)


def _keep_last_per_step(series: Series) -> None:
    steps = series.steps
    assert steps is not None
    if len(steps) < 2:
        return
    keep = np.empty(len(steps), dtype=bool)
    np.not_equal(steps[1:], steps[:-1], out=keep[:-1])
    keep[-1] = True
    if keep.all():
        return
    series.steps = steps[keep]
    series.values = series.values[keep]
    if series.times is not None:
        series.times = series.times[keep]


# -- the cache -----------------------------------------------------------------------------------


class SeriesCache:
    """Decoded series by (run directory, key), least recently used first out, within a byte
    budget. A series is reused while its log is the same file and has not grown; a grown log
    is read from where the cached series ended. Thread safe."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], tuple[tuple[int, int], Series]] = OrderedDict()
        self._bytes = 0
        self._decoding = threading.Lock()

    def get(self, run_dir: Path, key: str, *, with_times: bool) -> Series:
        """The series of ``key`` in the run at ``run_dir`` (empty when never logged)."""
        if not _plain(Path(run_dir)):
            return _stitched(Path(run_dir), key)
        path = Path(run_dir) / HISTORY_FILE
        try:
            st = os.stat(path)
            stamp = (st.st_size, st.st_mtime_ns)
            identity = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            stamp, identity = (0, 0), (0, 0)
        slot = (str(run_dir), key)
        found = self._lookup(slot, stamp, identity, with_times)
        if isinstance(found, Series):
            return found
        # One decode at a time: concurrent charts never hold several big transient copies.
        with self._decoding:
            found = self._lookup(slot, stamp, identity, with_times)  # decoded meanwhile?
            if isinstance(found, Series):
                return found
            if found is not None:  # the log grew: read only what was appended
                series = decode(run_dir, key, with_times=with_times, after=found[1])
            else:
                self._drop(slot)  # never hold two copies of a big series
                series = decode(run_dir, key, with_times=with_times)
            self._put(slot, stamp, series)
            return series

    def _lookup(
        self, slot: tuple[str, str], stamp: tuple[int, int], identity: tuple[int, int], times: bool
    ) -> Series | tuple[None, Series] | None:
        """The cached series when current; ``(None, series)`` when its log only grew since."""
        with self._lock:
            hit = self._entries.get(slot)
            if hit is None:
                return None
            self._entries.move_to_end(slot)
        cached_stamp, series = hit
        if series.identity != identity or (times and series.times is None):
            return None
        if cached_stamp == stamp:
            return series
        return (None, series) if stamp[0] > cached_stamp[0] else None

    def _drop(self, slot: tuple[str, str]) -> None:
        with self._lock:
            old = self._entries.pop(slot, None)
            if old is not None:
                self._bytes -= old[1].nbytes

    def _put(self, slot: tuple[str, str], stamp: tuple[int, int], series: Series) -> None:
        with self._lock:
            old = self._entries.pop(slot, None)
            if old is not None:
                self._bytes -= old[1].nbytes
            if series.nbytes > self.max_bytes:
                return
            self._entries[slot] = (stamp, series)
            self._bytes += series.nbytes
            while self._bytes > self.max_bytes and self._entries:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


def _plain(run_dir: Path) -> bool:
    """Whether the run's history is its own log alone: not a fork or a rewound run (whose log
    starts with a ``base`` event) and not written by several processes (``ranks/``)."""
    if has_ranks(run_dir):
        return False
    try:
        with open(run_dir / HISTORY_FILE, "rb") as f:
            head = f.read(_HEAD_BYTES)
    except FileNotFoundError:
        return True
    return base_event(head) is None


_HEAD_BYTES = 4096
"""Enough of a log to hold its first frame when that is a ``base`` event."""


def _stitched(run_dir: Path, key: str) -> Series:
    """A fork's, rewound run's or multi-process run's series, read the way every reader reads
    it (:func:`runlab.storage._ranks.merged_series` follows the chain and merges ranks). Not
    cached: the other logs it reads can change without this run's log changing."""
    found = merged_series(run_dir, [key]).get(key)
    if found is None:
        return Series(key, 0, None, np.empty(0), np.empty(0), 0, (0, 0))
    return Series(key, None, found.steps, found.values, found.timestamps, 0, (0, 0))


# -- downsampling --------------------------------------------------------------------------------


def m4_indices(
    x: np.ndarray[Any, Any] | None,
    y: np.ndarray[Any, Any],
    width: int,
    has_nan: bool | None = None,
) -> Any:
    """Indices of the first, min, max and last point of each of ``width`` buckets, in order.

    Buckets split the x range evenly when ``x`` (sorted) is given, else the points evenly.
    NaN values are skipped when a bucket has any other value, so spikes always show.
    """
    n = len(y)
    if x is not None and n and x[-1] > x[0]:
        edges = x[0] + (x[-1] - x[0]) * np.arange(1, width) / width
        bounds = np.searchsorted(x, edges, side="left")
    else:
        bounds = (np.arange(1, width) * n) // width
    starts = np.concatenate(([0], bounds))
    stops = np.concatenate((bounds, [n]))
    data = y.view(np.int8) if y.dtype == np.bool_ else y
    if has_nan is None:
        has_nan = data.dtype.kind == "f" and bool(np.isnan(data).any())
    nan_aware = has_nan
    picked: list[int] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
            if b <= a:
                continue
            seg = data[a:b]
            if nan_aware:
                try:
                    lo, hi = int(np.nanargmin(seg)), int(np.nanargmax(seg))
                except ValueError:  # every value of the bucket is NaN
                    lo = hi = 0
            else:
                lo, hi = int(seg.argmin()), int(seg.argmax())
            picked.extend(sorted({a, a + lo, a + hi, b - 1}))
    return np.asarray(picked, dtype=np.int64)


def values_json(values: np.ndarray[Any, Any]) -> list[Any]:
    """Values as JSON numbers, with NaN and infinities as null."""
    if values.dtype.kind == "f":
        out: list[Any] = values.tolist()
        if not np.isfinite(values).all():
            return [v if math.isfinite(v) else None for v in out]
        return out
    if values.dtype.kind == "b":
        return values.astype(np.int64).tolist()  # type: ignore[no-any-return]
    return values.tolist()  # type: ignore[no-any-return]
