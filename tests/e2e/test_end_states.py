"""How a run ends in a real process: the stored state says what happened, nothing logged is lost.

Each case runs a small training script in a child process, with the run used as a ``with``
block and without one (then the process's exit hooks end it), and checks ``run.json``, the
read API, the process's exit status and that every logged row is read back.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any, NamedTuple

import pytest

import runlab
from runlab.storage._reader import read_history

STEPS = 1000

# argv: store, "with" | "plain", ending. The ending runs after STEPS log calls.
ENDING_SCRIPT = """
import runlab

store, block, ending = sys.argv[1:4]


def end(run):
    if ending == "exception":
        raise ValueError("boom in the training loop")
    if ending == "keyboard_interrupt":
        raise KeyboardInterrupt
    if ending == "sys_exit_3":
        sys.exit(3)
    if ending == "sys_exit_0":
        sys.exit(0)
    if ending == "finish_canceled":
        run.finish(status="canceled")
    if ending == "finish_errored":
        run.finish(status="ERRORED", err_msg="gave up")


def train(run):
    for i in range(STEPS):
        run.log({"loss": 1.0 / (i + 1), "i": i})
    end(run)


if block == "with":
    with runlab.init(project="e2e", id="r1", dir=store) as run:
        train(run)
else:
    train(runlab.init(project="e2e", id="r1", dir=store))
""".replace("STEPS", str(STEPS))

# (ending, stored status, exit code of the process, run.json's exit_code)
ENDINGS = [
    ("normal", "finished", 0, None),
    ("exception", "failed", 1, None),
    ("keyboard_interrupt", "killed", None, None),  # exit status: see the xfail test below
    ("sys_exit_3", "failed", 3, 3),
    ("sys_exit_0", "finished", 0, 0),
    ("finish_canceled", "canceled", 0, None),
    ("finish_errored", "failed", 0, None),
]


class Ended(NamedTuple):
    run_dir: Path
    returncode: int
    stdout: str
    stderr: str


def check_history(run_dir: Path, rows: int) -> None:
    """Exactly ``rows`` steps, 0..rows-1, each with the values the script logged."""
    frame = read_history(run_dir)
    assert frame["step"].to_list() == list(range(rows))
    assert frame["i"].to_list() == list(range(rows))
    assert frame["loss"].to_list() == [1.0 / (i + 1) for i in range(rows)]


BLOCKS = ["with", "plain"]


@pytest.fixture(scope="module")
def ended(module_children: Any) -> dict[tuple[str, str], Ended]:
    """Every ending, with and without a with block, each in its own child and store.

    The children run at the same time (they are independent) to keep the suite fast.
    """
    kids = module_children
    procs = {}
    for ending, *_ in ENDINGS:
        for block in BLOCKS:
            store = kids.tmp_path / f"{ending}-{block}"
            procs[ending, block] = (store, kids.start(ENDING_SCRIPT, str(store), block, ending))
    results = {}
    for key, (store, proc) in procs.items():
        out, err = kids.communicate(proc, timeout=60)
        results[key] = Ended(store / "runs" / "r1", proc.returncode, out, err)
    return results


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize(("ending", "status", "returncode", "exit_code"), ENDINGS)
def test_end_state(
    ended: dict[tuple[str, str], Ended],
    module_children: Any,
    block: str,
    ending: str,
    status: str,
    returncode: int | None,
    exit_code: int | None,
) -> None:
    done = ended[ending, block]

    if returncode is None:
        assert done.returncode != 0, done.stderr
    else:
        assert done.returncode == returncode, done.stderr
    run_dir = done.run_dir
    data = module_children.read_run_json(run_dir)
    assert data["status"] == status
    if ending == "exception" and block == "plain":
        # Ended by the atexit hook, which knows the interpreter exits with 1; a with block
        # cannot know whether the exception will be caught further up.
        exit_code = 1
    assert data["exit_code"] == exit_code
    assert data["ended_at"] is not None
    view = runlab.Api(run_dir.parent.parent).run("r1")
    assert view.status.value == status
    assert view.summary["i"] == STEPS - 1
    check_history(run_dir, STEPS)

    if ending == "exception":
        # Stored with the run, and still shown to the user: the exception is not swallowed.
        assert data["err_msg"] == "ValueError: boom in the training loop"
        assert data["traceback"].startswith("Traceback (most recent call last)")
        assert "ValueError: boom in the training loop" in data["traceback"]
        assert "Traceback (most recent call last)" in done.stderr
        assert "ValueError: boom in the training loop" in done.stderr
    elif ending == "keyboard_interrupt":
        assert data["err_msg"] == "KeyboardInterrupt"
        assert "KeyboardInterrupt" in done.stderr
    elif ending == "sys_exit_3":
        assert data["err_msg"] == "exit code 3"
    elif ending == "finish_errored":
        assert data["err_msg"] == "gave up"
    else:
        assert data["err_msg"] is None
        assert done.stderr == ""


@pytest.mark.xfail(
    strict=True,
    reason="known limitation (README): outside a with block, `raise SystemExit(3)` and builtin "
    "`exit(3)` bypass the sys.exit wrapper and CPython does not expose the exit status to "
    "atexit handlers, so the run is recorded as finished",
)
@pytest.mark.parametrize("statement", ["raise SystemExit(3)", "exit(3)"])
def test_raised_system_exit_without_with_block_is_failed(children: Any, statement: str) -> None:
    done = children.run(
        f"""
        import runlab

        run = runlab.init(project="e2e", id="r1", dir=sys.argv[1])
        run.log({{"x": 1.0}})
        {statement}
        """,
        str(children.store),
    )
    assert done.returncode == 3, done.stderr
    data = children.read_run_json(children.store / "runs" / "r1")
    assert (data["status"], data["exit_code"]) == ("failed", 3)


def test_uncaught_keyboard_interrupt_still_exits_by_sigint(children: Any) -> None:
    # Without runlab, `python -c 'raise KeyboardInterrupt'` dies by SIGINT: shells and job
    # runners tell an interrupted job from a failed one by that. Known gap: a Ctrl-C in the
    # first moments of a run, while the background capture thread is still importing, exits
    # with status 1 (CPython forgets the unhandled interrupt when code is exec'd at exit);
    # the run still reads killed. The script waits for the capture and the first system sample.
    done = children.run(
        """
        import time
        import runlab

        run = runlab.init(project="e2e", id="r1", dir=sys.argv[1], settings={"quiet": False})
        run.log({"x": 1.0})
        run._capture.join(10)  # the environment capture thread has finished its imports
        for _ in range(200):  # and so has the system-metrics sampler (its first sample)
            if run._system is None or run._system.samples:
                break
            time.sleep(0.05)
        raise KeyboardInterrupt
        """,
        str(children.store),
    )
    assert children.read_run_json(children.store / "runs" / "r1")["status"] == "killed"
    assert done.returncode == -signal.SIGINT, done.stderr


# argv: store, "with" | "plain", write_through (0/1), side file. Logs until a signal stops it,
# publishing the last step whose log() returned every 50 steps.
BUSY_SCRIPT = """
import time
import runlab

store, block, write_through, side = sys.argv[1:5]
settings = {"write_through": write_through == "1"}


def train(run):
    i = 0
    while True:
        run.log({"loss": 1.0 / (i + 1), "i": i})
        if i % 50 == 0:
            mark(side, i)
            if not settings["write_through"]:
                # Pace the loop so that the log buffer never fills: when log() has to wait
                # for the writer, a SIGTERM can land while it holds one of the writer's
                # locks, and the handler then deadlocks on it (a race, not tested here).
                time.sleep(0.001)
        i += 1


if block == "with":
    with runlab.init(project="e2e", id="r1", dir=store, settings=settings) as run:
        train(run)
else:
    train(runlab.init(project="e2e", id="r1", dir=store, settings=settings))
"""


def interrupt_busy_child(
    children: Any, block: str, signum: int, write_through: bool
) -> tuple[int, str, int]:
    """Start BUSY_SCRIPT, signal it after 1000 steps; its exit status, stderr and last mark."""
    side = children.tmp_path / "last_step"
    proc = children.start(
        BUSY_SCRIPT, str(children.store), block, str(int(write_through)), str(side)
    )
    children.wait_until(
        lambda: (children.read_mark(side) or 0) >= 1000 or proc.poll() is not None,
        timeout=20,
        what="the child to log 1000 steps",
    )
    assert proc.poll() is None, proc.communicate()[1]
    proc.send_signal(signum)
    # Ending the run takes milliseconds; a child still alive after seconds is hung.
    _out, err = children.communicate(proc, timeout=5)
    return proc.returncode, err, children.read_mark(side)


def check_killed(children: Any, signum: int, last: int) -> None:
    run_dir = children.store / "runs" / "r1"
    data = children.read_run_json(run_dir)
    assert data["status"] == "killed"
    expected_msg = "terminated by SIGTERM" if signum == signal.SIGTERM else "KeyboardInterrupt"
    assert data["err_msg"] == expected_msg
    assert runlab.Api(children.store).run("r1").status.value == "killed"
    # Every log() that returned before the signal is read back, and the history has no holes.
    rows = read_history(run_dir).height
    assert rows > last, f"logged through step {last}, read back {rows} rows"
    check_history(run_dir, rows)


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize(
    ("signum", "write_through"),
    [
        pytest.param(signal.SIGINT, False, id="SIGINT"),
        pytest.param(signal.SIGINT, True, id="SIGINT-write_through"),
        pytest.param(signal.SIGTERM, False, id="SIGTERM"),
    ],
)
def test_signal_while_logging(children: Any, block: str, signum: int, write_through: bool) -> None:
    returncode, err, last = interrupt_busy_child(children, block, signum, write_through)

    if signum == signal.SIGTERM:
        # The handler ends the run, then lets SIGTERM end the process as it would have.
        assert returncode == -signal.SIGTERM, err
    else:
        assert returncode != 0, err
        assert "KeyboardInterrupt" in err
    check_killed(children, signum, last)


def test_sigterm_while_logging_write_through(children: Any) -> None:
    returncode, err, last = interrupt_busy_child(children, "plain", signal.SIGTERM, True)

    assert returncode == -signal.SIGTERM, err
    check_killed(children, signal.SIGTERM, last)
