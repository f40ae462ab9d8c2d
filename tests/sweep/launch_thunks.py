"""Thunks for the launch tests, importable by the child processes (they get our sys.path)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import runlab

COUNTER = 0


def bump(seed: int, logger_kwargs: dict[str, str], **kwargs: Any) -> None:
    """Mutate a module global; a fresh process per variant always sees it at 1."""
    global COUNTER
    COUNTER += 1
    with runlab.init(project="launch") as run:
        run.log({"counter": COUNTER, "seed": seed})


def train(seed: int, logger_kwargs: dict[str, str], lr: float = 0.0, **kwargs: Any) -> None:
    """A user script: its own init() joins the variant's run."""
    run = runlab.init(project="launch", config={"from_script": True})
    print(f"training with lr={lr} into {logger_kwargs['output_dir']}")
    run.log({"loss": lr * 10, "pid": os.getpid()})
    run.finish()


def fail_on(seed: int, logger_kwargs: dict[str, str], x: int = 0, **kwargs: Any) -> None:
    """Fails for x == 2, logs x otherwise."""
    runlab.log({"x": x})
    if x == 2:
        raise ValueError(f"boom at x={x}")


def rendezvous(seed: int, logger_kwargs: dict[str, str], meet: str, **kwargs: Any) -> None:
    """Wait (bounded) until both variants are running at once."""
    folder = Path(meet)
    (folder / f"here-{seed}").touch()
    deadline = time.monotonic() + 30
    while len(list(folder.glob("here-*"))) < 2:
        if time.monotonic() > deadline:
            raise TimeoutError("the other variant never ran at the same time")
        time.sleep(0.02)
    runlab.log({"met": 1})


def algo_a(seed: int, logger_kwargs: dict[str, str], **kwargs: Any) -> None:
    runlab.log({"algo": 1})


def algo_b(seed: int, logger_kwargs: dict[str, str], **kwargs: Any) -> None:
    runlab.log({"algo": 2})


def noop(seed: int, logger_kwargs: dict[str, str], **kwargs: Any) -> None:
    """Does nothing: measures the launch overhead."""


def die_on_seed_one(seed: int, logger_kwargs: dict[str, str], **kwargs: Any) -> None:
    """Variant 1 dies by SIGKILL mid-run: no exception, no exit code of its own."""
    import os
    import signal

    with runlab.init(project="launch") as run:
        run.log({"seed": seed})
        if seed == 1:
            os.kill(os.getpid(), signal.SIGKILL)


def note_rank(seed: int, logger_kwargs: dict[str, str], out: str = "", **kwargs: Any) -> None:
    """Every MPI rank leaves a file; ranks log to the variant run only through rank 0's init."""
    import os

    rank = os.environ.get("OMPI_COMM_WORLD_RANK", "?")
    with open(os.path.join(out, f"rank-{rank}"), "w") as f:
        f.write(os.environ.get("OMP_NUM_THREADS", ""))
