"""Routes that act on runs' lives: stop a running run, and the trash (list, restore, purge).

Deleting is ``POST /api/runs/delete`` (``_runs.py``): it moves runs to the trash, from where
these routes bring them back or purge them for good (see :mod:`runlab.storage._trash`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from runlab._status import derive_status
from runlab.server._backend import Backend, backend, json_response
from runlab.server._models import IdsIn, PurgedOut, RestoredOut, StoppedOut, TrashOut
from runlab.storage._layout import RUN_JSON, read_json
from runlab.storage._store import EDITS_JSON

router = APIRouter()
Api = Annotated[Backend, Depends(backend)]


@router.post("/runs/{run_id}/stop", response_model=StoppedOut)
def stop_run(api: Api, run_id: str, request: Request) -> Response:
    """Ask a running run to stop: its process notices within a heartbeat and ends ``killed``.

    ``stopped`` is false when the run was not running (nothing is asked then).
    """
    view = api.view(run_id, exact=True)
    client = request.client.host if request.client is not None else "?"
    stopped = api.store.request_stop(view.id, by=f"runlab ui ({client})")
    return json_response({"stopped": stopped})


@router.get("/trash", response_model=TrashOut)
def trash(api: Api) -> Response:
    """The deleted runs, most recently deleted first."""
    return json_response(
        {"runs": [_describe(d.id, d.deleted_at, d.dir) for d in api.store.deleted()]}
    )


@router.post("/runs/restore", response_model=RestoredOut)
def restore_runs(api: Api, body: IdsIn) -> Response:
    """Bring deleted runs back; nothing is restored when one is not in the trash."""
    ids = _checked(api, body.ids)
    api.store.restore(ids)
    api.table.forget()
    return json_response({"restored": ids})


@router.post("/trash/purge", response_model=PurgedOut)
def purge_runs(api: Api, body: IdsIn) -> Response:
    """Remove deleted runs for good (their ids stay retired); nothing is purged when one is not
    in the trash."""
    purged = api.store.gc(ids=_checked(api, body.ids))
    return json_response({"purged": purged})


def _checked(api: Backend, ids: list[str]) -> list[str]:
    """``ids`` without repeats, each a valid run id (``InvalidRunId``, a 400, otherwise)."""
    unique = list(dict.fromkeys(ids))
    for run_id in unique:
        api.store.run_dir(run_id)
    return unique


def _describe(run_id: str, deleted_at: float, directory: Path) -> dict[str, Any]:
    """A trash row: what the deleted run's ``run.json`` (and edits) say, where readable."""
    row: dict[str, Any] = {
        "id": run_id,
        "deleted_at": deleted_at,
        "name": None,
        "project": None,
        "status": None,
    }
    try:
        data = read_json(directory / RUN_JSON)
        edits = read_json(directory / EDITS_JSON) if (directory / EDITS_JSON).is_file() else {}
    except (OSError, ValueError):
        return row
    if not isinstance(data, dict):
        return row
    if isinstance(edits, dict) and isinstance(edits.get("project"), str):
        data = {**data, "project": edits["project"]}
    for key in ("name", "project"):
        if isinstance(data.get(key), str):
            row[key] = data[key]
    row["status"] = _status(data)
    return row


def _status(data: dict[str, Any]) -> str | None:
    """The status a reader shows (a run deleted while running reads ``crashed`` once its
    heartbeat lapses), or None when ``run.json`` does not say."""
    stored, beat, interval = (
        data.get("status"),
        data.get("heartbeat_at"),
        data.get("heartbeat_interval"),
    )
    if not isinstance(stored, str):
        return None
    try:
        return derive_status(
            stored,
            beat if isinstance(beat, (int, float)) else None,
            interval if isinstance(interval, (int, float)) and interval > 0 else 1.0,
        ).value
    except ValueError:  # not a status runlab knows
        return None
