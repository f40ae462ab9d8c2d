"""Run operations over HTTP: stop a running run, delete (409 while running), the trash."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import runlab
from runlab.server import create_app
from runlab.storage._layout import RUN_JSON

# conftest's BASE, not imported: run with tests/e2e, "conftest" may name that folder's module.
BASE = "http://127.0.0.1:8765"
SRC = str(Path(runlab.__file__).resolve().parents[1])

LOOP = """
import pathlib, sys, time, runlab
root = sys.argv[1]
run = runlab.init(dir=root, id="live01", project="ops", name="looping",
                  settings={"quiet": True, "heartbeat_interval": 0.3})
pathlib.Path(root, "started").touch()
with run:
    step = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run.log({"x": float(step)})
        step += 1
        time.sleep(0.01)
"""


@pytest.fixture
def looping(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A real run in a child process, logging in a loop (60 s at most) with a 0.3 s heartbeat."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLAB_")}
    env.update(PYTHONPATH=SRC, RUNLAB_SILENT="1")
    proc = subprocess.Popen([sys.executable, "-c", LOOP, str(tmp_path)], env=env)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "started").exists():
            assert proc.poll() is None, f"the run exited with {proc.returncode} before starting"
            assert time.monotonic() < deadline, "the run did not start within 30 s"
            time.sleep(0.02)
        yield proc, "live01"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_stop_a_running_run(tmp_path: Path, looping: tuple[subprocess.Popen[bytes], str]) -> None:
    proc, run_id = looping
    with TestClient(create_app(tmp_path), base_url=BASE) as client:
        assert client.get(f"/api/runs/{run_id}").json()["run"]["status"] == "running"
        response = client.post(f"/api/runs/{run_id}/stop")
        assert response.status_code == 200, response.text
        assert response.json() == {"stopped": True}
        proc.wait(timeout=30)
        detail = client.get(f"/api/runs/{run_id}").json()
        assert detail["run"]["status"] == "killed"
        assert detail["err_msg"] == "stopped from outside (runlab stop)"
        # An ended run: nothing to ask.
        assert client.post(f"/api/runs/{run_id}/stop").json() == {"stopped": False}


def test_stop_errors(client: TestClient, ids: dict[str, str]) -> None:
    assert client.post(f"/api/runs/{ids['run-0']}/stop").json() == {"stopped": False}
    missing = client.post("/api/runs/zzzzzz/stop")
    assert missing.status_code == 404
    assert "zzzzzz" in missing.json()["message"]
    assert client.post("/api/runs/.hidden/stop").status_code == 400
    # Exact ids only: a name or prefix that reads would find is not enough to stop a run.
    assert client.post("/api/runs/run-0/stop").status_code == 404


def test_deleting_a_running_run_is_409_unless_forced(
    tmp_path: Path, looping: tuple[subprocess.Popen[bytes], str]
) -> None:
    _, run_id = looping
    with TestClient(create_app(tmp_path), base_url=BASE) as client:
        refused = client.post("/api/runs/delete", json={"ids": [run_id]})
        assert refused.status_code == 409
        message = refused.json()["message"]
        assert run_id in message and "still running" in message
        assert (tmp_path / "runs" / run_id).is_dir()  # nothing deleted
        bad = client.post("/api/runs/delete", json={"ids": [run_id], "force": "maybe"})
        assert bad.status_code == 422

        forced = client.post("/api/runs/delete", json={"ids": [run_id], "force": True})
        assert forced.status_code == 200, forced.text
        assert forced.json() == {"deleted": [run_id]}
        (row,) = client.get("/api/trash").json()["runs"]
        assert (row["id"], row["name"], row["project"]) == (run_id, "looping", "ops")
        assert row["status"] in ("running", "crashed")  # its process keeps beating, unheard


def test_trash_restore_and_purge(fresh: tuple[TestClient, Path, dict[str, str]]) -> None:
    client, root, ids = fresh
    assert client.get("/api/trash").json() == {"runs": []}
    before = time.time()
    doomed = [ids["run-0"], ids["run-1"]]
    assert client.post("/api/runs/delete", json={"ids": doomed}).status_code == 200

    rows = client.get("/api/trash").json()["runs"]
    assert sorted(r["id"] for r in rows) == sorted(doomed)
    by_id = {r["id"]: r for r in rows}
    assert by_id[ids["run-0"]]["name"] == "run-0"
    assert by_id[ids["run-0"]]["project"] == "vision"
    assert by_id[ids["run-0"]]["status"] == "finished"
    assert all(before - 1 <= r["deleted_at"] <= time.time() + 1 for r in rows)
    assert client.get("/api/projects/vision/runs").json()["total"] == 2

    restored = client.post("/api/runs/restore", json={"ids": [ids["run-0"], ids["run-0"]]})
    assert restored.status_code == 200, restored.text
    assert restored.json() == {"restored": [ids["run-0"]]}
    assert client.get(f"/api/runs/{ids['run-0']}").json()["run"]["name"] == "run-0"
    table = client.get("/api/projects/vision/runs").json()
    assert ids["run-0"] in [r["id"] for r in table["runs"]] and table["total"] == 3
    assert [r["id"] for r in client.get("/api/trash").json()["runs"]] == [ids["run-1"]]

    purged = client.post("/api/trash/purge", json={"ids": [ids["run-1"]]})
    assert purged.status_code == 200, purged.text
    assert purged.json() == {"purged": [ids["run-1"]]}
    assert client.get("/api/trash").json() == {"runs": []}
    assert not (root / "trash" / ids["run-1"]).is_dir()  # only the tombstone is left

    # Gone for good: neither restorable nor purgeable again.
    again = client.post("/api/runs/restore", json={"ids": [ids["run-1"]]})
    assert again.status_code == 404 and ids["run-1"] in again.json()["message"]
    assert client.post("/api/trash/purge", json={"ids": [ids["run-1"]]}).status_code == 404


def test_restore_and_purge_check_every_id_first(
    fresh: tuple[TestClient, Path, dict[str, str]],
) -> None:
    client, _, ids = fresh
    client.post("/api/runs/delete", json={"ids": [ids["run-0"]]})
    live = ids["run-2"]  # not deleted: not in the trash
    for path in ("/api/runs/restore", "/api/trash/purge"):
        response = client.post(path, json={"ids": [ids["run-0"], live]})
        assert response.status_code == 404, path
        assert [r["id"] for r in client.get("/api/trash").json()["runs"]] == [ids["run-0"]]
        for bad in (["../runs"], [".x"], ["a/b"]):
            assert client.post(path, json={"ids": bad}).status_code == 400, (path, bad)
        assert client.post(path, json={"ids": []}).status_code == 422
        assert client.post(path, json={"ids": [ids["run-0"]], "extra": 1}).status_code == 422


def test_restoring_over_a_live_run_is_a_conflict(
    fresh: tuple[TestClient, Path, dict[str, str]],
) -> None:
    client, root, ids = fresh
    run_id = ids["run-0"]
    client.post("/api/runs/delete", json={"ids": [run_id]})
    (root / "runs" / run_id).mkdir()  # e.g. copied back by hand
    response = client.post("/api/runs/restore", json={"ids": [run_id]})
    assert response.status_code == 409
    assert run_id in response.json()["message"]


def test_trash_row_of_an_unreadable_run(fresh: tuple[TestClient, Path, dict[str, str]]) -> None:
    client, root, ids = fresh
    client.post("/api/runs/delete", json={"ids": [ids["run-0"], ids["run-1"]]})
    (root / "trash" / ids["run-0"] / RUN_JSON).write_text("{not json")
    (root / "runs" / ids["run-2"] / "edits.json").write_text('{"project": "elsewhere"}')
    client.post("/api/runs/delete", json={"ids": [ids["run-2"]]})
    rows = {r["id"]: r for r in client.get("/api/trash").json()["runs"]}
    assert rows[ids["run-0"]] == {
        "id": ids["run-0"],
        "deleted_at": rows[ids["run-0"]]["deleted_at"],
        "name": None,
        "project": None,
        "status": None,
    }
    assert rows[ids["run-1"]]["name"] == "run-1"
    assert rows[ids["run-2"]]["project"] == "elsewhere"  # the edit, not run.json's project


def test_operations_need_the_token(fresh: tuple[TestClient, Path, dict[str, str]]) -> None:
    _, root, ids = fresh
    run_id = ids["run-0"]
    with TestClient(create_app(root, token="s3cret"), base_url=BASE) as client:
        auth = {"authorization": "Bearer s3cret"}
        assert client.post("/api/runs/delete", json={"ids": [run_id]}, headers=auth).is_success
        assert client.get("/api/trash").status_code == 200  # reading needs no token
        for path, body in (
            (f"/api/runs/{ids['run-1']}/stop", None),
            ("/api/runs/restore", {"ids": [run_id]}),
            ("/api/trash/purge", {"ids": [run_id]}),
        ):
            response = client.post(path, json=body)
            assert response.status_code == 401, path
            assert "Bearer" in response.json()["message"]
        assert client.post("/api/runs/restore", json={"ids": [run_id]}, headers=auth).is_success
        assert client.get(f"/api/runs/{run_id}").status_code == 200
