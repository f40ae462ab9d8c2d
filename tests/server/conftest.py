"""A run store written by the real SDK, and clients of the real app on it (in process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import runlab
from runlab.server import create_app

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


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("store")
    return root, make_store(root)


@pytest.fixture(scope="module")
def app(store: tuple[Path, dict[str, str]]) -> FastAPI:
    return create_app(store[0])


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE) as c:
        yield c


@pytest.fixture
def ids(store: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return store[1]


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[TestClient, Path, dict[str, str]]]:
    """A client on a store of its own (for tests that change it)."""
    ids = make_store(tmp_path)
    with TestClient(create_app(tmp_path), base_url=BASE) as c:
        yield c, tmp_path, ids
