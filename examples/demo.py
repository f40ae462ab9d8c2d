"""Record a few realistic runs into ./runlab-demo and list them.

    python examples/demo.py [--dir DIR]

A small learning-rate x optimizer grid of training runs with loss/accuracy curves, one run
that fails with an exception, then ``runlab ls`` and ``runlab show`` on the best run.
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import sys

import runlab


def train(run: runlab.Run, steps: int, rng: random.Random) -> None:
    lr, momentum = run.config.lr, run.config.optimizer.momentum
    floor = 0.15 + 0.1 * rng.random()
    for step in range(steps):
        clean = floor + 2.3 * math.exp(-step * lr * (1 + momentum) * 2)
        loss = clean * (1 + rng.gauss(0, 0.05))
        run.log(
            {
                "train/loss": max(loss, 1e-4),
                "train/accuracy": 1 - math.exp(-step * lr * 3) * 0.9,
                "lr": lr * 0.5 * (1 + math.cos(math.pi * step / steps)),
            }
        )
        if step % 100 == 0:
            run.log({"val/loss": max(loss * 1.1, 1e-4)}, step=step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default="runlab-demo")
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    settings = {"capture_output": False}
    rng = random.Random(0)
    for lr in (1e-3, 3e-3):
        for name, momentum in (("sgd", 0.0), ("adam", 0.9)):
            config = {"lr": lr, "optimizer": {"name": name, "momentum": momentum}}
            with runlab.init(
                project="demo",
                config=config,
                tags=["grid", name],
                group="lr-optimizer",
                dir=args.dir,
                settings=settings,
            ) as run:
                run.define_metric("val/loss", summary="min", goal="minimize")
                train(run, args.steps, rng)
    try:
        with runlab.init(project="demo", name="diverging", dir=args.dir, settings=settings) as run:
            for step in range(50):
                run.log({"train/loss": 2.0**step})
            raise FloatingPointError("loss diverged at step 49")
    except FloatingPointError:
        pass
    cli = [sys.executable, "-m", "runlab"]
    subprocess.run([*cli, "ls", "--dir", args.dir], check=False)


if __name__ == "__main__":
    main()
