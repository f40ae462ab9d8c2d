"""A preempted multi-process job resumes its shared run (real processes, real signals).

An owner and two ranks write one run (``shared=True``), each logging its own key and a key they
all log, through the environment a requeued Slurm job has (``RUNLAB_RUN_ID``,
``RUNLAB_RESUME=allow``). All three are signalled mid-way (SIGKILL, or SIGTERM as a preemption
sends), each at its own step. The job is then relaunched with the same id and labels, the
processes starting in a shuffled order: each must go on after its own last durable step, so
that every process's history and the merged one hold steps 0..N-1 exactly once, and the run
reads ``finished`` when its owner has finished.
"""

from __future__ import annotations

import random
import signal
from typing import Any

import pytest

import runlab
from runlab import RunStatus
from runlab.storage._layout import RANKS_DIR
from runlab.storage._ranks import process_history

N = 300
KILL_AFTER = 80
LABELS = ("-", "rank-1", "rank-2")  # "-": the owner (no label)

# argv: store, label, index, mark file, stop ("never": log until signalled; "end": finish),
# go file, delay. Waits for the go file and its delay, so that the test picks the start order.
SCRIPT = """
import time
import runlab

store, label, index, marks, stop, go, delay = sys.argv[1:8]
label = None if label == "-" else label
index, delay = int(index), float(delay)
deadline = time.monotonic() + 30
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.001)
time.sleep(delay)
settings = {"flush_interval": 0.02, "heartbeat_interval": 0.2, "capture_git": False,
            "capture_packages": False, "system_metrics_interval": 0}
run = runlab.init(project="e2e", dir=store, shared=True, label=label, settings=settings)
name = label or "owner"
first = run.step
for i in range(first, N_STEPS):
    run.log({"loss": index * 1000 + i, name + "/i": i})
    mark(marks, i)
    time.sleep(0.002)
while stop == "never":
    time.sleep(0.01)
run.finish()
print("first", first)
""".replace("N_STEPS", str(N))


def _launch(children: Any, attempt: str, stop: str, order: list[int]) -> dict[int, Any]:
    """Start the three processes in ``order`` (indexes into :data:`LABELS`), close together."""
    env = children.env(RUNLAB_RUN_ID="job", RUNLAB_RESUME="allow")
    go = children.tmp_path / f"go-{attempt}"
    procs = {}
    for position, index in enumerate(order):
        marks = children.tmp_path / f"marks-{attempt}-{index}"
        args = (str(children.store), LABELS[index], str(index), str(marks), stop, str(go))
        procs[index] = children.start(SCRIPT, *args, str(position * 0.05), env=env)
    go.touch()
    return procs


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_a_preempted_shared_run_resumes_every_process(children: Any, sig: signal.Signals) -> None:
    procs = _launch(children, "first", "never", [0, 1, 2])

    def logged(index: int) -> int:
        return children.read_mark(children.tmp_path / f"marks-first-{index}") or 0

    children.wait_until(
        lambda: all(logged(i) >= KILL_AFTER for i in procs), 30, f"step {KILL_AFTER} everywhere"
    )
    for proc in procs.values():
        proc.send_signal(sig)
    for proc in procs.values():
        _out, err = children.communicate(proc, 30)
        assert proc.returncode == -sig, err

    root = children.store / "runs" / "job"
    names = [label if label != "-" else "owner" for label in LABELS]
    durable = {name: process_history(root, name)["step"].to_list() for name in names}
    for name, steps in durable.items():
        assert steps == list(range(len(steps))), name  # a prefix: only a tail can be lost
        assert len(steps) >= (KILL_AFTER if sig is signal.SIGTERM else 1), name
    owner_state = children.read_run_json(root)["status"]
    assert owner_state == ("running" if sig is signal.SIGKILL else "killed")

    order = [0, 1, 2]
    random.Random(sig.value).shuffle(order)
    if sig is signal.SIGKILL:  # once with the owner last: ranks resume into a dead run
        order.remove(0)
        order.append(0)
    procs = _launch(children, "again", "end", order)
    for index, proc in procs.items():
        out, err = children.communicate(proc, 30)
        assert proc.returncode == 0, err
        first = int(out.split("first")[1].split()[0])
        assert first == len(durable[names[index]]), names[index]  # its own next step

    view = runlab.Api(children.store).run("job")
    assert view.status is RunStatus.FINISHED
    states = {r.label: r for r in view.ranks()}
    assert list(states) == names
    assert all(s.status is RunStatus.FINISHED for s in states.values())
    for index, name in enumerate(names):
        mine = view.history(rank=name)
        assert mine["step"].to_list() == list(range(N)), name
        assert mine[f"{name}/i"].to_list() == list(range(N)), name
        assert mine["loss"].to_list() == [index * 1000 + i for i in range(N)], name
    merged = view.history()
    assert merged["step"].to_list() == list(range(N))
    assert merged["loss"].to_list() == list(range(N))  # the owner's points win
    for name in names:
        assert merged[f"{name}/i"].to_list() == list(range(N)), name
    data = children.read_run_json(root)
    assert [r["step"] for r in data["resumed"]] == [len(durable["owner"])]
    assert data["shared"] == {"label": None, "owner": True}
    assert sorted(p.name for p in (root / RANKS_DIR).iterdir()) == ["rank-1", "rank-2"]
