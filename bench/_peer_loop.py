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

MAX_REPEAT_S = 20.0
Logger = tuple[Callable[[dict[str, float], int], Any], Callable[[], Any]]


def _wandb(work: Path, rep: int) -> Logger:
    import wandb

    run = wandb.init(project="bench", name=f"bench-{rep}", dir=str(work), mode="offline")
    return (lambda d, step: run.log(d)), run.finish


def _mlflow(work: Path, rep: int, uri: str | None = None) -> Logger:
    import mlflow

    # The file store is in maintenance mode in MLflow 3 but still what a local user gets first.
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    mlflow.set_tracking_uri(uri or (work / "mlruns").as_uri())
    mlflow.start_run(run_name=f"bench-{rep}")
    return (lambda d, step: mlflow.log_metrics(d, step=step)), mlflow.end_run


def _mlflow_sqlite(work: Path, rep: int) -> Logger:
    return _mlflow(work, rep, f"sqlite:///{work / 'mlflow.db'}")


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
    "mlflow-sqlite": _mlflow_sqlite,
    "trackio": _trackio,
    "tensorboardX": _tensorboardx,
}


def _module(peer: str) -> str:
    return peer.split("-")[0]  # "mlflow-sqlite" is mlflow with another store


def _floor(rows: list[dict[str, float]], n: int) -> float:
    buf: list[tuple[int, float, dict[str, float]]] = []
    append, now, mask = buf.append, time.time, len(rows) - 1
    t0 = time.perf_counter()
    for step in range(n):
        append((step, now(), dict(rows[step & mask])))
    return (time.perf_counter() - t0) / n


def _timed_loop(log: Callable[..., Any], rows: list[dict[str, float]], n: int) -> tuple[float, int]:
    """Seconds for up to ``n`` calls, and the calls made: a repeat stops after MAX_REPEAT_S.

    The clock is checked between chunks of 256 calls, so a slow peer (MLflow on SQLite takes
    milliseconds a call) does not hold the bench for minutes.
    """
    mask = len(rows) - 1
    made = 0
    t0 = time.perf_counter()
    while made < n:
        end = min(made + 256, n)
        for step in range(made, end):
            log(rows[step & mask], step)
        made = end
        if time.perf_counter() - t0 > MAX_REPEAT_S:
            break
    return time.perf_counter() - t0, made


def main(argv: list[str]) -> None:
    peer, rows_path, calls, repeats, workdir, out = argv
    n, reps, work = int(calls), int(repeats), Path(workdir)
    rows = json.loads(Path(rows_path).read_text())
    os.environ.update(WANDB_SILENT="true", WANDB_MODE="offline", HF_HOME=str(work / "hf"))
    os.environ.update(TRACKIO_DIR=str(work / "trackio"))
    t0 = time.perf_counter()
    __import__(_module(peer))
    import_s = time.perf_counter() - t0
    per_call: list[float] = []
    floors: list[float] = []
    closes: list[float] = []
    done: list[int] = []
    for rep in range(reps):
        floors.append(_floor(rows, n))
        log, close = PEERS[peer](work, rep)
        seconds, calls_made = _timed_loop(log, rows, n)
        per_call.append(seconds / calls_made)
        done.append(calls_made)
        t0 = time.perf_counter()
        close()
        closes.append(time.perf_counter() - t0)
    version = getattr(sys.modules[_module(peer)], "__version__", "?")
    result = {
        "peer": peer,
        "version": version,
        "calls": n,
        "calls_made": done,
        "repeats": reps,
        "log_s": statistics.median(per_call),
        "floor_s": statistics.median(floors),
        "close_s": statistics.median(closes),
        "import_s": import_s,
    }
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
