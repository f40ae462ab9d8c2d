"""A preempted job resumes its run with no gap and no duplicate (real processes, real signals).

Slurm preemption sends SIGTERM and later requeues the job with the same environment: the first
child logs until it is signalled, a second child started with the same id and
``resume="allow"`` (here through ``RUNLAB_RUN_ID`` / ``RUNLAB_RESUME``, as a requeued job would)
logs on to the end. The history read back must be exactly steps 0..N-1 with the values logged.
After a SIGKILL the resumed run keeps every step that reached the log and goes on after it.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import runlab
from runlab.storage._reader import read_history

N = 600

# argv: store, mark file, steps, stop ("never": log until signalled; "end": finish at steps)
SCRIPT = """
import time
import runlab

store, marks, steps, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
settings = {"flush_interval": 0.02, "heartbeat_interval": 0.2}
run = runlab.init(project="e2e", dir=store, settings=settings)
first = run.step
for i in range(first, steps):
    run.log({"loss": 1.0 / (i + 1), "i": i})
    mark(marks, i)
    time.sleep(0.002)
while stop == "never":
    time.sleep(0.01)
run.finish()
print("first", first)
"""


def _env(children: Any, **extra: str) -> dict[str, str]:
    env: dict[str, str] = children.env(RUNLAB_RUN_ID="job42", RUNLAB_RESUME="allow", **extra)
    return env


def _check_exact(run_dir: Path) -> None:
    frame = read_history(run_dir)
    assert frame["step"].to_list() == list(range(N))
    assert frame["i"].to_list() == list(range(N))
    assert frame["loss"].to_list() == [1.0 / (i + 1) for i in range(N)]


def _interrupt(children: Any, sig: signal.Signals, after: int) -> tuple[Path, int]:
    marks = children.tmp_path / "marks"
    args = (str(children.store), str(marks), str(N), "never")
    proc = children.start(SCRIPT, *args, env=_env(children))
    children.wait_until(
        lambda: (children.read_mark(marks) or 0) >= after, 30, f"step {after} logged"
    )
    proc.send_signal(sig)
    children.communicate(proc, 30)
    return children.store / "runs" / "job42", proc.returncode


def _finish(children: Any) -> int:
    marks = children.tmp_path / "marks2"
    args = (str(children.store), str(marks), str(N), "end")
    done = children.run(SCRIPT, *args, env=_env(children))
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split("first")[1].split()[0])


def test_sigterm_then_requeue_resumes_without_gap_or_duplicate(children: Any) -> None:
    run_dir, code = _interrupt(children, signal.SIGTERM, after=150)
    assert code == -signal.SIGTERM
    data = children.read_run_json(run_dir)
    assert data["status"] == "killed"
    logged = int(read_history(run_dir)["step"].max())
    assert logged >= 150
    first = _finish(children)
    assert first == logged + 1  # SIGTERM loses nothing: the next step follows the last one
    _check_exact(run_dir)
    data = children.read_run_json(run_dir)
    assert data["status"] == "finished"
    assert [r["step"] for r in data["resumed"]] == [first]
    assert data["summary"]["i"] == N - 1


def test_sigkill_then_resume_keeps_what_was_written(children: Any) -> None:
    run_dir, code = _interrupt(children, signal.SIGKILL, after=150)
    assert code == -signal.SIGKILL
    assert children.read_run_json(run_dir)["status"] == "running"  # its process is gone
    api = runlab.Api(children.store)
    children.wait_until(
        lambda: api.run("job42").status is runlab.RunStatus.CRASHED, 10, "the run reads crashed"
    )
    durable = read_history(run_dir)["step"].to_list()
    assert durable == list(range(len(durable)))  # a prefix: only the tail can be lost
    first = _finish(children)
    assert first == len(durable)
    _check_exact(run_dir)
    view = api.run("job42")
    assert view.status is runlab.RunStatus.FINISHED
    assert view.history(["i"])["i"].to_list() == list(range(N))
    api.close()
