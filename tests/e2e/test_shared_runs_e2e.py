"""One run written by four real processes (``init(id=..., shared=True, label=...)``).

The owner and three ranks start together, in a shuffled order (the owner is sometimes last, so
ranks write into a run that has no ``run.json`` yet). Each logs keys of its own, a key every
process logs at steps of its own, and a key every process logs at the same steps; one rank
fails halfway. The merged history must hold every point exactly once, each process's history
must read back exactly, and the run must end as its owner did.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

import runlab
from runlab import RunStatus
from runlab.storage._layout import RANK_JSON, RANKS_DIR, RUN_JSON

STEPS = 200
FAILS_AT = 100
PROCESSES = 4
FAILING = 2  # the rank that raises halfway

# argv: store, label ("-": none), index, go file, delay. Waits for the go file, then for its
# delay, so that the processes call init() close together, in the order the test chose.
CHILD = (
    """
import time
import runlab

store, label, index, go, delay = sys.argv[1:6]
label = None if label == "-" else label
index, delay = int(index), float(delay)
deadline = time.monotonic() + 30
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.001)
time.sleep(delay)
settings = {"quiet": True, "capture_output": False, "capture_git": False,
            "capture_packages": False, "system_metrics_interval": 0}
run = runlab.init(project="e2e", id="job", dir=store, shared=True, label=label,
                  config={"index": index}, settings=settings)
with run:
    for step in range(STEPS):
        if index == FAILING and step == FAILS_AT:
            raise RuntimeError(f"rank {index} lost its GPU")
        run.log({"sync": index * 1_000_000 + step}, step=4 * step)
        run.log({f"r{index}/loss": index + step / 1000, "shared": index * 1_000_000 + step},
                 step=4 * step + index)
""".replace("STEPS", str(STEPS))
    .replace("FAILS_AT", str(FAILS_AT))
    .replace("FAILING", str(FAILING))
)


def expected(index: int) -> int:
    """How many steps process ``index`` logged."""
    return FAILS_AT if index == FAILING else STEPS


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_four_processes_write_one_run(children: Any, seed: int) -> None:
    rng = random.Random(seed)
    owner_label = "rank-0" if seed == 2 else None
    labels = [owner_label, "rank-1", "rank-2", "rank-3"]
    order = list(range(PROCESSES))
    rng.shuffle(order)
    if seed == 0:  # make sure one repetition starts the owner last
        order.remove(0)
        order.append(0)
    store = children.tmp_path / f"store{seed}"
    go = children.tmp_path / f"go{seed}"
    procs = {}
    for position, index in enumerate(order):
        label = labels[index] or "-"
        delay = str(position * 0.03)
        procs[index] = children.start(CHILD, str(store), label, str(index), str(go), delay)
    go.touch()
    for index, proc in procs.items():
        _out, err = children.communicate(proc, timeout=60)
        if index == FAILING:
            assert proc.returncode != 0 and "lost its GPU" in err, err
        else:
            assert proc.returncode == 0, err

    root = store / "runs" / "job"
    # Only the owner wrote run.json; every other process wrote only its own directory.
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob(RUN_JSON)) == [RUN_JSON]
    ranks = sorted(p.name for p in (root / RANKS_DIR).iterdir())
    assert ranks == ["rank-1", "rank-2", "rank-3"]
    assert all((root / RANKS_DIR / label / RANK_JSON).is_file() for label in ranks)

    api = runlab.Api(store)
    assert [v.id for v in api.runs()] == ["job"]  # the catalog lists exactly one run
    view = api.run("job")
    assert view.status is RunStatus.FINISHED  # the owner's end, despite the failed rank
    assert view.config == {"index": 0}

    states = {r.label: r for r in view.ranks()}
    name = owner_label or "owner"
    assert list(states) == [name, "rank-1", "rank-2", "rank-3"]
    assert states[name].owner and states[name].status is RunStatus.FINISHED
    assert states["rank-2"].status is RunStatus.FAILED
    assert states["rank-2"].err_msg == "RuntimeError: rank 2 lost its GPU"
    assert states["rank-1"].status is RunStatus.FINISHED
    assert states["rank-3"].status is RunStatus.FINISHED
    assert len({states[label].pid for label in states}) == PROCESSES

    merged = view.history()
    for index in range(PROCESSES):
        n = expected(index)
        own = merged.filter(merged[f"r{index}/loss"].is_not_null())
        assert own["step"].to_list() == [4 * s + index for s in range(n)]
        assert own[f"r{index}/loss"].to_list() == [index + s / 1000 for s in range(n)]
        shared = merged.filter((merged["step"] % 4 == index) & merged["shared"].is_not_null())
        assert shared["shared"].to_list() == [index * 1_000_000 + s for s in range(n)]
    total = sum(expected(index) for index in range(PROCESSES))
    assert merged["shared"].drop_nulls().len() == total  # every point exactly once
    # "sync" is logged by every process at the same steps: the owner's points win.
    sync = merged.filter(merged["sync"].is_not_null())
    assert sync["step"].to_list() == [4 * s for s in range(STEPS)]
    assert sync["sync"].to_list() == list(range(STEPS))

    for index, label in enumerate(labels):
        mine = view.history(rank=label or "owner")
        n = expected(index)
        assert sorted(mine.columns) == sorted(
            ["step", "timestamp", "sync", "shared", f"r{index}/loss"]
        )
        assert mine["sync"].drop_nulls().to_list() == [index * 1_000_000 + s for s in range(n)]
        assert mine["shared"].drop_nulls().to_list() == [index * 1_000_000 + s for s in range(n)]
        assert mine.height == (n if index == 0 else 2 * n)  # the owner's two keys share steps
