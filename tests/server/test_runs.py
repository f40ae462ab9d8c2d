"""Projects, the runs table (filter, search, sort, page, group), one run, edits, delete."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

import runlab
from runlab.storage._store import EDITS_JSON


def names(body: dict) -> list[str]:
    return [row["name"] for row in body["runs"]]


def test_info(client: TestClient, store: tuple[Path, dict[str, str]]) -> None:
    body = client.get("/api/info").json()
    assert body["dir"] == str(store[0])
    assert body["auth_required"] is False
    assert isinstance(body["version"], str)


def test_projects(client: TestClient) -> None:
    body = client.get("/api/projects").json()
    assert [(p["name"], p["run_count"]) for p in body] == [("audio", 1), ("vision", 4)]
    assert all(p["last_activity"] > 0 for p in body)


def test_runs_table_rows(client: TestClient, ids: dict[str, str]) -> None:
    body = client.get("/api/projects/vision/runs").json()
    assert body["total"] == 4
    assert names(body) == ["run-3", "run-2", "run-1", "run-0"]  # newest first
    row = body["runs"][-1]
    assert row["id"] == ids["run-0"]
    assert row["status"] == "finished"
    assert row["tags"] == ["base"]
    assert row["config"] == {"lr": 1e-3, "optimizer.name": "adam", "layers": "[1,2]"}
    assert row["summary"]["loss"] == 0.0
    assert row["summary"]["best.acc"] == 0.5
    assert row["runtime"] >= 0
    assert set(row) >= {"group", "job_type", "created_at", "ended_at", "heartbeat_at", "notes"}
    assert body["columns"]["config"] == ["layers", "lr", "optimizer.name"]
    assert "best.acc" in body["columns"]["summary"]


def test_unknown_project_is_empty(client: TestClient) -> None:
    assert client.get("/api/projects/nope/runs").json()["total"] == 0


def test_filter(client: TestClient) -> None:
    body = client.get(
        "/api/projects/vision/runs", params={"filter": 'lr >= 1e-3 and tags has "flagged"'}
    )
    assert sorted(names(body.json())) == ["run-1", "run-3"]
    body = client.get(
        "/api/projects/vision/runs", params={"filter": 'optimizer.name == "adam"'}
    ).json()
    assert sorted(names(body)) == ["run-0", "run-2"]
    assert body["total"] == 2


def test_filter_syntax_error_names_the_column(client: TestClient) -> None:
    response = client.get("/api/projects/vision/runs", params={"filter": "lr >= "})
    assert response.status_code == 400
    body = response.json()
    assert body["column"] == 7
    assert body["message"]
    response = client.get("/api/projects/vision/groups", params={"by": "lr", "filter": "lr =="})
    assert response.status_code == 400 and response.json()["column"] == 6


def test_quick_search(client: TestClient, ids: dict[str, str]) -> None:
    assert names(client.get("/api/projects/vision/runs?q=RUN-2").json()) == ["run-2"]
    assert sorted(names(client.get("/api/projects/vision/runs?q=FLAGGED").json())) == [
        "run-1",
        "run-3",
    ]
    prefix = ids["run-0"][:6]
    assert "run-0" in names(client.get(f"/api/projects/vision/runs?q={prefix}").json())


def test_sort_any_column(client: TestClient) -> None:
    def order(**params: str) -> list[str]:
        return names(client.get("/api/projects/vision/runs", params=params).json())

    assert order(sort="config.lr", order="asc") == ["run-2", "run-0", "run-1", "run-3"]
    assert order(sort="config.lr") == ["run-3", "run-1", "run-0", "run-2"]
    assert order(sort="name", order="asc") == ["run-0", "run-1", "run-2", "run-3"]
    assert order(sort="summary.best.acc", order="desc") == ["run-3", "run-2", "run-1", "run-0"]
    assert order(sort="created_at", order="asc") == ["run-0", "run-1", "run-2", "run-3"]
    assert len(order(sort="runtime")) == 4
    assert len(order(sort="config.missing")) == 4  # no values: catalog order kept


def test_bad_sort_and_order(client: TestClient) -> None:
    response = client.get("/api/projects/vision/runs?sort=bogus")
    assert response.status_code == 400
    assert "config.<key>" in response.json()["message"]
    response = client.get("/api/projects/vision/runs?order=up")
    assert response.status_code == 422
    assert "order" in response.json()["message"]
    assert client.get("/api/projects/vision/runs?limit=-1").status_code == 422


def test_paging(client: TestClient) -> None:
    body = client.get("/api/projects/vision/runs?offset=1&limit=2&sort=name&order=asc").json()
    assert body["total"] == 4
    assert names(body) == ["run-1", "run-2"]


def test_groups(client: TestClient, ids: dict[str, str]) -> None:
    body = client.get("/api/projects/vision/groups", params={"by": "optimizer.name"}).json()
    assert body["by"] == "optimizer.name"
    groups = {g["value"]: g for g in body["groups"]}
    assert set(groups) == {"adam", "sgd"}
    adam = groups["adam"]
    assert adam["count"] == 2
    assert sorted(adam["run_ids"]) == sorted([ids["run-0"], ids["run-2"]])
    assert adam["summary"]["loss"] == {"mean": 1.0, "min": 0.0, "max": 2.0}
    body = client.get(
        "/api/projects/vision/groups", params={"by": "status", "filter": "lr < 0.05"}
    ).json()
    assert [(g["value"], g["count"]) for g in body["groups"]] == [("finished", 3)]
    missing = client.get("/api/projects/vision/groups", params={"by": "config.none"}).json()
    assert [(g["value"], g["count"]) for g in missing["groups"]] == [(None, 4)]


def test_group_by_needs_a_key(client: TestClient) -> None:
    assert client.get("/api/projects/vision/groups").status_code == 422
    response = client.get("/api/projects/vision/groups", params={"by": "a b"})
    assert response.status_code == 400 and "column" in response.json()


def test_run_detail(client: TestClient, ids: dict[str, str]) -> None:
    body = client.get(f"/api/runs/{ids['run-1']}").json()
    assert body["run"]["name"] == "run-1"
    assert body["config"] == {"lr": 1e-2, "optimizer": {"name": "sgd"}, "layers": [1, 2]}
    assert body["summary"]["best"] == {"acc": 0.6}
    assert isinstance(body["metadata"], dict)
    assert body["exit_code"] in (0, None)
    assert body["has_scenario"] is False
    assert body["episode_count"] == 0
    assert client.get("/api/runs/run-1").json()["run"]["id"] == ids["run-1"]  # by name


def test_unknown_run_is_404(client: TestClient) -> None:
    for path in ("/api/runs/zzzzzz", "/api/runs/zzzzzz/metrics", "/api/runs/zzzzzz/logs"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "zzzzzz" in response.json()["message"]


def test_unknown_api_path_is_json_404(client: TestClient) -> None:
    response = client.get("/api/nothing/here")
    assert response.status_code == 404
    assert response.json() == {"message": "no API endpoint /api/nothing/here"}
    assert client.delete("/api/info").status_code == 405


def test_patch_tags_and_notes(fresh: tuple[TestClient, Path, dict[str, str]]) -> None:
    client, root, ids = fresh
    run_id = ids["run-0"]
    body = client.patch(f"/api/runs/{run_id}", json={"tags": ["best", "keep"], "notes": "hi"})
    assert body.status_code == 200, body.text
    assert body.json()["run"]["tags"] == ["best", "keep"]
    assert body.json()["run"]["notes"] == "hi"
    assert (root / "runs" / run_id / EDITS_JSON).is_file()
    table = client.get("/api/projects/vision/runs", params={"filter": 'tags has "best"'}).json()
    assert [r["id"] for r in table["runs"]] == [run_id]
    assert runlab.Api(root).run(run_id).notes == "hi"
    assert client.patch(f"/api/runs/{run_id}", json={"tags": "x"}).status_code == 422
    assert client.patch(f"/api/runs/{run_id}", json={"status": "x"}).status_code == 422


def test_bulk_tags(fresh: tuple[TestClient, Path, dict[str, str]]) -> None:
    client, _, ids = fresh
    chosen = [ids["run-0"], ids["run-1"]]
    body = client.post(
        "/api/runs/tags", json={"ids": chosen, "add": ["new"], "remove": ["flagged"]}
    )
    assert body.status_code == 200, body.text
    assert {r["id"]: r["tags"] for r in body.json()["runs"]} == {
        ids["run-0"]: ["base", "new"],
        ids["run-1"]: ["base", "new"],
    }
    missing = client.post("/api/runs/tags", json={"ids": ["nope000"], "add": ["a"]})
    assert missing.status_code == 404
    assert client.post("/api/runs/tags", json={"ids": ["../x"], "add": ["a"]}).status_code == 400
    assert client.post("/api/runs/tags", json={"ids": [], "add": ["a"]}).status_code == 422


def test_move_then_projects(fresh: tuple[TestClient, Path, dict[str, str]]) -> None:
    client, root, ids = fresh
    body = client.post("/api/runs/move", json={"ids": [ids["run-0"]], "project": "moved"})
    assert body.status_code == 200, body.text
    assert body.json()["runs"][0]["project"] == "moved"
    projects = {p["name"]: p["run_count"] for p in client.get("/api/projects").json()}
    assert projects == {"audio": 1, "moved": 1, "vision": 3}
    assert names(client.get("/api/projects/moved/runs").json()) == ["run-0"]
    assert client.get("/api/projects/vision/runs").json()["total"] == 3
    assert runlab.Api(root).run(ids["run-0"]).project == "moved"
    assert (
        client.post("/api/runs/move", json={"ids": [ids["run-1"]], "project": ""}).status_code
        == 422
    )


def test_delete(fresh: tuple[TestClient, Path, dict[str, str]]) -> None:
    client, root, ids = fresh
    body = client.post("/api/runs/delete", json={"ids": [ids["run-0"], ids["run-1"]]})
    assert body.status_code == 200, body.text
    assert body.json() == {"deleted": [ids["run-0"], ids["run-1"]]}
    assert not (root / "runs" / ids["run-0"]).exists()
    assert client.get("/api/projects/vision/runs").json()["total"] == 2
    assert client.get(f"/api/runs/{ids['run-0']}").status_code == 404
    again = client.post("/api/runs/delete", json={"ids": [ids["run-0"], ids["run-2"]]})
    assert again.status_code == 404
    assert (root / "runs" / ids["run-2"]).is_dir()  # nothing deleted when one is missing


def test_crashed_is_derived(tmp_path: Path) -> None:
    from runlab.server import create_app
    from runlab.storage._layout import RUN_JSON, read_json, write_json_atomic
    from server.server_helpers import BASE, SETTINGS

    run = runlab.init(dir=tmp_path, project="p", name="dead", settings=SETTINGS)
    run.log({"loss": 1.0})
    run.finish()
    path = run.dir / RUN_JSON
    data = read_json(path)
    data.update(status="running", ended_at=None, heartbeat_at=1.0, heartbeat_interval=1.0)
    write_json_atomic(path, data)
    with TestClient(create_app(tmp_path), base_url=BASE) as client:
        (row,) = client.get("/api/projects/p/runs").json()["runs"]
        assert row["status"] == "crashed"
        filtered = client.get("/api/projects/p/runs", params={"filter": 'status == "crashed"'})
        assert filtered.json()["total"] == 1


def test_deleting_a_live_run_is_a_conflict(tmp_path: Path) -> None:
    import pytest

    from runlab import _errors
    from runlab.server import create_app
    from server.server_helpers import BASE, start

    if not hasattr(_errors, "RunActiveError"):
        pytest.skip("this storage deletes running runs")
    run = start(tmp_path, project="p", name="live")
    with TestClient(create_app(tmp_path), base_url=BASE) as client:
        response = client.post("/api/runs/delete", json={"ids": [run.id]})
        assert response.status_code == 409
        assert "running" in response.json()["message"]
    run.finish()
