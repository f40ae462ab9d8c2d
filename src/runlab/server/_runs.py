"""Routes over runs as a whole: projects, the runs table, groups, one run, and edits.

Large bodies are serialized here (``Response`` with JSON text) rather than by FastAPI's
encoder, which costs more than the whole query on 10,000 runs; the response models still
document them in the OpenAPI schema.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from runlab.server._backend import Backend, backend, json_response
from runlab.server._models import (
    DeletedOut,
    DeleteIn,
    EditIn,
    GroupsOut,
    InfoOut,
    MoveIn,
    Order,
    ProjectOut,
    RunDetail,
    RunsOut,
    RunsPage,
    TagsIn,
)
from runlab.server._table import (
    groups,
    json_safe,
    page_json,
    select,
    sort_rows,
)

router = APIRouter()
Api = Annotated[Backend, Depends(backend)]
FilterText = Annotated[str | None, Query(max_length=10_000, description="runlab.query filter")]
Search = Annotated[str | None, Query(max_length=1_000, description="substring of name, id, tag")]


@router.get("/info", response_model=InfoOut)
def info(api: Api) -> Response:
    """The server's version, the store it serves and whether mutations need a token."""
    data = {"version": api.version, "dir": str(api.store.root), "auth_required": api.auth_required}
    return json_response(data)


@router.get("/projects", response_model=list[ProjectOut])
def projects(api: Api) -> Response:
    """Every project with runs, sorted by name."""
    return json_response(
        [
            {"name": p.name, "run_count": p.run_count, "last_activity": json_safe(p.last_activity)}
            for p in api.store.projects()
        ]
    )


@router.get("/projects/{project}/runs", response_model=RunsPage)
def runs(
    api: Api,
    project: str,
    filter: FilterText = None,
    q: Search = None,
    sort: Annotated[str, Query(max_length=500)] = "created_at",
    order: Order = "desc",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
) -> Response:
    """The project's runs: filtered, searched, sorted and paged."""
    all_rows = api.table.rows(project)
    rows = select(all_rows, filter, q)
    if sort != "created_at" or order != "desc":  # the catalog's order is created_at desc
        rows = sort_rows(rows, sort, order == "desc")
    shown = rows[offset:] if limit is None else rows[offset : offset + limit]
    body = page_json(shown, len(rows), api.table.columns(all_rows))
    return Response(body, media_type="application/json")


@router.get("/projects/{project}/groups", response_model=GroupsOut)
def project_groups(
    api: Api,
    project: str,
    by: Annotated[str, Query(min_length=1, max_length=500)],
    filter: FilterText = None,
    q: Search = None,
) -> Response:
    """The project's (filtered) runs grouped by one column, with summary aggregates."""
    rows = select(api.table.rows(project), filter, q)
    return json_response({"by": by, "groups": groups(rows, by)})


@router.get("/runs/{run_id}", response_model=RunDetail)
def run(api: Api, run_id: str) -> Response:
    """One run: its row, nested config and summary, metadata and outcome, its lineage (fork,
    resumes, rewinds), its newest alerts and, for a multi-process run, its processes."""
    return json_response(api.detail(api.view(run_id)))


@router.patch("/runs/{run_id}", response_model=RunDetail)
def edit_run(api: Api, run_id: str, body: EditIn) -> Response:
    """Replace a run's tags and/or notes (kept in ``edits.json`` beside ``run.json``)."""
    view = api.view(run_id)
    api.store.edit(view.id, tags=body.tags, notes=body.notes)
    api.table.forget()
    return json_response(api.detail(api.view(view.id)))


@router.post("/runs/delete", response_model=DeletedOut)
def delete_runs(api: Api, body: DeleteIn) -> Response:
    """Soft-delete runs by exact id (restorable from the trash); nothing is deleted when one is
    missing, or when one is still running unless ``force``."""
    ids = list(dict.fromkeys(body.ids))
    api.store.delete(ids, force=body.force)
    api.table.forget()
    return json_response({"deleted": ids})


@router.post("/runs/tags", response_model=RunsOut)
def tag_runs(api: Api, body: TagsIn) -> Response:
    """Add and remove tags on several runs."""
    views = [api.view(run_id, exact=True) for run_id in dict.fromkeys(body.ids)]
    remove = set(body.remove)
    rows = []
    for view in views:
        tags = [t for t in (*view.tags, *body.add) if t not in remove]
        rows.append(api.row(api.store.edit(view.id, tags=tags)))
    api.table.forget()
    return json_response({"runs": rows})


@router.post("/runs/move", response_model=RunsOut)
def move_runs(api: Api, body: MoveIn) -> Response:
    """Move runs to another project."""
    views = [api.view(run_id, exact=True) for run_id in dict.fromkeys(body.ids)]
    rows = [api.row(api.store.edit(view.id, project=body.project)) for view in views]
    api.table.forget()
    return json_response({"runs": rows})
