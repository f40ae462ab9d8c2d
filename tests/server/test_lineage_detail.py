"""The run detail's history facts: lineage (fork, resumes, rewinds), alerts and processes, on a
store written by the real SDK."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import runlab
from runlab.server import create_app
from server.server_helpers import BASE, SETTINGS, start


class Lineage:
    """A parent and its fork, a resumed run, a rewound run, runs with alerts, a shared run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        parent = start(root, project="lin", name="parent")
        for step in range(10):
            parent.log({"loss": float(step)})
        parent.finish()
        self.parent = parent.id
        fork = runlab.init(
            dir=root, project="forks", name="child", fork_from=(parent.id, 4), settings=SETTINGS
        )
        fork.log({"loss": 0.5})
        fork.finish()
        self.fork = fork.id

        resumed = start(root, project="lin", id="resumed1")
        for step in range(3):
            resumed.log({"x": float(step)})
        resumed.finish()
        again = runlab.init(
            dir=root, project="lin", id="resumed1", resume="allow", settings=SETTINGS
        )
        self.resumed_step = again.step
        again.log({"x": 3.0})
        again.finish()

        rewound = start(root, project="lin", id="rewound1")
        for step in range(6):
            rewound.log({"x": float(step)})
        rewound.finish()
        back = runlab.init(
            dir=root,
            project="lin",
            id="rewound1",
            resume_from="rewound1?_step=2",
            settings=SETTINGS,
        )
        back.log({"x": -1.0})
        back.finish()

        alerting = start(root, project="lin", name="alerting")
        assert alerting.alert("t", "x", level="WARN")
        assert alerting.alert("later", "y", level="error")
        alerting.finish()
        self.alerting = alerting.id

        many = start(root, project="lin", name="many-alerts")
        for i in range(105):
            assert many.alert(f"alert {i}", f"number {i}")
        many.finish()
        self.many = many.id

        owner = runlab.init(dir=root, project="lin", id="shared1", shared=True, settings=SETTINGS)
        rank = runlab.init(
            dir=root, project="lin", id="shared1", shared=True, label="rank-1", settings=SETTINGS
        )
        owner.log({"owner/loss": 1.0})
        rank.log({"rank-1/loss": 2.0})
        rank.finish()
        owner.finish()


@pytest.fixture(scope="module")
def lineage(tmp_path_factory: pytest.TempPathFactory) -> Lineage:
    return Lineage(tmp_path_factory.mktemp("lineage"))


@pytest.fixture(scope="module")
def client(lineage: Lineage) -> Iterator[TestClient]:
    with TestClient(create_app(lineage.root), base_url=BASE) as c:
        yield c


def detail(client: TestClient, run_id: str) -> dict[str, Any]:
    response = client.get(f"/api/runs/{run_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_fork_names_its_parent_and_step(client: TestClient, lineage: Lineage) -> None:
    body = detail(client, lineage.fork)
    assert body["lineage"] == {
        "fork": {"run": lineage.parent, "step": 4, "project": "lin", "name": "parent"},
        "resumed": [],
        "rewinds": [],
    }
    assert body["alerts"] == [] and body["ranks"] == []


def test_a_plain_run_has_no_history_facts(client: TestClient, lineage: Lineage) -> None:
    body = detail(client, lineage.parent)
    assert body["lineage"] == {"fork": None, "resumed": [], "rewinds": []}
    assert body["alerts"] == []
    assert body["ranks"] == []  # a plain run is one process: no Processes block


def test_a_resumed_run_lists_its_resume(client: TestClient, lineage: Lineage) -> None:
    body = detail(client, "resumed1")
    assert lineage.resumed_step == 3
    (event,) = body["lineage"]["resumed"]
    assert event["step"] == 3
    assert isinstance(event["at"], float) and event["at"] >= body["run"]["created_at"]
    assert body["lineage"]["fork"] is None and body["lineage"]["rewinds"] == []


def test_a_rewind_is_listed_as_a_rewind_not_a_resume(client: TestClient) -> None:
    body = detail(client, "rewound1")
    (event,) = body["lineage"]["rewinds"]
    assert event["step"] == 2
    assert isinstance(event["at"], float)
    assert body["lineage"]["resumed"] == []  # RunView.resumed lists it too: not shown twice


def test_runview_counts_a_rewind_among_resumes(lineage: Lineage) -> None:
    # Why the server sets rewinds apart: RunView.resumed lists every resume and every rewind.
    assert len(runlab.Api(str(lineage.root)).run("rewound1").resumed) == 1


def test_alerts_newest_first(client: TestClient, lineage: Lineage) -> None:
    alerts = detail(client, lineage.alerting)["alerts"]
    assert [(a["title"], a["text"], a["level"]) for a in alerts] == [
        ("later", "y", "ERROR"),
        ("t", "x", "WARN"),
    ]
    assert all(a["kind"] == "user" and isinstance(a["time"], float) for a in alerts)
    assert alerts[0]["time"] >= alerts[1]["time"]
    # Recorded in files/alerts.jsonl even with the console sink silenced (quiet).
    assert (lineage.root / "runs" / lineage.alerting / "files" / "alerts.jsonl").is_file()


def test_at_most_100_alerts_the_newest(client: TestClient, lineage: Lineage) -> None:
    alerts = detail(client, lineage.many)["alerts"]
    assert len(alerts) == 100
    assert alerts[0]["title"] == "alert 104"
    assert alerts[-1]["title"] == "alert 5"


def test_a_shared_run_lists_its_processes(client: TestClient) -> None:
    ranks = detail(client, "shared1")["ranks"]
    assert [(r["label"], r["owner"], r["status"]) for r in ranks] == [
        ("owner", True, "finished"),
        ("rank-1", False, "finished"),
    ]
    for rank in ranks:
        assert rank["pid"] == os.getpid()
        assert isinstance(rank["host"], str) and rank["host"]
        assert isinstance(rank["heartbeat_at"], float)


def test_a_fork_whose_parent_is_gone_still_names_it(tmp_path: Path) -> None:
    parent = start(tmp_path, project="p", name="parent")
    for step in range(3):
        parent.log({"x": float(step)})
    parent.finish()
    child = runlab.init(dir=tmp_path, project="p", fork_from=(parent.id, 1), settings=SETTINGS)
    child.finish()
    runlab.Api(str(tmp_path)).delete(parent.id)
    with TestClient(create_app(tmp_path), base_url=BASE) as client:
        fork = detail(client, child.id)["lineage"]["fork"]
    assert fork == {"run": parent.id, "step": 1, "project": None, "name": None}
