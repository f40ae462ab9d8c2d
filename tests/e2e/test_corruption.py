"""A damaged run log: everything intact is read back, and ``scan`` says where the damage is.

A real run writes a log of several frames (one per flush); the tests then truncate it, flip
bytes inside it or append garbage to it, as a crash, a bad disk or a careless copy would.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

import runlab
from runlab.storage._format import FILE_HEADER, FRAME_HEADER_SIZE, KIND_HISTORY, iter_frames
from runlab.storage._reader import read_history, read_series, scan

BATCHES = 5
PER_BATCH = 40


def _frames(log: Path) -> list[tuple[int, int, int]]:
    """(start, end, kind) of each intact frame in the log."""
    buf = log.read_bytes() if log.exists() else b""
    return [
        (fr.offset, fr.offset + FRAME_HEADER_SIZE + len(fr.payload), fr.kind)
        for fr in iter_frames(buf)
    ]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run whose log holds BATCHES history frames of PER_BATCH steps each."""
    store = tmp_path_factory.mktemp("pristine")
    settings = {"flush_interval": 0.02, "capture_output": False, "quiet": True}
    with runlab.init(project="e2e", id="r1", dir=store, settings=settings) as run:
        log = run.dir / "history.rlog"
        for batch in range(BATCHES):
            for i in range(batch * PER_BATCH, (batch + 1) * PER_BATCH):
                run.log({"x": i * 0.25, "i": i})
            # Wait for this batch's flush so that each batch is a frame of its own.
            deadline = time.monotonic() + 10
            while sum(k == KIND_HISTORY for *_, k in _frames(log)) <= batch:
                assert time.monotonic() < deadline, "the writer did not flush"
                time.sleep(0.005)
    history = [f for f in _frames(run.dir / "history.rlog") if f[2] == KIND_HISTORY]
    assert len(history) == BATCHES
    return run.dir


@pytest.fixture
def run_dir(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy of the pristine run to damage."""
    return Path(shutil.copytree(pristine, tmp_path / "r1"))


def history_frames(run_dir: Path) -> list[tuple[int, int]]:
    return [(a, b) for a, b, kind in _frames(run_dir / "history.rlog") if kind == KIND_HISTORY]


def steps_of(batches: list[int]) -> list[int]:
    return [i for b in batches for i in range(b * PER_BATCH, (b + 1) * PER_BATCH)]


def check_steps(run_dir: Path, batches: list[int]) -> None:
    """The history holds exactly these batches, with the values logged."""
    steps = steps_of(batches)
    frame = read_history(run_dir)
    assert frame["step"].to_list() == steps
    assert frame["i"].to_list() == steps
    assert frame["x"].to_list() == [i * 0.25 for i in steps]


def test_pristine_log_reads_back_whole(run_dir: Path) -> None:
    check_steps(run_dir, list(range(BATCHES)))
    report = scan(run_dir)
    assert report.corrupt_ranges is None
    assert not report.torn_tail
    assert report.valid_end == (run_dir / "history.rlog").stat().st_size


def test_truncated_mid_frame_keeps_earlier_frames(run_dir: Path) -> None:
    log = run_dir / "history.rlog"
    start, end = history_frames(run_dir)[3]
    with open(log, "r+b") as f:
        f.truncate((start + end) // 2)

    check_steps(run_dir, [0, 1, 2])
    report = scan(run_dir)
    assert report.torn_tail
    assert report.valid_end == start
    assert report.corrupt_ranges == [(start, (start + end) // 2)]


def test_truncated_at_every_offset_keeps_every_complete_frame(
    pristine: Path, tmp_path: Path
) -> None:
    # Whatever byte a crash stops at, each frame that ends before it is read back whole.
    data = (pristine / "history.rlog").read_bytes()
    frames = history_frames(pristine)
    run_dir = tmp_path / "r1"
    run_dir.mkdir()
    log = run_dir / "history.rlog"
    for size in range(len(FILE_HEADER), len(data) + 1):
        log.write_bytes(data[:size])
        complete = [b for b, (_start, end) in enumerate(frames) if end <= size]
        series = read_series(run_dir)
        got = series["i"].values.tolist() if "i" in series else []
        assert got == steps_of(complete), f"truncated to {size} bytes"


def test_flipped_bytes_lose_only_their_frame(run_dir: Path) -> None:
    log = run_dir / "history.rlog"
    frames = history_frames(run_dir)
    start, end = frames[2]
    data = bytearray(log.read_bytes())
    middle = (start + FRAME_HEADER_SIZE + end) // 2
    for pos in range(middle, middle + 4):
        data[pos] ^= 0xFF
    log.write_bytes(bytes(data))

    check_steps(run_dir, [0, 1, 3, 4])
    report = scan(run_dir)
    assert report.corrupt_ranges == [(start, end)]
    assert not report.torn_tail
    assert report.valid_end == len(data)


def test_damaged_frame_header_loses_only_its_frame(run_dir: Path) -> None:
    # A length field that points past the end of the file must not hide the frames after it.
    log = run_dir / "history.rlog"
    start, end = history_frames(run_dir)[1]
    data = bytearray(log.read_bytes())
    data[start + 4 : start + 8] = (0x7FFFFFF0).to_bytes(4, "little")
    log.write_bytes(bytes(data))

    check_steps(run_dir, [0, 2, 3, 4])
    assert scan(run_dir).corrupt_ranges == [(start, end)]


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(b"\x00" * 100, id="zeros"),
        pytest.param(bytes(range(256)) * 3, id="bytes"),
        # Looks like the start of a frame whose payload never arrived.
        pytest.param(b"RF\x01\x00\x10\x00\x00\x00\xde\xad\xbe\xefshort", id="fake-frame"),
    ],
)
def test_garbage_after_the_end_is_ignored(run_dir: Path, garbage: bytes) -> None:
    log = run_dir / "history.rlog"
    size = log.stat().st_size
    with open(log, "ab") as f:
        f.write(garbage)

    check_steps(run_dir, list(range(BATCHES)))
    report = scan(run_dir)
    assert report.torn_tail
    assert report.valid_end == size
    assert report.corrupt_ranges == [(size, size + len(garbage))]


def test_read_api_reads_a_damaged_run(run_dir: Path) -> None:
    # The query API goes through the same reader: a damaged run is still listed and readable.
    store = run_dir.parent / "store"
    (store / "runs").mkdir(parents=True)
    moved = Path(shutil.move(run_dir, store / "runs" / "r1"))
    _start, end = history_frames(moved)[4]
    with open(moved / "history.rlog", "r+b") as f:
        f.truncate(end - 1)

    view = runlab.Api(store).run("r1")
    assert view.status is runlab.RunStatus.FINISHED
    assert view.history()["step"].to_list() == steps_of([0, 1, 2, 3])
