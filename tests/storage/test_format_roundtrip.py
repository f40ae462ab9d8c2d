"""The history byte format: what is encoded decodes back equal, and damage loses only itself."""

from __future__ import annotations

import math
import random
import struct
import zlib
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runlab.storage._format import (
    FILE_HEADER,
    FRAME_HEADER_SIZE,
    KIND_EVENT,
    KIND_HISTORY,
    Record,
    ScanReport,
    block_micros,
    block_steps,
    decode_event,
    decode_history,
    encode_event,
    encode_history,
    frame,
    iter_frames,
    transpose,
)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
NP_DTYPES = {"d": "<f8", "q": "<i8", "?": "?"}

PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- strategies --------------------------------------------------------------------------------

keys = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
    st.sampled_from([-0.0, 0.0, 5e-324, -5e-324, 2.2250738585072014e-308, math.nan]),
)
int64s = st.one_of(
    st.integers(INT64_MIN, INT64_MAX),
    st.sampled_from([INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX]),
)
# Beyond int64 (stored as float64) and beyond float64 (stored as +-inf).
huge_ints = st.integers(-(2**1100), 2**1100).filter(lambda v: not INT64_MIN <= v <= INT64_MAX)
scalars = st.one_of(floats, int64s, st.booleans(), huge_ints)
times = st.floats(-1e9, 4e9, allow_nan=False)


@st.composite
def batches(draw: st.DrawFn) -> list[Record]:
    """One writer flush: any steps (consecutive or not), any times, any keys per row."""
    n = draw(st.integers(1, 20))
    if draw(st.booleans()):
        first = draw(st.integers(INT64_MIN, INT64_MAX - n + 1))
        steps = list(range(first, first + n))
    else:
        steps = draw(st.lists(st.integers(INT64_MIN, INT64_MAX), min_size=n, max_size=n))
    if draw(st.booleans()):  # close timestamps: int32 deltas
        start = draw(times)
        ts = [start + i * draw(st.floats(-1.0, 5.0)) for i in range(n)]
    else:  # far apart or going back by hours: int64 deltas
        ts = draw(st.lists(times, min_size=n, max_size=n))
    pool = draw(st.lists(keys, min_size=1, max_size=6, unique=True))
    rows = [
        draw(st.dictionaries(st.sampled_from(pool), scalars, max_size=len(pool))) for _ in range(n)
    ]
    return list(zip(steps, ts, rows, strict=True))


# -- helpers -----------------------------------------------------------------------------------


def column_type(values: list[Any]) -> type:
    """The documented normalisation of one key's values within one block."""
    types = set(map(type, values))
    if types == {bool}:
        return bool
    if float in types or any(not INT64_MIN <= v <= INT64_MAX for v in values):
        return float
    return int


def as_stored(value: Any, kind: type) -> Any:
    if kind is float:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return kind(value)


def expected_rows(records: list[Record]) -> list[tuple[int, int, dict[str, Any]]]:
    kinds = {key: column_type(vals) for key, (vals, _) in transpose(records).items()}
    return [
        (step, int(t * 1_000_000), {k: as_stored(v, kinds[k]) for k, v in row.items()})
        for step, t, row in records
    ]


def decode_rows(payload: bytes) -> list[tuple[int, int, dict[str, Any]]]:
    """Decode a history payload back into rows, as a reader of the format would."""
    block = decode_history(memoryview(payload))
    steps = block_steps(block).tolist()
    micros = block_micros(block).tolist()
    rows: list[dict[str, Any]] = [{} for _ in range(block.n_rows)]
    for key, col in block.keys.items():
        raw = zlib.decompress(col.values) if col.compressed else col.values
        values = np.frombuffer(raw, dtype=NP_DTYPES[col.dtype]).tolist()
        if col.rows is None:
            where = list(range(block.n_rows))
        else:
            where = np.frombuffer(zlib.decompress(col.rows), dtype="<u4").tolist()
        assert len(where) == len(values)
        for row, value in zip(where, values, strict=True):
            rows[row][key] = value
    return list(zip(steps, micros, rows, strict=True))


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN and -0.0 told apart from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


def assert_rows_equal(got: list[Any], want: list[Any]) -> None:
    assert len(got) == len(want)
    for (gs, gt, gd), (ws, wt, wd) in zip(got, want, strict=True):
        assert (gs, gt) == (ws, wt)
        assert gd.keys() == wd.keys()
        for key in wd:
            assert same(gd[key], wd[key]), (key, gd[key], wd[key])


# -- encode / decode -----------------------------------------------------------------------------


@PROPERTY
@given(batches())
def test_history_payload_round_trips(records: list[Record]) -> None:
    payload = encode_history(records)
    assert_rows_equal(decode_rows(payload), expected_rows(records))


@PROPERTY
@given(batches())
def test_given_columns_encode_the_same_bytes(records: list[Record]) -> None:
    assert encode_history(records, transpose(records)) == encode_history(records)


@PROPERTY
@given(batches(), st.data())
def test_decoding_only_wanted_keys_leaves_the_others_out(
    records: list[Record], data: st.DataObject
) -> None:
    payload = memoryview(encode_history(records))
    every = decode_history(payload)
    wanted = frozenset(data.draw(st.sets(st.sampled_from(every.names))) if every.names else ())
    block = decode_history(payload, wanted)
    assert block.names == every.names
    assert set(block.keys) == wanted
    for key in wanted:
        assert block.keys[key] == every.keys[key]


def test_consecutive_steps_are_stored_as_their_first() -> None:
    records = [(10 + i, 1.0 + i, {"x": float(i)}) for i in range(1000)]
    packed = encode_history(records)
    jumpy = encode_history([(s * 2, t, d) for s, t, d in records])
    assert len(packed) < len(jumpy)
    assert [r[0] for r in decode_rows(packed)] == list(range(10, 1010))


def test_ints_beyond_int64_and_float64_are_stored_as_float() -> None:
    records: list[Record] = [
        (0, 0.0, {"big": 2**70, "neg": -(2**64), "huge": 10**400, "tiny": -(10**400)})
    ]
    [(_, _, row)] = decode_rows(encode_history(records))
    assert row == {"big": float(2**70), "neg": -float(2**64), "huge": math.inf, "tiny": -math.inf}


def test_a_key_may_be_missing_from_some_rows() -> None:
    records: list[Record] = [(0, 0.0, {"a": 1.0}), (1, 0.0, {}), (2, 0.0, {"a": 2.0, "b": True})]
    assert [r[2] for r in decode_rows(encode_history(records))] == [
        {"a": 1.0},
        {},
        {"a": 2.0, "b": True},
    ]


@PROPERTY
@given(
    st.dictionaries(
        keys,
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
            max_leaves=10,
        ),
        max_size=5,
    )
)
def test_event_payload_round_trips(event: dict[str, Any]) -> None:
    assert decode_event(memoryview(encode_event(event))) == event


# -- frames --------------------------------------------------------------------------------------

payloads = st.one_of(
    batches().map(lambda r: (KIND_HISTORY, encode_history(r))),
    st.dictionaries(keys, st.integers(), max_size=3).map(lambda e: (KIND_EVENT, encode_event(e))),
    st.tuples(st.sampled_from([KIND_HISTORY, KIND_EVENT]), st.binary(min_size=1, max_size=64)),
)


def build_log(parts: list[tuple[int, bytes]]) -> tuple[bytes, list[int]]:
    """The log bytes and the offset just past each frame."""
    buf = bytearray(FILE_HEADER)
    ends = []
    for kind, payload in parts:
        buf += frame(kind, payload)
        ends.append(len(buf))
    return bytes(buf), ends


def scanned(buf: bytes) -> tuple[list[tuple[int, bytes]], ScanReport]:
    report = ScanReport()
    got = [(fr.kind, bytes(fr.payload)) for fr in iter_frames(buf, report)]
    return got, report


@PROPERTY
@given(st.lists(payloads, max_size=6))
def test_an_intact_log_yields_every_frame(parts: list[tuple[int, bytes]]) -> None:
    buf, ends = build_log(parts)
    got, report = scanned(buf)
    assert got == parts
    assert report.frames == len(parts)
    assert not report.torn_tail
    assert report.corrupt_ranges is None
    assert report.valid_end == (ends[-1] if ends else len(FILE_HEADER))


@PROPERTY
@given(st.lists(payloads, min_size=1, max_size=6), st.data())
def test_any_truncation_yields_a_prefix_of_the_frames(
    parts: list[tuple[int, bytes]], data: st.DataObject
) -> None:
    buf, ends = build_log(parts)
    cut = data.draw(st.integers(0, len(buf)), label="cut")
    got, report = scanned(buf[:cut])
    whole = [end for end in ends if end <= cut]
    assert got == parts[: len(whole)]
    if cut >= len(FILE_HEADER):
        assert report.valid_end == (whole[-1] if whole else len(FILE_HEADER))
        assert report.torn_tail == (cut != report.valid_end)


@PROPERTY
@given(st.lists(payloads, min_size=1, max_size=5), st.data())
def test_a_damaged_frame_loses_itself_only(
    parts: list[tuple[int, bytes]], data: st.DataObject
) -> None:
    buf, ends = build_log(parts)
    k = data.draw(st.integers(0, len(parts) - 1), label="frame")
    start = ends[k - 1] if k else len(FILE_HEADER)
    where = data.draw(st.integers(start, ends[k] - 1), label="byte")
    flip = data.draw(st.integers(1, 255), label="xor")
    damaged = bytearray(buf)
    damaged[where] ^= flip
    got, report = scanned(bytes(damaged))
    assert got == parts[:k] + parts[k + 1 :]
    assert report.corrupt_ranges
    assert report.corrupt_ranges[0][0] == start


@pytest.mark.parametrize("kind_offset", [2, 3])
def test_a_flipped_kind_or_flags_byte_is_caught(kind_offset: int) -> None:
    buf, _ = build_log([(KIND_HISTORY, encode_history([(0, 0.0, {"x": 1.0})]))])
    damaged = bytearray(buf)
    damaged[len(FILE_HEADER) + kind_offset] ^= KIND_HISTORY ^ KIND_EVENT
    got, report = scanned(bytes(damaged))
    assert got == []
    assert report.torn_tail


def test_zero_bytes_after_a_stray_magic_are_not_a_frame() -> None:
    # An int column holding 0x14652 then 0 contains b"RF\x01\x00" and eight zero bytes: an empty
    # "frame" with a trivially right CRC. In a torn frame it must not be read as history.
    rng = random.Random(0)
    noise = [rng.getrandbits(63) for _ in range(30)]  # keeps zlib away
    column = [0x14652, 0, *noise]
    values = struct.pack("<qq", 0x14652, 0)
    assert values.startswith(b"RF\x01\x00" + bytes(4))
    records: list[Record] = [(i, 0.0, {"x": v}) for i, v in enumerate(column)]
    payload = encode_history(records)
    assert values in payload
    buf, ends = build_log([(KIND_HISTORY, payload)])
    torn = buf[: ends[0] - 1]
    got, report = scanned(torn)
    assert got == []
    assert report.torn_tail


def test_a_file_without_the_header_yields_nothing() -> None:
    buf, _ = build_log([(KIND_EVENT, encode_event({"a": 1}))])
    report = ScanReport()
    assert list(iter_frames(b"X" + buf[1:], report)) == []
    assert report.corrupt_ranges == [(0, len(buf))]
    assert list(iter_frames(b"")) == []


def test_the_frame_header_is_what_the_format_says() -> None:
    payload = encode_event({"a": 1})
    raw = frame(KIND_EVENT, payload)
    magic, kind, flags, length, _crc = struct.unpack_from("<2sBBII", raw)
    assert (magic, kind, flags, length) == (b"RF", KIND_EVENT, 0, len(payload))
    assert len(raw) == FRAME_HEADER_SIZE + len(payload)
