"""The chart decoder against what the SDK wrote and what every other reader reads back: torn and
corrupt frames, NaNs, repeated steps, a key's dtype changing between frames, a growing log."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import runlab
from runlab.server._series import Series, SeriesCache, decode
from runlab.storage._format import FRAME_HEADER_SIZE, KIND_HISTORY, iter_frames
from runlab.storage._layout import HISTORY_FILE
from runlab.storage._reader import read_series
from server.server_helpers import SETTINGS

ONE_FRAME_PER_CALL = {**SETTINGS, "write_through": True}


def _write(root: Path, rows: list[tuple[int, dict[str, Any]]]) -> Path:
    """A finished run that logged ``rows`` (step, values), one frame per ``log()`` call."""
    run = runlab.init(dir=root, project="p", settings=ONE_FRAME_PER_CALL)
    for step, row in rows:
        run.log(row, step=step)
    run.finish()
    return run.dir


def _history_frames(run_dir: Path) -> list[tuple[int, int]]:
    """(offset, end) of each history frame of the run's log."""
    buf = (run_dir / HISTORY_FILE).read_bytes()
    return [
        (fr.offset, fr.offset + FRAME_HEADER_SIZE + len(fr.payload))
        for fr in iter_frames(buf)
        if fr.kind == KIND_HISTORY
    ]


def _assert_as_read_series(run_dir: Path, key: str, got: Series) -> None:
    want = read_series(run_dir, [key])[key]
    assert got.values.dtype == want.values.dtype
    np.testing.assert_array_equal(got.values, want.values)  # NaNs compare equal here
    assert got.step_slice(0, got.size).tolist() == want.steps.tolist()
    if got.times is not None:
        assert got.times.tolist() == want.timestamps.tolist()


@pytest.mark.parametrize("with_times", [False, True])
def test_torn_tail_is_left_out(tmp_path: Path, with_times: bool) -> None:
    run_dir = _write(tmp_path, [(step, {"v": float(step)}) for step in range(50)])
    path = run_dir / HISTORY_FILE
    _, last_end = _history_frames(run_dir)[-1]
    with open(path, "r+b") as f:  # a crash in the middle of the last frame's write
        f.truncate(last_end - 5)
    series = decode(run_dir, "v", with_times=with_times)
    assert series.values.tolist() == [float(step) for step in range(49)]
    assert series.steps is None and series.first_step == 0
    _assert_as_read_series(run_dir, "v", series)


@pytest.mark.parametrize("with_times", [False, True])
def test_a_corrupt_frame_loses_its_points_only(tmp_path: Path, with_times: bool) -> None:
    run_dir = _write(tmp_path, [(step, {"v": float(step)}) for step in range(50)])
    _, end = _history_frames(run_dir)[10]
    with open(run_dir / HISTORY_FILE, "r+b") as f:  # a flipped bit in step 10's value
        f.seek(end - 1)
        byte = f.read(1)[0]
        f.seek(end - 1)
        f.write(bytes((byte ^ 0x10,)))
    series = decode(run_dir, "v", with_times=with_times)
    kept = [step for step in range(50) if step != 10]
    assert series.values.tolist() == [float(step) for step in kept]
    assert series.step_slice(0, series.size).tolist() == kept  # a gap: steps are stored
    _assert_as_read_series(run_dir, "v", series)


def test_frames_past_a_broken_header_are_found(tmp_path: Path) -> None:
    # The sizing pass stops at a frame whose header is broken; the checked pass finds the
    # frames after it, as every reader does, and makes room for their points, which are
    # floats where the points before were ints.
    rows = [(step, {"v": step if step < 10 else step + 0.5}) for step in range(50)]
    run_dir = _write(tmp_path, rows)
    start, _ = _history_frames(run_dir)[5]
    with open(run_dir / HISTORY_FILE, "r+b") as f:
        f.seek(start)
        f.write(b"XX")  # the frame's magic
    for with_times in (False, True):
        series = decode(run_dir, "v", with_times=with_times)
        assert series.values.dtype == np.float64
        assert series.values.tolist() == [float(v["v"]) for step, v in rows if step != 5]
        _assert_as_read_series(run_dir, "v", series)


def test_nan_and_infinities_are_kept(tmp_path: Path) -> None:
    values = [1.0, math.nan, -math.inf, 2.0, math.inf, math.nan, 3.0]
    run_dir = _write(tmp_path, [(step, {"v": v, "w": 1.0}) for step, v in enumerate(values)])
    series = decode(run_dir, "v", with_times=False)
    np.testing.assert_array_equal(series.values, np.array(values))
    assert series.has_nan
    assert not decode(run_dir, "w", with_times=False).has_nan
    _assert_as_read_series(run_dir, "v", series)


def test_dtypes_and_repeated_steps(tmp_path: Path) -> None:
    rows: list[tuple[int, dict[str, Any]]] = []
    for step in range(20):
        rows.append((step, {"mixed": step if step < 10 else step + 0.5, "flag": step % 3 == 0}))
    rows.append((19, {"mixed": -1.0, "flag": True}))  # logged twice at one step: last wins
    for step in range(20, 30):
        rows.append((step, {"count": step * 1000, "flag": 7}))  # bools, then ints
    run_dir = _write(tmp_path, rows)
    mixed = decode(run_dir, "mixed", with_times=True)
    assert mixed.values.dtype == np.float64
    expected = [*map(float, range(10)), *(s + 0.5 for s in range(10, 19)), -1.0]
    assert mixed.values.tolist() == expected
    assert mixed.step_slice(0, mixed.size).tolist() == list(range(20))
    flag = decode(run_dir, "flag", with_times=False)
    assert flag.values.dtype == np.int64
    assert flag.values.tolist() == [int(s % 3 == 0) for s in range(19)] + [1] + [7] * 10
    count = decode(run_dir, "count", with_times=False)
    assert count.values.dtype == np.int64 and count.first_step == 20
    assert count.values.tolist() == [step * 1000 for step in range(20, 30)]
    for key, series in (("mixed", mixed), ("flag", flag), ("count", count)):
        _assert_as_read_series(run_dir, key, series)
    assert decode(run_dir, "never", with_times=False).size == 0


@pytest.mark.parametrize("with_times", [False, True])
def test_grown_log_is_read_from_where_the_cache_stopped(tmp_path: Path, with_times: bool) -> None:
    run = runlab.init(dir=tmp_path, project="p", settings=ONE_FRAME_PER_CALL)
    for step in range(30):
        run.log({"v": step}, step=step)  # ints, consecutive steps
    cache = SeriesCache()
    first = cache.get(run.dir, "v", with_times=with_times)
    assert first.size == 30 and first.first_step == 0
    for step in range(30, 40):
        run.log({"v": step / 2}, step=step)  # floats now
    grown = cache.get(run.dir, "v", with_times=with_times)
    assert grown.values.dtype == np.float64 and grown.first_step == 0
    for step in (45, 46, 47):
        run.log({"v": -float(step)}, step=step)  # consecutive, after a gap
    grown = cache.get(run.dir, "v", with_times=with_times)
    assert grown.step_slice(0, grown.size).tolist() == [*range(40), 45, 46, 47]
    run.log({"v": 0.25}, step=47)  # logged twice at one step: the last value wins
    run.finish()
    grown = cache.get(run.dir, "v", with_times=with_times)
    full = decode(run.dir, "v", with_times=with_times)
    expected = [*map(float, range(30)), *(s / 2 for s in range(30, 40)), -45.0, -46.0, 0.25]
    assert grown.values.tolist() == full.values.tolist() == expected
    assert grown.step_slice(0, grown.size).tolist() == [*range(40), 45, 46, 47]
    assert grown.end == full.end
    if with_times:
        assert grown.times is not None and full.times is not None
        assert grown.times.tolist() == full.times.tolist()
    _assert_as_read_series(run.dir, "v", grown)
