"""What the server tests share besides fixtures: settings, the base URL, a store written by the
real SDK. (A module of its own, not conftest: ``tests/e2e`` has a conftest too, and a plain
``from conftest import ...`` would find whichever was imported first.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import runlab

SETTINGS: dict[str, Any] = {
    "quiet": True,
    "capture_output": False,
    "capture_git": False,
    "capture_env": False,
    "capture_packages": False,
    "system_metrics_interval": 0,
}
BASE = "http://127.0.0.1:8765"


def start(root: Path, **kwargs: Any) -> runlab.Run:
    """``runlab.init`` with captures off (fast), into ``root``."""
    return runlab.init(dir=root, settings=SETTINGS, **kwargs)


def make_store(root: Path) -> dict[str, str]:
    """Five runs in two projects; returns their ids by name."""
    ids: dict[str, str] = {}
    for i, (opt, lr) in enumerate((("adam", 1e-3), ("sgd", 1e-2), ("adam", 1e-4), ("sgd", 1e-1))):
        run = start(
            root,
            project="vision",
            name=f"run-{i}",
            config={"lr": lr, "optimizer": {"name": opt}, "layers": [1, 2]},
            tags=["base"] if i % 2 == 0 else ["flagged", "base"],
        )
        for step in range(50):
            run.log({"loss": 1.0 / (step + 1) + i, "acc": step / 50})
        run.summary["loss"] = float(i)
        run.summary["best"] = {"acc": 0.5 + i / 10}
        run.finish()
        ids[run.name] = run.id
    other = start(root, project="audio", name="other", config={"lr": 0.5})
    other.log({"loss": 3.0})
    other.finish()
    ids["other"] = other.id
    return ids
