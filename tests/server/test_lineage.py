"""Charts of forks, rewound runs and multi-process runs show the history every reader sees."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

import runlab
from runlab.server import create_app
from server.server_helpers import BASE, SETTINGS, start


def _series(client: TestClient, run_id: str, key: str) -> tuple[list[int], list[float]]:
    got = client.get(f"/api/runs/{run_id}/series", params={"key": key, "width": 1000})
    assert got.status_code == 200, got.text
    body = got.json()
    return body["steps"], body["y"]


def test_a_fork_charts_its_parents_points_then_its_own(tmp_path: Path) -> None:
    parent = start(tmp_path, project="p", name="parent")
    for step in range(10):
        parent.log({"loss": float(step)})
    parent.finish()
    child = runlab.init(dir=tmp_path, project="p", fork_from=(parent.id, 4), settings=SETTINGS)
    for _ in range(3):
        child.log({"loss": 100.0})
    child.finish()
    with TestClient(create_app(tmp_path), base_url=BASE) as client:
        steps, values = _series(client, child.id, "loss")
        assert steps == [0, 1, 2, 3, 4, 5, 6, 7]
        assert values == [0.0, 1.0, 2.0, 3.0, 4.0, 100.0, 100.0, 100.0]
        (metric,) = client.get(f"/api/runs/{child.id}/metrics").json()["metrics"]
        assert (metric["count"], metric["first_step"], metric["last_step"]) == (8, 0, 7)
        assert _series(client, parent.id, "loss")[0] == list(range(10))  # untouched


def test_a_rewound_run_charts_only_what_it_kept(tmp_path: Path) -> None:
    run = start(tmp_path, project="p", id="rew001")
    for step in range(10):
        run.log({"x": float(step)})
    run.finish()
    again = runlab.init(
        dir=tmp_path, project="p", id="rew001", resume_from="rew001?_step=5", settings=SETTINGS
    )
    again.log({"x": -1.0})
    again.finish()
    with TestClient(create_app(tmp_path), base_url=BASE) as client:
        steps, values = _series(client, "rew001", "x")
        assert steps == [0, 1, 2, 3, 4, 5, 6]
        assert values[-1] == -1.0


def test_a_multi_process_run_charts_every_ranks_points(tmp_path: Path) -> None:
    owner = runlab.init(dir=tmp_path, id="shr001", shared=True, settings=SETTINGS)
    rank = runlab.init(dir=tmp_path, id="shr001", shared=True, label="rank-1", settings=SETTINGS)
    for step in range(3):
        owner.log({"owner/loss": float(step)}, step=step)
        rank.log({"rank-1/loss": 10.0 + step}, step=step)
    rank.finish()
    owner.finish()
    with TestClient(create_app(tmp_path), base_url=BASE) as client:
        assert _series(client, "shr001", "rank-1/loss") == ([0, 1, 2], [10.0, 11.0, 12.0])
        keys = {m["key"] for m in client.get("/api/runs/shr001/metrics").json()["metrics"]}
        assert {"owner/loss", "rank-1/loss"} <= keys
