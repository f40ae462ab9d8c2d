"""``runlab demo``: the recorded demo store, and the command serving it in a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import runlab
from runlab._demo_data import EPISODES, STEPS, VAL_EVERY, record_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return record_demo(tmp_path_factory.mktemp("demo") / "store")


def test_record_demo_makes_every_end_state(demo: dict[str, Any]) -> None:
    api = runlab.Api(dir=demo["dir"])
    runs = {run.name: run for run in api.runs(project="demo")}
    assert set(runs) == set(demo["runs"])
    status = {name: str(run.status) for name, run in runs.items()}
    assert status == demo["status"]
    assert status["diverging"] == "failed"
    assert status["oom-killed"] == "crashed"
    assert sorted(status.values()).count("finished") == len(demo["grid"]) + 1
    assert runs["diverging"].id == demo["failed"] and runs["oom-killed"].id == demo["crashed"]


def test_the_grid_has_curves_config_and_files(demo: dict[str, Any]) -> None:
    api = runlab.Api(dir=demo["dir"])
    grid = [api.run(run_id) for run_id in demo["grid"]]
    assert len({(r.config["lr"], r.config["optimizer"]["name"]) for r in grid}) == len(grid) >= 4
    assert {r.group for r in grid} == {"lr-sweep"}
    for run in grid:
        frame = run.history()
        assert frame["train/loss"].drop_nulls().len() == STEPS
        assert frame["val/loss"].drop_nulls().len() == STEPS // VAL_EVERY
        assert run.summary["val/loss"] == frame["val/loss"].drop_nulls().min()
        assert "grid" in run.tags
        files = run.dir / "files"
        assert "epoch 1: val/loss=" in (files / "output.log").read_text(encoding="utf-8")
        assert (files / "loss_curve.png").read_bytes().startswith(b"\x89PNG")
        assert (files / "predictions.csv").is_file()
        assert (run.dir / "artifacts" / "code" / "train.py").is_file()
    # Adam at the middle learning rate ends below plain SGD at the smallest one.
    by_name = {r.name: r for r in grid}
    assert by_name["adam-lr0.003"].summary["val/loss"] < by_name["sgd-lr0.001"].summary["val/loss"]


def test_the_scenario_run_has_200_episodes_whose_outcome_depends_on_friction(
    demo: dict[str, Any],
) -> None:
    run = runlab.Api(dir=demo["dir"]).run(demo["scenario"])
    episodes = run.episodes()
    assert episodes.height == EPISODES == demo["episodes"]
    assert set(episodes["status"].unique()) == {"SUCCESS", "FAILED"}
    low = episodes.filter(episodes["friction"] < 0.5)
    high = episodes.filter(episodes["friction"] >= 0.8)
    rate = {
        name: (part["status"] == "SUCCESS").sum() / part.height
        for name, part in (("low", low), ("high", high))
    }
    assert rate["low"] < rate["high"]
    assert run.seed == 7 and "uniform(0.2, 1.2)" in (run.scenario or "")


def test_the_crashed_run_kept_what_it_logged_and_its_output(demo: dict[str, Any]) -> None:
    run = runlab.Api(dir=demo["dir"]).run(demo["crashed"])
    assert run.history()["train/loss"].drop_nulls().len() == 150
    log = (run.dir / "files" / "output.log").read_text(encoding="utf-8")
    assert "allocating activations" in log


# -- the command, as a real process ------------------------------------------------------------

RUNLAB = [sys.executable, "-m", "runlab"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_demo(root: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLAB_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*RUNLAB, "demo", "--no-open", "--dir", str(root), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**env, "COLUMNS": "200", "NO_COLOR": "1"},
        )
    return proc, f"http://127.0.0.1:{port}"


def wait_for_projects(proc: subprocess.Popen[bytes], url: str, log: Path) -> list[Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"runlab demo exited with {proc.returncode}:\n{log.read_text()}")
        try:
            response = httpx.get(f"{url}/api/projects", timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        assert response.status_code == 200, response.text
        projects: list[Any] = response.json()
        return projects
    pytest.fail(f"runlab demo did not answer at {url} within 60 s:\n{log.read_text()}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # Ctrl-C, as a user stops it
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        stop(proc)


def test_runlab_demo_records_then_serves_and_reuses_a_recorded_dir(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    root = tmp_path / "runlab-demo"
    log = tmp_path / "first.log"
    proc, url = start_demo(root, log)
    processes.append(proc)
    projects = wait_for_projects(proc, url, log)
    assert [(p["name"], p["run_count"]) for p in projects] == [("demo", 9)]
    stop(proc)
    text = log.read_text()
    assert proc.returncode == 0 and "Traceback" not in text, text
    assert "Recorded 9 runs" in text and "1 failed, 1 crashed" in text

    log = tmp_path / "second.log"
    proc, url = start_demo(root, log)
    processes.append(proc)
    projects = wait_for_projects(proc, url, log)
    assert [(p["name"], p["run_count"]) for p in projects] == [("demo", 9)]  # not recorded twice
    assert "Reusing the 9 runs already in" in log.read_text()
