"""A small, realistic run store recorded with the real SDK (``runlab demo``, the UI's tests).

Project ``demo`` gets:

- a learning-rate x optimizer grid of training runs (group ``lr-sweep``): noisy train/val loss
  and accuracy curves, a cosine learning-rate schedule, summaries, tags, captured output, a
  saved plot and predictions file, and the training code as an artifact;
- ``grasp-eval``: a scenario run (friction, object mass and shape drawn per episode, seed 7) with
  200 episodes whose success depends on the drawn parameters;
- ``diverging``: a run that fails (an exception inside ``with runlab.init(...)``);
- ``oom-killed``: a run in a child process that is SIGKILLed mid-training, so that it reads as
  ``crashed`` once its heartbeat has lapsed.

It takes about two seconds (the crashed run must miss three 0.2 s heartbeats).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import runlab
from runlab._status import CRASH_AFTER_BEATS, derive_status
from runlab.storage._layout import FILES_DIR, OUTPUT_LOG, RUNS_DIR

PROJECT = "demo"
LEARNING_RATES = (1e-3, 3e-3, 1e-2)
OPTIMIZERS = (("sgd", 0.9), ("adam", 0.0))
STEPS = 400
VAL_EVERY = 25
EPISODES = 200
SCENARIO = {
    "friction": "${uniform(0.2, 1.2)}",
    "object": {
        "mass": "${uniform(0.1, 2.0)}",
        "shape": "${categorical(['cube', 'sphere', 'mug'])}",
    },
}
SCENARIO_SEED = 7
CRASH_HEARTBEAT = 0.2
"""Heartbeat of the crashed run: it reads as crashed ``CRASH_AFTER_BEATS`` beats after its kill."""
_CRASH_STEPS = 150

# Git state would be the caller's working directory, which has nothing to do with these runs.
_IN_PROCESS: dict[str, Any] = {"quiet": True, "capture_git": False}
# The grid's runs take a few tenths of a second, as if each epoch computed something, and
# sample system metrics often enough for the System tab to have curves.
_TRAINING = {**_IN_PROCESS, "system_metrics_interval": 0.05}
EPOCH_SECONDS = 0.02

# The crashed run: trains, then hangs until the parent kills it. argv: store, side file (gets
# the run id once the training steps are logged).
_CRASH_SCRIPT = """
import math, os, random, sys, time
import runlab

store, side = sys.argv[1], sys.argv[2]
settings = {"heartbeat_interval": %(heartbeat)r, "system_metrics_interval": 0.1,
            "quiet": True, "capture_git": False}
run = runlab.init(project="demo", name="oom-killed", dir=store, settings=settings,
                  config={"lr": 3e-3, "optimizer": {"name": "adam", "momentum": 0.0},
                          "batch_size": 512, "model": {"width": 1024, "depth": 8}},
                  tags=["big-batch"], notes="batch 512 does not fit: killed by the OOM killer")
print("loading dataset (50000 images)", flush=True)
rng = random.Random(3)
for step in range(%(steps)d):
    loss = 2.3 * math.exp(-step / 60) + 0.3 + rng.gauss(0, 0.03)
    run.log({"train/loss": loss, "gpu/memory_gb": 20 + step * 0.12})
    if step %% 50 == 0:
        print(f"step {step}: loss={loss:.3f}", flush=True)
print("allocating activations for batch 512 ...", flush=True)
with open(side + ".tmp", "w") as f:
    f.write(run.id)
os.replace(side + ".tmp", side)
time.sleep(60)
"""


def record_demo(dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Record the demo runs into the store at ``dir`` (created if needed).

    Returns:
        ``{"dir", "project", "runs": {name: id}, "status": {name: status}, "grid": [ids],
        "scenario": id, "failed": id, "crashed": id, "episodes": int}``.
    """
    root = Path(dir)
    root.mkdir(parents=True, exist_ok=True)
    # The crashed run's child starts first: it trains while this process records the rest.
    with tempfile.TemporaryDirectory(prefix="runlab-demo-") as scratch:
        child, side = _start_crashing_child(root, Path(scratch))
        try:
            runs: dict[str, str] = {}
            grid = [
                _train(root, lr, opt, momentum, Path(scratch)) for lr, (opt, momentum) in _grid()
            ]
            runs.update(grid)
            runs["grasp-eval"] = _evaluate(root)
            runs["diverging"] = _diverge(root)
            runs["oom-killed"] = _kill_when_ready(child, root, side)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
    _wait_crashed(root, runs["oom-killed"])
    api = runlab.Api(dir=str(root))
    status = {name: str(api.run(run_id).status) for name, run_id in runs.items()}
    return {
        "dir": str(root),
        "project": PROJECT,
        "runs": runs,
        "status": status,
        "grid": [run_id for _, run_id in grid],
        "scenario": runs["grasp-eval"],
        "failed": runs["diverging"],
        "crashed": runs["oom-killed"],
        "episodes": EPISODES,
    }


def _grid() -> list[tuple[float, tuple[str, float]]]:
    return [(lr, opt) for lr in LEARNING_RATES for opt in OPTIMIZERS]


def _train(root: Path, lr: float, opt: str, momentum: float, scratch: Path) -> tuple[str, str]:
    """One training run of the grid: curves whose speed and floor depend on lr and optimizer."""
    name = f"{opt}-lr{lr:g}"
    rng = random.Random(f"{name}")
    config = {
        "lr": lr,
        "optimizer": {"name": opt, "momentum": momentum},
        "batch_size": 64,
        "epochs": STEPS // VAL_EVERY,
        "model": {"width": 256, "depth": 4, "dropout": 0.1},
    }
    speed = lr * (3.0 if opt == "adam" else 1.5) * 400
    floor = 0.08 + abs(math.log10(lr) + 2.5) * 0.1 + rng.random() * 0.03
    terminal = io.StringIO()  # the run's output.log gets the lines, the terminal does not
    with (
        contextlib.redirect_stdout(terminal),
        runlab.init(
            project=PROJECT,
            name=name,
            config=config,
            tags=["grid", opt],
            group="lr-sweep",
            job_type="train",
            dir=root,
            settings=_TRAINING,
        ) as run,
    ):
        run.define_metric("val/loss", summary="min", goal="minimize")
        run.define_metric("val/accuracy", summary="max", goal="maximize")
        print(f"training {name}: {config['epochs']} epochs of {VAL_EVERY} steps")
        for step in range(STEPS):
            progress = 1 - math.exp(-speed * step / STEPS)
            loss = (floor + 2.2 * (1 - progress)) * (1 + rng.gauss(0, 0.04))
            run.log(
                {
                    "train/loss": loss,
                    "train/accuracy": min(1.0, 0.1 + 0.85 * progress + rng.gauss(0, 0.01)),
                    "lr": lr * 0.5 * (1 + math.cos(math.pi * step / STEPS)),
                }
            )
            if (step + 1) % VAL_EVERY == 0:
                val = loss * 1.08 + rng.gauss(0, 0.01)
                acc = min(1.0, 0.1 + 0.8 * progress)
                run.log({"val/loss": val, "val/accuracy": acc}, step=step)
                print(f"epoch {(step + 1) // VAL_EVERY}: val/loss={val:.4f} val/acc={acc:.3f}")
                time.sleep(EPOCH_SECONDS)
        run.summary["params_m"] = 1.3
        run.log_code("train.py", _TRAIN_CODE)
        plot = scratch / f"{name}-curve.png"
        plot.write_bytes(_png(rng))
        run.save(plot, "loss_curve.png")
        preds = scratch / f"{name}-predictions.csv"
        preds.write_text(
            "image,label,predicted\n"
            + "".join(f"img_{i:04d}.png,{i % 10},{(i + i // 7) % 10}\n" for i in range(20)),
            encoding="utf-8",
        )
        run.save(preds, "predictions.csv")
        print("done")
    return name, run.id


def _evaluate(root: Path) -> str:
    """A policy evaluated on 200 scenario episodes: grasps slip on low friction, heavy objects
    and spheres."""
    with runlab.init(
        project=PROJECT,
        name="grasp-eval",
        config={"policy": "diffusion-v2", "checkpoint": "step_50000"},
        tags=["eval", "scenario"],
        job_type="eval",
        scenario=SCENARIO,
        seed=SCENARIO_SEED,
        dir=root,
        settings=_IN_PROCESS,
    ) as run:
        successes = 0
        for index in range(EPISODES):
            with run.create_episode() as episode:
                friction = float(episode.friction)
                mass = float(episode.object.mass)
                shape = str(episode.object.shape)
                rng = random.Random(SCENARIO_SEED * 100_003 + index)
                margin = 3.0 * (friction - 0.45) - 1.2 * (mass - 0.8)
                margin -= 0.8 if shape == "sphere" else 0.0
                succeeded = rng.random() < 1 / (1 + math.exp(-margin))
                distance = 0.3
                for step in range(5):
                    distance *= 0.5 if succeeded else 0.8
                    episode.log({"distance": distance, "reward": -distance}, step=step)
                if not succeeded:
                    episode.fail("object slipped" if friction < 0.5 else "grasp failed")
            successes += succeeded
            if (index + 1) % 10 == 0:
                run.log({"eval/success_rate": successes / (index + 1)})
        run.summary["success_rate"] = successes / EPISODES
        run.log_code("policy.py", "def act(obs):\n    return model(obs)\n")
    return run.id


def _diverge(root: Path) -> str:
    """A run whose loss explodes until the training code raises."""
    run_id = ""
    try:
        with runlab.init(
            project=PROJECT,
            name="diverging",
            config={"lr": 0.1, "optimizer": {"name": "sgd", "momentum": 0.9}, "batch_size": 64},
            tags=["grid", "sgd"],
            group="lr-sweep",
            job_type="train",
            dir=root,
            settings=_IN_PROCESS,
        ) as run:
            run_id = run.id
            for step in range(60):
                loss = 2.3 * 1.25**step
                run.log({"train/loss": loss, "lr": 0.1})
                if loss > 1e5:
                    raise FloatingPointError(f"loss diverged at step {step}: {loss:.3g}")
    except FloatingPointError:
        pass
    return run_id


def _start_crashing_child(root: Path, scratch: Path) -> tuple[subprocess.Popen[bytes], Path]:
    side = scratch / "crash-run-id"
    script = scratch / "crash.py"
    script.write_text(
        _CRASH_SCRIPT % {"heartbeat": CRASH_HEARTBEAT, "steps": _CRASH_STEPS}, encoding="utf-8"
    )
    env = dict(os.environ)
    # The child imports this very runlab, installed or not.
    source = str(Path(runlab.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    env.pop("RUNLAB_DIR", None)
    child = subprocess.Popen(
        [sys.executable, str(script), str(root), str(side)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return child, side


def _kill_when_ready(
    child: subprocess.Popen[bytes], root: Path, side: Path, timeout: float = 60
) -> str:
    """SIGKILL the child (what the OOM killer would do) once what it logged is on disk."""
    deadline = time.monotonic() + timeout

    def wait(ready: Callable[[], object], what: str) -> None:
        while not ready():
            if child.poll() is not None:
                err = child.stderr.read().decode(errors="replace") if child.stderr else ""
                raise RuntimeError(f"the demo's crashing child exited early:\n{err}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the demo's crashing child did not {what} within {timeout} s")
            time.sleep(0.02)

    wait(side.is_file, "start")
    run_id = side.read_text(encoding="utf-8")
    run_dir = root / RUNS_DIR / run_id
    wait(lambda: _logged(run_dir) >= _CRASH_STEPS, "write its history")
    if hasattr(signal, "SIGKILL"):
        child.send_signal(signal.SIGKILL)
    else:  # pragma: no cover - Windows: TerminateProcess is as abrupt
        child.kill()
    child.wait()
    return run_id


def _logged(run_dir: Path) -> int:
    """Steps of the crashed run's history on disk, and 0 until its output's last line is too."""
    from runlab.storage._reader import read_history

    try:
        output = (run_dir / FILES_DIR / OUTPUT_LOG).read_text(encoding="utf-8")
    except FileNotFoundError:
        return 0
    if "allocating activations" not in output:
        return 0
    frame = read_history(run_dir)
    return 0 if "train/loss" not in frame.columns else frame["train/loss"].drop_nulls().len()


def _wait_crashed(root: Path, run_id: str) -> None:
    """Wait until the killed run's heartbeat has lapsed (it then reads as crashed)."""
    state = json.loads((root / "runs" / run_id / "run.json").read_text(encoding="utf-8"))
    beat = float(state.get("heartbeat_at") or state["created_at"])
    interval = float(state.get("heartbeat_interval") or CRASH_HEARTBEAT)
    lapsed = beat + CRASH_AFTER_BEATS * interval
    while derive_status(state["status"], beat, interval) == "running":
        time.sleep(max(0.01, lapsed - time.time() + 0.01))


def _png(rng: random.Random, width: int = 64, height: int = 48) -> bytes:
    """A small RGB PNG: a falling curve on white (no imaging library needed)."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter type: none
        for x in range(width):
            curve = int(height * 0.9 * math.exp(-x / 15) + rng.random() * 2)
            row += b"\x1f\x77\xb4" if abs((height - 1 - y) - curve) <= 1 else b"\xff\xff\xff"
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


_TRAIN_CODE = """\
import torch


def train(model, loader, optimizer, epochs):
    for epoch in range(epochs):
        for images, labels in loader:
            loss = torch.nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
"""


if __name__ == "__main__":  # ``python -m runlab._demo_data DIR``: record, print the result as JSON
    print(json.dumps(record_demo(sys.argv[1])))
