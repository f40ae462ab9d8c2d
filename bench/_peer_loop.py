"""The figure-1 loop against one peer tracker, run with that peer's own interpreter.

``python _peer_loop.py PEER ROWS_JSON CALLS REPEATS WORKDIR OUT_JSON``

Standard library only (the peer's virtualenv has nothing of runlab's). Per repeat, a fresh run
of the peer logs ``CALLS`` payloads of five floats, one call per step, and is then closed; the
floor of ``bench/_measures.py`` is timed in the same process for a comparable ratio.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Logger = tuple[Callable[[dict[str, float], int], Any], Callable[[], Any]]


def _wandb(work: Path, rep: int) -> Logger:
    import wandb

    run = wandb.init(project="bench", name=f"bench-{rep}", dir=str(work), mode="offline")
    return (lambda d, step: run.log(d)), run.finish


def _mlflow(work: Path, rep: int) -> Logger:
    import mlflow

    mlflow.set_tracking_uri((work / "mlruns").as_uri())
    mlflow.start_run(run_name=f"bench-{rep}")
    return (lambda d, step: mlflow.log_metrics(d, step=step)), mlflow.end_run


def _trackio(work: Path, rep: int) -> Logger:
    import trackio

    trackio.init(project="bench", name=f"bench-{rep}")
    return (lambda d, step: trackio.log(d)), trackio.finish


def _tensorboardx(work: Path, rep: int) -> Logger:
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(str(work / f"tb-{rep}"))
    add = writer.add_scalar

    def log(d: dict[str, float], step: int) -> None:
        for key, value in d.items():
            add(key, value, step)

    return log, writer.close


PEERS: dict[str, Callable[[Path, int], Logger]] = {
    "wandb": _wandb,
    "mlflow": _mlflow,
    "trackio": _trackio,
    "tensorboardX": _tensorboardx,
}
MODULES = {
    "wandb": "wandb",
    "mlflow": "mlflow",
    "trackio": "trackio",
    "tensorboardX": "tensorboardX",
}


def _floor(rows: list[dict[str, float]], n: int) -> float:
    buf: list[tuple[int, float, dict[str, float]]] = []
    append, now, mask = buf.append, time.time, len(rows) - 1
    t0 = time.perf_counter()
    for step in range(n):
        append((step, now(), dict(rows[step & mask])))
    return (time.perf_counter() - t0) / n


def main(argv: list[str]) -> None:
    peer, rows_path, calls, repeats, workdir, out = argv
    n, reps, work = int(calls), int(repeats), Path(workdir)
    rows = json.loads(Path(rows_path).read_text())
    os.environ.update(WANDB_SILENT="true", WANDB_MODE="offline", HF_HOME=str(work / "hf"))
    os.environ.update(TRACKIO_DIR=str(work / "trackio"))
    t0 = time.perf_counter()
    __import__(MODULES[peer])
    import_s = time.perf_counter() - t0
    per_call: list[float] = []
    floors: list[float] = []
    closes: list[float] = []
    mask = len(rows) - 1
    for rep in range(reps):
        floors.append(_floor(rows, n))
        log, close = PEERS[peer](work, rep)
        t0 = time.perf_counter()
        for step in range(n):
            log(rows[step & mask], step)
        per_call.append((time.perf_counter() - t0) / n)
        t0 = time.perf_counter()
        close()
        closes.append(time.perf_counter() - t0)
    version = getattr(sys.modules[MODULES[peer]], "__version__", "?")
    result = {
        "peer": peer,
        "version": version,
        "calls": n,
        "repeats": reps,
        "log_s": statistics.median(per_call),
        "floor_s": statistics.median(floors),
        "close_s": statistics.median(closes),
        "import_s": import_s,
    }
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
