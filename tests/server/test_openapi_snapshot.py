"""The OpenAPI document is snapshotted: the web app's types are generated from it, so any change
to the API must be seen (and committed) on purpose."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi.testclient import TestClient

SNAPSHOT = Path(__file__).with_name("openapi.json")
UPDATE = "RUNLAB_UPDATE_SNAPSHOTS"


def test_openapi_matches_the_snapshot(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    schema["info"].pop("version", None)  # FastAPI's default, not ours
    text = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    if os.environ.get(UPDATE) == "1":
        SNAPSHOT.write_text(text)
    assert SNAPSHOT.is_file(), f"no snapshot yet: run {UPDATE}=1 pytest {__file__}"
    assert json.loads(SNAPSHOT.read_text()) == json.loads(text), (
        f"/api/openapi.json changed. If the change is intended, update ui/API.md and the "
        f"snapshot with: {UPDATE}=1 pytest tests/server/test_openapi_snapshot.py"
    )
