"""The byte format of ``history.rlog``: an append-only sequence of checksummed frames.

File layout::

    b"RUNLAB\\x00\\x01"                        8-byte file header (format 1)
    frame*                                    appended by the run's writer thread

    frame   = magic b"RF" | kind u8 | flags u8 | length u32 | crc32 u32 | payload[length]
              crc32 covers kind, flags and payload; length is never 0

A crash can only tear the tail: a reader stops at the first frame whose header, length or
checksum is wrong and then scans forward for the next intact frame, so a corrupt record loses
itself only. Integers are little-endian.

``KIND_HISTORY`` payload (one flush of the writer, column-major so one key is read alone)::

    n_rows u32 | flags u8 | steps_len u32 | ts_len u32 | n_keys u16
    steps   zlib(int64[n_rows]) absolute steps, one per log call; when flags & 1 the steps are
            consecutive and this is the first step as a plain int64
    ts      zlib(int64[n_rows]) microseconds: first absolute, then deltas; when flags & 2 the
            deltas are int32 (first value still int64)
    key*    key_len u16 | key utf-8 | dtype u8 | flags u8 | index_len u32 | values_len u32
            index   zlib(uint32 row numbers)         only when the key is not in every row
            values  values, zlib'd when flags & 1    dtype b'd' float64, b'q' int64, b'?' bool

``KIND_EVENT`` payload: UTF-8 JSON of one event. Episode events:
``{"type": "episode_end", "index", "episode_id", "status", "err_msg", "traceback", "end",
"metrics"}`` when an episode ends (``metrics``: last value per key). An episode still open at
a writer tick is announced first with ``{"type": "episode_start", "index", "episode_id",
"seed", "start", <params>}``; one that ends before being announced carries the start fields
(``seed``, ``start``, ``<params>``) in its ``episode_end`` event instead. ``<params>`` is
:func:`pack_params`' fields: flat ``a.b`` path → sampled value, float scalars base64-packed,
and the run's ``param_keys`` order, sent once per run.

``KIND_EPISODE`` payload: ``index u32`` then a ``KIND_HISTORY`` payload holding one finished
episode's own metric history (written when the episode ends).

Lineage events (see ``runlab.storage._chain``): a log that continues another one starts with
a ``base`` event as its first frame. A fork's is ``{"type": "base", "run": <parent id>,
"step": N, "gen": g}``: the parent's points up to step N come first (``g`` counts the parent's
rewinds at fork time). A rewound run's is ``{"type": "base", "log":
"archive/history-<k>.rlog", "step": N}``: its archived log's points up to step N. A resumed run
whose config changed appends ``{"type": "config_change", "changed": {key: new}, "previous":
{key: old}, "at_step": N}``.
"""

from __future__ import annotations

import base64
import json
import math
import mmap
import struct
import sys
import zlib
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

FILE_HEADER = b"RUNLAB\x00\x01"
FRAME_MAGIC = b"RF"
KIND_HISTORY = 1
KIND_EVENT = 2
KIND_EPISODE = 3
_EPISODE = struct.Struct("<I")

_FRAME = struct.Struct("<2sBBII")
_HIST = struct.Struct("<IBIIH")
_STEPS_RANGE = 1
_TS_DELTA32 = 2
_KEY_HEAD = struct.Struct("<H")
_KEY_TAIL = struct.Struct("<BBII")
_VALUES_ZLIB = 1
_LITTLE = sys.byteorder == "little"
FRAME_HEADER_SIZE = _FRAME.size
MAX_FRAME = 1 << 30

Record = tuple[int, float, dict[str, Any]]


def frame(kind: int, payload: bytes) -> bytes:
    """Wrap ``payload`` in a frame header with its length and CRC32."""
    return _FRAME.pack(FRAME_MAGIC, kind, 0, len(payload), _crc(kind, 0, payload)) + payload


def _crc(kind: int, flags: int, payload: bytes | memoryview) -> int:
    # The header's kind is checked too: a flipped kind would hand a payload to the wrong decoder.
    return zlib.crc32(payload, zlib.crc32(bytes((kind, flags))))


def _le(a: array[Any]) -> bytes:
    if not _LITTLE:  # pragma: no cover - big-endian hosts
        a = array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


def _column(values: list[Any]) -> tuple[bytes, array[Any]]:
    """Choose the narrowest exact dtype for one key's values in one block."""
    if type(values[0]) is float:  # the common case; ints/bools among floats become floats
        try:
            return b"d", array("d", values)
        except OverflowError:
            return b"d", array("d", [_saturate(v) for v in values])
    types = set(map(type, values))
    if types == {float}:
        return b"d", array("d", values)
    if types == {bool}:
        return b"?", array("b", values)
    if float not in types:
        try:
            return b"q", array("q", values)
        except OverflowError:  # ints beyond int64 are stored as float64 (documented)
            pass
    try:
        return b"d", array("d", values)
    except OverflowError:  # ints beyond float64's range are stored as ±inf (documented)
        return b"d", array("d", [_saturate(v) for v in values])


def _saturate(value: float | int | bool) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


Columns = dict[str, tuple[list[Any], list[tuple[int, int]]]]


def transpose(records: Sequence[Record]) -> Columns:
    """Per key: its values in order, and the row ranges ``[a, b)`` of the records holding it.

    A batch of uniform ``log()`` calls (the common case) is transposed in C, one
    ``map(itemgetter(key))`` per key; mixed batches are grouped into runs of records with
    equal keys.
    """
    n = len(records)
    dicts = list(map(itemgetter(2), records))
    first = dicts[0]
    width = len(first)
    if width and len(set(map(len, dicts))) == 1:
        keys = tuple(first)
        try:
            return {k: (list(map(itemgetter(k), dicts)), [(0, n)]) for k in keys}
        except KeyError:  # same sizes, different keys
            pass
    cols: Columns = {}
    i = 0
    while i < n:
        keyset = dicts[i].keys()
        j = i + 1
        while j < n and dicts[j].keys() == keyset:
            j += 1
        group = dicts[i:j]
        for key in keyset:
            col = cols.get(key)
            if col is None:
                cols[key] = col = ([], [])
            col[0].extend(map(itemgetter(key), group))
            col[1].append((i, j))
        i = j
    return cols


def encode_history(records: Sequence[Record], cols: Columns | None = None) -> bytes:
    """Encode one batch of ``(step, time, {key: scalar})`` records as a history payload.

    Values must already be validated Python ``float``/``int``/``bool`` (the SDK does that in
    the caller's thread). ``cols`` is ``transpose(records)`` when the caller already has it.
    """
    import numpy as np

    n = len(records)
    steps = np.fromiter(map(itemgetter(0), records), dtype=np.int64, count=n)
    micros = (np.fromiter(map(itemgetter(1), records), dtype=np.float64, count=n) * 1e6).astype(
        np.int64
    )
    head_flags = 0
    first = int(steps[0])
    if int(steps[-1]) - first == n - 1 and (n < 2 or bool((np.diff(steps) == 1).all())):
        steps_raw = struct.pack("<q", first)
        head_flags |= _STEPS_RANGE
    else:
        steps_raw = zlib.compress(steps.astype("<i8").tobytes(), 1)
    deltas = np.diff(micros)
    if n < 2 or (int(deltas.min()) >= -(2**31) and int(deltas.max()) < 2**31):
        ts_raw = struct.pack("<q", int(micros[0])) + deltas.astype("<i4").tobytes()
        head_flags |= _TS_DELTA32
    else:
        ts_raw = struct.pack("<q", int(micros[0])) + deltas.astype("<i8").tobytes()
    ts_z = zlib.compress(ts_raw, 1)
    if cols is None:
        cols = transpose(records)
    parts = [_HIST.pack(n, head_flags, len(steps_raw), len(ts_z), len(cols)), steps_raw, ts_z]
    for key, (values, ranges) in cols.items():
        dtype, arr = _column(values)
        if len(ranges) == 1 and ranges[0] == (0, n):
            index = b""
        else:
            rows = array("I")
            for a, b in ranges:
                rows.extend(range(a, b))
            index = zlib.compress(_le(rows), 1)
        raw = _le(arr)
        packed = zlib.compress(raw, 1)
        flags = 0
        if len(packed) < len(raw) * 0.9:
            raw, flags = packed, _VALUES_ZLIB
        name = key.encode("utf-8")
        parts.append(_KEY_HEAD.pack(len(name)))
        parts.append(name)
        parts.append(_KEY_TAIL.pack(dtype[0], flags, len(index), len(raw)))
        parts.append(index)
        parts.append(raw)
    return b"".join(parts)


def encode_episode(index: int, records: Sequence[Record]) -> bytes:
    """One finished episode's metric history: its index, then a history payload."""
    return _EPISODE.pack(index) + encode_history(records)


def split_episode(payload: memoryview) -> tuple[int, memoryview]:
    """The episode index and the history payload of a ``KIND_EPISODE`` frame."""
    (index,) = _EPISODE.unpack_from(payload, 0)
    return index, payload[_EPISODE.size :]


def pack_params(flat: dict[str, Any], with_keys: bool = True) -> dict[str, Any]:
    """Event fields for sampled parameters: float scalars packed as base64 float64 (exact, and
    ~10x cheaper than JSON's float repr), everything else as JSON, key order kept. The key
    order (``param_keys``) is the same for every episode of a run, so a writer may send it
    once; readers take it from any event of the run."""
    floats = [v for v in flat.values() if type(v) is float]
    if not floats:
        return {"params": flat}
    fields = {
        "params": {k: v for k, v in flat.items() if type(v) is not float},
        "param_floats": base64.b64encode(_le(array("d", floats))).decode("ascii"),
    }
    if with_keys:
        fields["param_keys"] = list(flat)
    return fields


def unpack_params(event: dict[str, Any], schema: list[Any] | None = None) -> dict[str, Any]:
    """The sampled parameters of an episode event, in their original order (``schema``: the
    run's ``param_keys`` when this event does not carry them)."""
    params = event.get("params")
    params = params if isinstance(params, dict) else {}
    keys, packed = event.get("param_keys", schema), event.get("param_floats")
    if not isinstance(keys, list) or not isinstance(packed, str):
        return dict(params)
    raw = array("d", base64.b64decode(packed))
    if not _LITTLE:  # pragma: no cover - big-endian hosts
        raw.byteswap()
    floats = iter(raw)
    return {k: params[k] if k in params else next(floats, math.nan) for k in keys}


def encode_event(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), default=repr).encode("utf-8")


@dataclass(frozen=True)
class Frame:
    kind: int
    payload: memoryview
    offset: int


@dataclass
class ScanReport:
    """What a scan of a log found besides intact frames."""

    frames: int = 0
    corrupt_ranges: list[tuple[int, int]] | None = None
    torn_tail: bool = False
    valid_end: int = len(FILE_HEADER)
    """Offset just past the last intact frame: where a resumed writer may append."""


def iter_frames(buf: bytes | mmap.mmap, report: ScanReport | None = None) -> Iterator[Frame]:
    """Yield intact frames of a log buffer, skipping corrupt spans (recorded in ``report``)."""
    view = memoryview(buf)
    size = len(view)
    if size < len(FILE_HEADER) or bytes(view[: len(FILE_HEADER)]) != FILE_HEADER:
        if report is not None and size:
            report.corrupt_ranges = [(0, size)]
        return
    pos = len(FILE_HEADER)
    bad_start = -1
    while pos + FRAME_HEADER_SIZE <= size:
        magic, kind, flags, length, crc = _FRAME.unpack_from(view, pos)
        end = pos + FRAME_HEADER_SIZE + length
        # No frame is empty: an empty span's CRC is trivially right, so a stray b"RF" followed
        # by zeros inside a torn frame must not read as one.
        if magic == FRAME_MAGIC and 0 < length <= MAX_FRAME and end <= size:
            payload = view[pos + FRAME_HEADER_SIZE : end]
            if _crc(kind, flags, payload) == crc:
                if bad_start >= 0 and report is not None:
                    report.corrupt_ranges = (report.corrupt_ranges or []) + [(bad_start, pos)]
                bad_start = -1
                if report is not None:
                    report.frames += 1
                    report.valid_end = end
                yield Frame(kind, payload, pos)
                pos = end
                continue
        # Not an intact frame here: resynchronise on the next magic.
        if bad_start < 0:
            bad_start = pos
        nxt = buf.find(FRAME_MAGIC, pos + 1)
        if nxt < 0:
            pos = size
            break
        pos = nxt
    if report is not None and (bad_start >= 0 or pos < size):
        start = bad_start if bad_start >= 0 else pos
        report.torn_tail = True
        report.corrupt_ranges = (report.corrupt_ranges or []) + [(start, size)]


@dataclass(frozen=True)
class KeyColumn:
    dtype: str
    rows: bytes | None
    """uint32 row numbers (zlib'd) or None when the key is in every row of the block."""
    values: bytes
    compressed: bool


@dataclass(frozen=True)
class HistoryBlock:
    n_rows: int
    flags: int
    steps_raw: bytes
    ts_z: bytes
    keys: dict[str, KeyColumn]
    """The wanted keys' columns."""
    names: tuple[str, ...]
    """Every key in the block, wanted or not."""


@dataclass(frozen=True)
class ColumnView:
    """One key's column in a history payload, as views of the payload: nothing copied, for a
    reader that copies the values once, straight into arrays of its own."""

    n_rows: int
    flags: int
    """The payload's flags: how its steps and timestamps are stored."""
    steps_raw: memoryview
    ts_z: memoryview
    dtype: str
    rows: memoryview | None
    """uint32 row numbers (zlib'd) or None when the key is in every row of the block."""
    values: memoryview
    compressed: bool


def locate_column(payload: memoryview, name: bytes) -> ColumnView | None:
    """The column of the key named ``name`` (UTF-8) in a history payload, if it has one
    (:func:`decode_history` copies the wanted columns out instead)."""
    n, flags, steps_len, ts_len, n_keys = _HIST.unpack_from(payload, 0)
    pos = _HIST.size
    steps_raw = payload[pos : pos + steps_len]
    pos += steps_len
    ts_z = payload[pos : pos + ts_len]
    pos += ts_len
    for _ in range(n_keys):
        (name_len,) = _KEY_HEAD.unpack_from(payload, pos)
        pos += _KEY_HEAD.size
        found = payload[pos : pos + name_len] == name
        pos += name_len
        dtype, key_flags, index_len, values_len = _KEY_TAIL.unpack_from(payload, pos)
        pos += _KEY_TAIL.size
        if found:
            rows = payload[pos : pos + index_len] if index_len else None
            values = payload[pos + index_len : pos + index_len + values_len]
            compressed = bool(key_flags & _VALUES_ZLIB)
            return ColumnView(n, flags, steps_raw, ts_z, chr(dtype), rows, values, compressed)
        pos += index_len + values_len
    return None


def frame_spans(buf: memoryview, start: int) -> Iterator[tuple[int, int, int]]:
    """``(kind, payload start, payload end)`` of the frames from offset ``start``, read from
    their headers alone (no checksum: for sizing, not for trusting); stops at the first torn
    or corrupt header, where only :func:`iter_frames` resynchronises."""
    size = len(buf)
    pos = start
    while pos + FRAME_HEADER_SIZE <= size:
        magic, kind, _flags, length, _crc = _FRAME.unpack_from(buf, pos)
        end = pos + FRAME_HEADER_SIZE + length
        if magic != FRAME_MAGIC or not 0 < length <= MAX_FRAME or end > size:
            return
        yield kind, pos + FRAME_HEADER_SIZE, end
        pos = end


def decode_history(payload: memoryview, wanted: frozenset[str] | None = None) -> HistoryBlock:
    """Split a history payload into its columns (decompression is left to the reader)."""
    n, flags, steps_len, ts_len, n_keys = _HIST.unpack_from(payload, 0)
    pos = _HIST.size
    steps_raw = bytes(payload[pos : pos + steps_len])
    pos += steps_len
    ts_z = bytes(payload[pos : pos + ts_len])
    pos += ts_len
    keys: dict[str, KeyColumn] = {}
    names: list[str] = []
    for _ in range(n_keys):
        (name_len,) = _KEY_HEAD.unpack_from(payload, pos)
        pos += _KEY_HEAD.size
        name = bytes(payload[pos : pos + name_len]).decode("utf-8")
        names.append(name)
        pos += name_len
        dtype, key_flags, index_len, values_len = _KEY_TAIL.unpack_from(payload, pos)
        pos += _KEY_TAIL.size
        if wanted is None or name in wanted:
            rows = bytes(payload[pos : pos + index_len]) if index_len else None
            values = bytes(payload[pos + index_len : pos + index_len + values_len])
            keys[name] = KeyColumn(chr(dtype), rows, values, bool(key_flags & _VALUES_ZLIB))
        pos += index_len + values_len
    return HistoryBlock(n, flags, steps_raw, ts_z, keys, tuple(names))


def decode_steps(payload: memoryview) -> tuple[int, int, bytes, list[tuple[str, bytes | None]]]:
    """A history payload's row count, flags, raw steps and each key's row index (``None``
    when the key is in every row), without touching any values: for resuming a run."""
    n, flags, steps_len, ts_len, n_keys = _HIST.unpack_from(payload, 0)
    pos = _HIST.size
    steps_raw = bytes(payload[pos : pos + steps_len])
    pos += steps_len + ts_len
    keys: list[tuple[str, bytes | None]] = []
    for _ in range(n_keys):
        (name_len,) = _KEY_HEAD.unpack_from(payload, pos)
        pos += _KEY_HEAD.size
        name = bytes(payload[pos : pos + name_len]).decode("utf-8")
        pos += name_len
        _dtype, _flags, index_len, values_len = _KEY_TAIL.unpack_from(payload, pos)
        pos += _KEY_TAIL.size
        keys.append((name, bytes(payload[pos : pos + index_len]) if index_len else None))
        pos += index_len + values_len
    return n, flags, steps_raw, keys


def steps_of(n_rows: int, flags: int, steps_raw: bytes) -> Any:
    """A block's steps as an int64 NumPy array, from :func:`decode_steps`' fields."""
    import numpy as np

    if flags & _STEPS_RANGE:
        first = int(np.frombuffer(steps_raw, dtype="<i8")[0])
        return np.arange(first, first + n_rows, dtype=np.int64)
    return np.frombuffer(zlib.decompress(steps_raw), dtype="<i8")


def first_step_range(flags: int, steps_raw: bytes) -> int | None:
    """The first step of a block whose steps are consecutive, else ``None`` (no NumPy)."""
    if flags & _STEPS_RANGE:
        return int(struct.unpack("<q", steps_raw)[0])
    return None


def block_steps(block: HistoryBlock) -> Any:
    """The block's steps as an int64 NumPy array."""
    import numpy as np

    if block.flags & _STEPS_RANGE:
        first = int(np.frombuffer(block.steps_raw, dtype="<i8")[0])
        return np.arange(first, first + block.n_rows, dtype=np.int64)
    return np.frombuffer(zlib.decompress(block.steps_raw), dtype="<i8")


def block_micros(block: HistoryBlock) -> Any:
    """The block's timestamps in microseconds as an int64 NumPy array."""
    import numpy as np

    raw = zlib.decompress(block.ts_z)
    if block.flags & _TS_DELTA32:
        deltas = np.empty(block.n_rows, dtype=np.int64)
        deltas[0] = np.frombuffer(raw[:8], dtype="<i8")[0]
        deltas[1:] = np.frombuffer(raw[8:], dtype="<i4")
    else:
        deltas = np.frombuffer(raw, dtype="<i8")
    return np.cumsum(deltas)


def decode_event(payload: memoryview) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(bytes(payload).decode("utf-8"))
    return event
