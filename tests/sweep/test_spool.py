"""In-process sweeps hand their runs' file-system work to a helper process (the spool): every
trial is still a complete run on disk when ``sweep()`` returns, whatever happens to the helper
or to the sweep's own process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runlab
from runlab.sdk._ids import new_id
from runlab.storage import _spool
from runlab.storage._spool import Spool
from runlab.sweep import sweep
from runlab.sweep._search import SPOOL_MIN_TRIALS

QUICK = {"capture_git": False, "capture_packages": False, "capture_env": False}
N = SPOOL_MIN_TRIALS * 2


@pytest.fixture(autouse=True)
def _no_parked_spools() -> Iterator[None]:
    yield
    _spool._close_parked()


def _run_dirs(root: Path) -> list[Path]:
    return sorted(p for p in (root / "runs").iterdir() if not p.name.startswith("."))


def _record(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "run.json").read_text())
    return data


def test_every_trial_is_a_complete_run_and_no_spare_directory_is_left(tmp_path: Path) -> None:
    rc = sweep(lambda x: x * 2.0, {"x": list(range(N))}, dir=tmp_path, name="s")
    assert [run.summary["objective"] for run in rc] == [2.0 * x for x in range(N)]
    dirs = _run_dirs(tmp_path)
    # exactly the trials: the directories made ahead and not used are gone
    assert sorted(d.name for d in dirs) == sorted(run.id for run in rc)
    for run_dir in dirs:
        record = _record(run_dir)
        assert record["status"] == "finished" and record["ended_at"] is not None
        assert record["summary"]["objective"] == 2.0 * record["config"]["x"]
        # the environment capture is there, and shared (hard links, not copies)
        assert (run_dir / "metadata.json").is_file()
        assert (run_dir / "files" / "requirements.txt").stat().st_nlink > 1
    assert [run.group for run in runlab.runs(dir=tmp_path)] == ["s"] * N


def test_a_second_sweep_reuses_the_helper_and_still_leaves_only_runs(tmp_path: Path) -> None:
    sweep(lambda x: x, {"x": list(range(N))}, dir=tmp_path, settings=QUICK)
    parked = _spool._parked[os.fspath(tmp_path / "runs")][0]
    helper = parked._proc
    assert helper is not None and helper.poll() is None
    sweep(lambda x: x, {"x": list(range(N))}, dir=tmp_path, settings=QUICK)
    assert _spool._parked[os.fspath(tmp_path / "runs")][0]._proc is helper
    dirs = _run_dirs(tmp_path)
    assert len(dirs) == 2 * N
    assert {_record(d)["status"] for d in dirs} == {"finished"}
    _spool._close_parked()
    assert helper.wait(10) == 0


def test_a_long_trial_is_listed_while_it_runs(tmp_path: Path) -> None:
    seen: list[str] = []

    def trial(x: int) -> int:
        if x == 3:  # the writer's tick sends the start record while the trial still runs
            run = runlab.run
            assert run is not None
            path = run.dir / "run.json"
            deadline = time.monotonic() + 10
            while not path.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            seen.append(_record(run.dir)["status"])
        return x

    sweep(trial, {"x": list(range(N))}, dir=tmp_path, settings=QUICK)
    assert seen == ["running"]


def test_trials_survive_the_helper_being_killed(tmp_path: Path) -> None:
    def trial(x: int) -> int:
        if x == N // 2:
            parked = runlab.run
            assert parked is not None
            spool = parked._spool
            assert spool is not None and spool._proc is not None
            os.kill(spool._proc.pid, signal.SIGKILL)
            spool._proc.wait(10)
        return x

    rc = sweep(trial, {"x": list(range(N))}, dir=tmp_path, settings=QUICK)
    assert len(rc) == N
    dirs = _run_dirs(tmp_path)
    assert sorted(d.name for d in dirs) == sorted(run.id for run in rc)
    assert {_record(d)["status"] for d in dirs} == {"finished"}


def test_a_killed_sweep_process_leaves_only_runs(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from runlab.sweep import sweep

        def trial(x):
            if x == {N - 5}:
                os.kill(os.getpid(), signal.SIGKILL)
            return x

        sweep(trial, {{"x": list(range({N}))}}, dir=sys.argv[1], settings={QUICK!r})
        """
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], timeout=60)
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10  # the helper finishes what it was sent, then cleans up
    while time.monotonic() < deadline:
        dirs = _run_dirs(tmp_path)
        if all((d / "run.json").exists() for d in dirs):
            break
        time.sleep(0.05)
    dirs = _run_dirs(tmp_path)
    left = {
        d.name: sorted(str(f.relative_to(d)) for f in d.rglob("*"))
        for d in dirs
        if not (d / "run.json").exists()
    }
    assert not left, f"directories without a run were left: {left}"
    statuses = [_record(d)["status"] for d in dirs]
    # all trials before the killed one ended, and each was recorded as it ended
    assert statuses.count("finished") >= N - 6
    assert len(dirs) <= N - 4


def test_writes_keep_their_order_and_failures_reach_the_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    faults: list[tuple[str, str]] = []

    def on_fault(what: str, exc: BaseException) -> None:
        faults.append((what, str(exc)))

    with Spool(runs, tmp_path / "trash", new_id) as spool:
        taken = spool.take()
        deadline = time.monotonic() + 10
        while taken is None and time.monotonic() < deadline:
            time.sleep(0.01)
            taken = spool.take()
        assert taken is not None
        run_id, path = taken
        assert path == runs / run_id and (path / "files").is_dir()
        spool.write(path / "run.json", b'{"n": 1}', on_fault)
        spool.write(path / "run.json", b'{"n": 2}', on_fault)  # replaces the waiting one
        spool.link(str(path / "metadata.json"), "metadata.json", b"{}", on_fault)
        spool.write(runs / "missing" / "run.json", b"{}", on_fault)
        spool.settle()
        assert json.loads((path / "run.json").read_text()) == {"n": 2}
        assert (path / "metadata.json").read_bytes() == b"{}"
        assert [what for what, _ in faults] == ["run.json"]
        assert "No such file or directory" in faults[0][1]
    assert sorted(p.name for p in runs.iterdir()) == [run_id]


def test_parallel_trials_share_the_spool(tmp_path: Path) -> None:
    def trial(x: int) -> float:
        time.sleep(0.001 * (x % 3))  # trials end out of order
        runlab.log({"half": x / 2})
        return float(x)

    rc = sweep(trial, {"x": list(range(N))}, dir=tmp_path, parallel=3, settings=QUICK)
    assert [run.summary["objective"] for run in rc] == [float(x) for x in range(N)]
    dirs = _run_dirs(tmp_path)
    assert sorted(d.name for d in dirs) == sorted(run.id for run in rc)
    for run in runlab.runs(dir=tmp_path):
        assert str(run.status) == "finished"
        assert run.history()["half"].drop_nulls().to_list() == [run.config["x"] / 2]


def test_without_a_helper_the_work_is_done_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python-here"))
    rc = sweep(lambda x: x, {"x": list(range(N))}, dir=tmp_path / "store", settings=QUICK)
    dirs = _run_dirs(tmp_path / "store")
    assert sorted(d.name for d in dirs) == sorted(run.id for run in rc)
    assert {_record(d)["status"] for d in dirs} == {"finished"}


def test_at_most_a_few_spools_stay_parked(tmp_path: Path) -> None:
    helpers = []
    for k in range(_spool.MAX_PARKED + 1):
        sweep(lambda x: x, {"x": list(range(N))}, dir=tmp_path / str(k), settings=QUICK)
        helpers.append(_spool._parked[os.fspath(tmp_path / str(k) / "runs")][0]._proc)
    assert len(_spool._parked) == _spool.MAX_PARKED
    assert helpers[0] is not None and helpers[0].wait(10) == 0  # the first one was closed
    assert all(h is not None and h.poll() is None for h in helpers[1:])
    for k in range(_spool.MAX_PARKED + 1):
        assert len(_run_dirs(tmp_path / str(k))) == N


def test_ctrl_c_to_the_process_group_ends_the_sweep_with_every_run_recorded(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "started"
    script = textwrap.dedent(
        f"""
        import pathlib, sys, time
        from runlab.sweep import sweep

        def trial(x):
            if x == {N // 2}:
                pathlib.Path(sys.argv[2]).touch()
                time.sleep(60)
            return x

        sweep(trial, {{"x": list(range({N}))}}, dir=sys.argv[1], settings={QUICK!r})
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "store"), str(marker)],
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert time.monotonic() < deadline and child.poll() is None, "no trial started"
            time.sleep(0.02)
        os.killpg(child.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        stderr = child.communicate(timeout=60)[1].decode()
    finally:
        if child.poll() is None:
            child.kill()
    assert "KeyboardInterrupt" in stderr
    assert "_spool_helper" not in stderr  # the helper ignores Ctrl-C and finishes its work
    dirs = _run_dirs(tmp_path / "store")
    statuses = sorted(_record(d)["status"] for d in dirs)
    assert statuses == ["finished"] * (N // 2) + ["killed"]


def test_a_forked_child_leaves_the_parents_parked_helper_alone(tmp_path: Path) -> None:
    sweep(lambda x: x, {"x": list(range(N))}, dir=tmp_path, settings=QUICK)
    parked = _spool._parked[os.fspath(tmp_path / "runs")][0]
    pid = os.fork()
    if pid == 0:  # the child sweeps the same store: it must start a helper of its own
        try:
            sweep(lambda x: x, {"x": list(range(N))}, dir=tmp_path, settings=QUICK)
            _spool._close_parked()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert parked.usable()  # still this process's, still alive
    sweep(lambda x: x, {"x": list(range(N))}, dir=tmp_path, settings=QUICK)
    dirs = _run_dirs(tmp_path)
    assert len(dirs) == 3 * N
    assert {_record(d)["status"] for d in dirs} == {"finished"}


def test_an_interrupted_send_never_lets_the_helper_misread_the_pipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    faults: list[str] = []
    spool = Spool(runs, tmp_path / "trash", new_id)
    path = runs / "r1"
    path.mkdir()
    real_write = os.write

    def half_then_interrupt(fd: int, data: Any) -> int:
        if fd == spool._out:  # half a frame reaches the helper, then Ctrl-C
            monkeypatch.setattr(os, "write", real_write)
            real_write(fd, bytes(data)[: len(data) // 2])
            raise KeyboardInterrupt
        return real_write(fd, data)

    record = b'{"status": "finished"}' + b" " * 5000
    spool.write(path / "run.json", record, lambda what, exc: faults.append(what))
    monkeypatch.setattr(os, "write", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        spool.flush()
    assert spool._proc is not None and spool._proc.wait(10) != 0  # stopped mid-frame
    assert (path / "run.json").read_bytes() == record  # redone in this process
    spool.write(path / "more.json", b"{}", lambda what, exc: faults.append(what))
    spool.close()
    assert (path / "more.json").read_bytes() == b"{}"
    assert faults == []
    # nothing but what was asked: no file made from a misread frame
    assert sorted(p.name for p in path.iterdir()) == ["more.json", "run.json"]
    assert sorted(p.name for p in runs.iterdir()) == ["r1"]


def test_sweeps_of_two_processes_share_one_store(tmp_path: Path) -> None:
    # Each process has its own helper; neither removes what the other made or wrote.
    script = textwrap.dedent(
        f"""
        import sys
        from runlab.sweep import sweep

        sweep(lambda x: x, {{"x": list(range({N * 3}))}}, dir=sys.argv[1], name=sys.argv[2],
              settings={QUICK!r})
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path), name]) for name in ("a", "b")
    ]
    assert [p.wait(120) for p in procs] == [0, 0]
    dirs = _run_dirs(tmp_path)
    records = [_record(d) for d in dirs]
    assert sorted(r["group"] for r in records) == ["a"] * (N * 3) + ["b"] * (N * 3)
    assert {r["status"] for r in records} == {"finished"}
