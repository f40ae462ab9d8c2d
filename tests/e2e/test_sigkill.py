"""SIGKILL (what the OOM killer sends): at most the last flush window is lost; the run reads as
crashed once its heartbeat lapses. With ``write_through`` nothing whose ``log()`` returned is lost.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import runlab
from runlab._status import derive_status
from runlab.storage._reader import read_history, scan

FLUSH_INTERVAL = 0.1
LOSS_WINDOW = 0.2
"""How long before a kill a step must have been logged to be safe (see the test)."""
HEARTBEAT = 0.2

# argv: store, side file, settings as JSON. Logs as fast as it can until killed, publishing the
# last step whose log() returned every `every` steps.
SCRIPT = """
import json
import runlab

store, side, settings, every = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
run = runlab.init(project="e2e", id="r1", dir=store, settings=settings)
i = 0
while True:
    run.log({"x": i * 0.5, "i": i})
    if i % every == 0:
        mark(side, i)
    i += 1
"""


def start(children: Any, every: int, **settings: Any) -> tuple[Any, Path]:
    side = children.tmp_path / "last_step"
    settings = {"flush_interval": FLUSH_INTERVAL, "heartbeat_interval": HEARTBEAT, **settings}
    proc = children.start(SCRIPT, str(children.store), str(side), json.dumps(settings), str(every))
    return proc, side


def wait_for_step(children: Any, proc: Any, side: Path, step: int) -> None:
    children.wait_until(
        lambda: (children.read_mark(side) or 0) >= step or proc.poll() is not None,
        timeout=20,
        what=f"the child to log {step} steps",
    )
    assert proc.poll() is None, proc.communicate()[1]


def kill(proc: Any) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL


def check_prefix(run_dir: Path, through: int) -> int:
    """Steps 0..n-1 with the logged values, n > ``through``; returns n."""
    frame = read_history(run_dir)
    n = frame.height
    assert n > through, f"step {through} was logged before the kill, only {n} rows read back"
    assert frame["step"].to_list() == list(range(n))
    assert frame["i"].to_list() == list(range(n))
    assert frame["x"].to_list() == [i * 0.5 for i in range(n)]
    return n


def test_sigkill_loses_at_most_the_last_flush_window(children: Any) -> None:
    proc, side = start(children, every=100)
    run_dir = children.store / "runs" / "r1"
    # Past start-up (the environment capture competes for the GIL then): the writer is flushing.
    children.wait_until(
        lambda: scan(run_dir).frames >= 2 or proc.poll() is not None,
        timeout=20,
        what="the writer's first flushes",
    )
    wait_for_step(children, proc, side, 5000)
    logged = children.read_mark(side)
    # The writer drains every flush_interval / 2 on a fixed cadence, so a step is written
    # within about one flush interval even while this loop competes for the GIL (0.15 s
    # passed 8/8 on an unloaded 2-core machine); twice the interval leaves room for load.
    time.sleep(LOSS_WINDOW)
    killed_at = time.time()
    kill(proc)

    check_prefix(run_dir, logged)
    report = scan(run_dir)
    # A kill mid-write may tear the last frame; nothing else may be damaged.
    size = (run_dir / "history.rlog").stat().st_size
    assert report.corrupt_ranges in (None, [(report.valid_end, size)])

    # The heartbeat was beating during the run, then lapses: the run reads as crashed.
    data = children.read_run_json(run_dir)
    assert data["status"] == "running"
    assert data["heartbeat_at"] > data["created_at"] + HEARTBEAT
    api = runlab.Api(children.store)
    children.wait_until(
        lambda: api.run("r1").status is runlab.RunStatus.CRASHED,
        timeout=5,
        what="the killed run to read as crashed",
    )
    assert time.time() - killed_at < 3 * HEARTBEAT + 2
    view = api.run("r1")
    assert view.stored_status is runlab.RunStatus.RUNNING
    assert [r.id for r in api.runs(status="crashed")] == ["r1"]
    status = derive_status(data["status"], data["heartbeat_at"], data["heartbeat_interval"])
    assert status is runlab.RunStatus.CRASHED


def test_running_run_is_not_crashed_while_it_beats(children: Any) -> None:
    # The other side of the rule: a live run keeps beating and never reads as crashed. (A
    # slower beat than above: with 0.2 s, a writer starved of CPU on a busy machine can miss
    # three beats in a row.)
    interval = 0.5
    proc, side = start(children, every=100, heartbeat_interval=interval)
    wait_for_step(children, proc, side, 100)
    api = runlab.Api(children.store)
    deadline = time.monotonic() + 4 * interval
    while time.monotonic() < deadline:
        assert api.run("r1").status is runlab.RunStatus.RUNNING
        time.sleep(0.1)
    data = children.read_run_json(children.store / "runs" / "r1")
    assert data["heartbeat_at"] > data["created_at"] + interval
    kill(proc)


def test_sigkill_with_write_through_loses_nothing_that_was_logged(children: Any) -> None:
    proc, side = start(children, every=10, write_through=True)
    wait_for_step(children, proc, side, 1000)
    # No wait: the mark is written after log() returned, and log() wrote to the OS first.
    logged = children.read_mark(side)
    kill(proc)

    check_prefix(children.store / "runs" / "r1", logged)
