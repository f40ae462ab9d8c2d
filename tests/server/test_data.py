"""Logs by byte offset, episodes and their stats, the scenario, and the static web app."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import runlab
from runlab.server import create_app
from server.server_helpers import BASE, start


@pytest.fixture(scope="module")
def scenario_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, str, Path]:
    root = tmp_path_factory.mktemp("episodes")
    spec = {"friction": "${uniform(0, 1)}", "arm": "${categorical(['ur5', 'panda'])}"}
    with start(root, project="robots", name="sim", scenario=spec, seed=3) as run:
        for i in range(6):
            with run.create_episode() as episode:
                episode.log({"reward": float(i)})
                if i % 3 == 1:
                    episode.finish("FAILED", "missed")
    log = run.dir / "files" / "output.log"
    log.parent.mkdir(exist_ok=True)
    log.write_bytes("line one\nünïcödé ✓\n".encode() * 3)
    return TestClient(create_app(root), base_url=BASE), run.id, log


def test_logs_by_offset(scenario_run: tuple[TestClient, str, Path]) -> None:
    client, run_id, log = scenario_run
    data = log.read_bytes()
    whole = client.get(f"/api/runs/{run_id}/logs").json()
    assert whole == {"text": data.decode(), "offset": len(data), "size": len(data)}
    text, offset = "", 0
    while offset < len(data):  # 7-byte pages cut through multi-byte characters
        page = client.get(f"/api/runs/{run_id}/logs", params={"offset": offset, "limit": 7}).json()
        assert page["offset"] > offset
        text, offset = text + page["text"], page["offset"]
    assert text == data.decode()
    end = client.get(f"/api/runs/{run_id}/logs", params={"offset": 10**9}).json()
    assert end["text"] == "" and end["offset"] == len(data)
    assert client.get(f"/api/runs/{run_id}/logs", params={"offset": -1}).status_code == 422


def test_log_download(scenario_run: tuple[TestClient, str, Path]) -> None:
    client, run_id, log = scenario_run
    response = client.get(f"/api/runs/{run_id}/logs/download")
    assert response.content == log.read_bytes()
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-disposition"].startswith("attachment")


def test_run_without_log(client: TestClient, ids: dict[str, str]) -> None:
    assert client.get(f"/api/runs/{ids['run-0']}/logs").json() == {
        "text": "",
        "offset": 0,
        "size": 0,
    }
    assert client.get(f"/api/runs/{ids['run-0']}/logs/download").status_code == 404


def test_episodes(scenario_run: tuple[TestClient, str, Path]) -> None:
    client, run_id, _ = scenario_run
    body = client.get(f"/api/runs/{run_id}/episodes").json()
    assert body["total"] == 6
    assert body["columns"][:3] == ["index", "id", "status"]
    assert {"params.friction", "params.arm", "metrics.reward", "duration"} <= set(body["columns"])
    assert [r["status"] for r in body["rows"]] == ["SUCCESS", "FAILED"] * 1 + [
        "SUCCESS",
        "SUCCESS",
        "FAILED",
        "SUCCESS",
    ]
    assert [r["metrics.reward"] for r in body["rows"]] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    page = client.get(f"/api/runs/{run_id}/episodes", params={"offset": 4, "limit": 1}).json()
    assert page["total"] == 6 and [r["index"] for r in page["rows"]] == [4]
    detail = client.get(f"/api/runs/{run_id}").json()
    assert detail["episode_count"] == 6 and detail["has_scenario"] is True


def test_episode_stats(scenario_run: tuple[TestClient, str, Path]) -> None:
    client, run_id, _ = scenario_run
    url = f"/api/runs/{run_id}/episodes/stats"
    body = client.get(url, params={"param": "arm"}).json()
    assert body["param"] == "arm"
    assert {r["parameter"] for r in body["rows"]} == {"arm"}
    assert sum(r["n"] for r in body["rows"]) == 6
    everything = client.get(url, params={"bins": 2}).json()["rows"]
    assert {r["parameter"] for r in everything} == {"arm", "friction"}
    assert client.get(url, params={"outcome": "nope"}).status_code == 400
    assert client.get(url, params={"bins": 0}).status_code == 422


def test_episodes_of_a_shared_run_name_their_rank(tmp_path: Path) -> None:
    spec = {"friction": "${uniform(0.2, 1.2)}"}
    processes = [("rank-0", 1), ("rank-10", 3), ("rank-2", 2)]
    runs = [
        start(tmp_path, id="job", shared=True, label=label, scenario=spec, seed=seed)
        for label, seed in processes
    ]
    for n, run in enumerate(runs):
        for i in range(n + 1):
            with run.create_episode() as episode:
                episode.log({"reward": 10.0 * n + i})
    for run in reversed(runs):
        run.finish()
    client = TestClient(create_app(tmp_path), base_url=BASE)
    body = client.get("/api/runs/job/episodes").json()
    assert body["total"] == 6
    assert body["columns"][:4] == ["index", "rank", "id", "status"]
    # The owner's first, then the ranks in label order (rank-2 before rank-10).
    ranks = ["rank-0", "rank-2", "rank-2", "rank-2", "rank-10", "rank-10"]
    assert [(r["rank"], r["index"]) for r in body["rows"]] == list(
        zip(ranks, [0, 0, 1, 2, 0, 1], strict=True)
    )
    assert [r["metrics.reward"] for r in body["rows"]] == [0.0, 20.0, 21.0, 22.0, 10.0, 11.0]
    assert all(isinstance(r["params.friction"], float) for r in body["rows"])
    page = client.get("/api/runs/job/episodes", params={"offset": 4, "limit": 1}).json()
    assert [(r["rank"], r["index"]) for r in page["rows"]] == [("rank-10", 0)]
    assert client.get("/api/runs/job").json()["episode_count"] == 6
    stats = client.get("/api/runs/job/episodes/stats", params={"bins": 2}).json()["rows"]
    assert sum(r["n"] for r in stats) == 6


def test_scenario(scenario_run: tuple[TestClient, str, Path], client: TestClient) -> None:
    sim, run_id, _ = scenario_run
    assert "friction" in sim.get(f"/api/runs/{run_id}/scenario").json()["yaml"]
    assert client.get("/api/runs/run-0/scenario").json() == {"yaml": None}


def test_web_app_missing_says_how_to_build(
    store: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    app = create_app(store[0], static_dir=tmp_path / "none")
    with TestClient(app, base_url=BASE) as client:
        for path in ("/", "/projects/vision", "/projects/vision/runs/x?tab=logs"):
            response = client.get(path)
            assert response.status_code == 200
            assert "npm run build" in response.text


def test_web_app_and_spa_fallback(store: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<html>app</html>")
    (tmp_path / "assets" / "main.js").write_text("console.log(1)")
    (tmp_path.parent / "outside.txt").write_text("no")
    app = create_app(store[0], static_dir=tmp_path)
    with TestClient(app, base_url=BASE) as client:
        assert client.get("/").text == "<html>app</html>"
        script = client.get("/assets/main.js")
        assert script.text == "console.log(1)"
        assert "javascript" in script.headers["content-type"]
        assert client.get("/projects/vision/compare?runs=a,b").text == "<html>app</html>"
        assert client.get("/assets/..%2F..%2Foutside.txt").text == "<html>app</html>"
        assert client.get("/api/openapi.json").json()["info"]["title"] == "runlab"
        assert client.get("/api/docs").status_code == 200


def test_edit_survives_the_running_process(tmp_path: Path) -> None:
    run = start(tmp_path, project="live", name="live", tags=["sdk"])
    with TestClient(create_app(tmp_path), base_url=BASE) as client:
        run.log({"loss": 1.0})
        edited = client.patch(f"/api/runs/{run.id}", json={"tags": ["from-ui"], "notes": "n"})
        assert edited.json()["run"]["tags"] == ["from-ui"]
        for step in range(1, 50):
            run.log({"loss": 1.0 / step})
            run.summary["last"] = step  # the run keeps rewriting run.json
        time.sleep(0.05)
        run.finish()
        (row,) = client.get("/api/projects/live/runs").json()["runs"]
        assert row["status"] == "finished"
        assert row["tags"] == ["from-ui"]
        assert row["notes"] == "n"
        assert row["summary"]["last"] == 49
    assert runlab.Api(tmp_path).run(run.id).tags == ("from-ui",)
