"""Routes into one run's data: metrics and series, the output log, files, episodes, scenario."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.responses import FileResponse

from runlab.server._backend import Backend, backend, json_response
from runlab.server._files import list_files, media_type, read_log, resolve_inside
from runlab.server._models import (
    EpisodesOut,
    EpisodeStatsOut,
    FilesOut,
    LogsOut,
    MetricsOut,
    Root,
    ScenarioOut,
    SeriesOut,
    XAxis,
)
from runlab.server._series import Series, m4_indices, values_json
from runlab.server._table import json_safe
from runlab.storage._layout import FILES_DIR, OUTPUT_LOG

router = APIRouter()
Api = Annotated[Backend, Depends(backend)]

# Files of a run are shown inside the app's origin: never let one run as a page there.
_FILE_HEADERS = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}


@router.get("/runs/{run_id}/metrics", response_model=MetricsOut)
def metrics(api: Api, run_id: str) -> Response:
    """Every logged key (``system/*`` included) with its count, step range and extremes."""
    return json_response({"metrics": api.metrics(api.view(run_id))})


@router.get("/runs/{run_id}/series", response_model=SeriesOut)
def series(
    api: Api,
    run_id: str,
    key: Annotated[str, Query(min_length=1, max_length=1000)],
    x: XAxis = "step",
    width: Annotated[int, Query(ge=2, le=20_000)] = 1000,
    x_min: float | None = None,
    x_max: float | None = None,
    after_step: int | None = None,
) -> Response:
    """One key's points: M4-downsampled to ``width`` buckets when more fall in the range."""
    view = api.view(run_id)
    data = api.series.get(view.dir, key, with_times=x != "step")
    if not data.size:
        raise HTTPException(404, f"run {view.id} has no metric {key!r}")
    return json_response(_series_body(data, key, x, width, x_min, x_max, after_step))


def _series_body(
    data: Series,
    key: str,
    x: str,
    width: int,
    x_min: float | None,
    x_max: float | None,
    after_step: int | None,
) -> dict[str, Any]:
    """The series response: the points in range, raw or M4-picked, on the asked x axis."""
    n = data.size
    times = data.times
    if after_step is not None:
        start, stop = data.step_index(after_step, side="right"), n
    elif x == "step":
        start = 0 if x_min is None else data.step_index(x_min, side="left")
        stop = n if x_max is None else data.step_index(x_max, side="right")
    else:
        assert times is not None
        origin = 0.0 if x == "time" else float(times[0])
        start = 0 if x_min is None else int(times.searchsorted(x_min + origin, side="left"))
        stop = n if x_max is None else int(times.searchsorted(x_max + origin, side="right"))
    stop = max(start, stop)
    sampled = after_step is None and stop - start > width
    if sampled:
        # Buckets split the step range; gapless steps are evenly spread, so splitting the points
        # is the same. Wall times are split by points (a clock may step back).
        bucket_x = data.steps[start:stop] if x == "step" and data.steps is not None else None
        picked = start + m4_indices(bucket_x, data.values[start:stop], width, data.has_nan)
    else:
        picked = slice(start, stop)
    steps = data.steps_at(picked)
    ys = data.values[picked]
    if x == "step":
        xv = steps
    else:
        assert times is not None
        xv = times[picked] if x == "time" else times[picked] - times[0]
    last = data.steps_at(slice(n - 1, n))
    return {
        "key": key,
        "x": values_json(xv),
        "y": values_json(ys),
        "steps": steps.tolist(),
        "sampled": sampled,
        "total": n,
        "last_step": int(last[0]) if len(last) else None,
    }


@router.get("/runs/{run_id}/logs", response_model=LogsOut)
def logs(
    api: Api,
    run_id: str,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=16 * 2**20)] = 262_144,
) -> Response:
    """Part of the run's ``files/output.log`` from a byte offset (the cursor of a live view)."""
    view = api.view(run_id)
    return json_response(read_log(view.dir / FILES_DIR / OUTPUT_LOG, offset, limit))


@router.get("/runs/{run_id}/logs/download", response_class=FileResponse)
def download_logs(api: Api, run_id: str) -> Response:
    """The whole output log as a ``text/plain`` attachment."""
    view = api.view(run_id)
    path = view.dir / FILES_DIR / OUTPUT_LOG
    if not path.is_file():
        raise HTTPException(404, f"run {view.id} has no output log")
    return FileResponse(
        path,
        media_type="text/plain; charset=utf-8",
        filename=f"{view.id}-output.log",
        headers=_FILE_HEADERS,
    )


@router.get("/runs/{run_id}/files", response_model=FilesOut)
def files(api: Api, run_id: str, root: Root = "files") -> Response:
    """The files under the run's ``files/`` or ``artifacts/`` directory."""
    view = api.view(run_id)
    return json_response({"files": list_files(view.dir / root)})


@router.get("/runs/{run_id}/file", response_class=FileResponse)
def file(
    api: Api,
    run_id: str,
    path: Annotated[str, Query(min_length=1, max_length=4096)],
    root: Root = "files",
    download: bool = False,
) -> Response:
    """One file of the run, with its content type (text as ``text/plain``)."""
    view = api.view(run_id)
    target = resolve_inside(view.dir / root, path)
    name = target.name
    return FileResponse(
        target,
        media_type=media_type(path),
        filename=name if download else None,
        content_disposition_type="attachment" if download else "inline",
        headers=_FILE_HEADERS,
    )


@router.get("/runs/{run_id}/episodes", response_model=EpisodesOut)
def episodes(
    api: Api,
    run_id: str,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
) -> Response:
    """The run's episodes, by index: ``params.<name>`` and ``metrics.<key>`` columns."""
    # A shared run's are every process's (owner first, then ranks in label order, each by its
    # own index) with a ``rank`` column after ``index``; the docstring is the OpenAPI text.
    records = api.view(run_id).episode_records()
    shown = records[offset:] if limit is None else records[offset : offset + limit]
    params: dict[str, None] = {}
    metric_keys: dict[str, None] = {}
    for r in records:
        params.update(dict.fromkeys(r.params))
        metric_keys.update(dict.fromkeys(r.metrics))
    ranked = any(r.rank is not None for r in records)
    fixed = ["index", "id", "status", "seed", "start", "end", "duration", "err_msg"]
    if ranked:
        fixed.insert(1, "rank")
    cols = fixed + [f"params.{p}" for p in params] + [f"metrics.{k}" for k in metric_keys]
    rows = []
    for r in shown:
        row: dict[str, Any] = {"index": r.index}
        if ranked:
            row["rank"] = r.rank
        row |= {
            "id": r.episode_id,
            "status": r.status,
            "seed": r.seed,
            "start": r.start,
            "end": r.end,
            "duration": r.duration,
            "err_msg": r.err_msg,
        }
        row.update({f"params.{k}": v for k, v in r.params.items()})
        row.update({f"metrics.{k}": v for k, v in r.metrics.items()})
        rows.append(json_safe(row))
    return json_response({"total": len(records), "columns": cols, "rows": rows})


@router.get("/runs/{run_id}/episodes/stats", response_model=EpisodeStatsOut)
def episode_stats(
    api: Api,
    run_id: str,
    param: Annotated[str | None, Query(max_length=1000)] = None,
    outcome: Annotated[str, Query(min_length=1, max_length=1000)] = "status",
    bins: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> Response:
    """Outcome counts per parameter bin (the rows of ``RunView.scenario_stats``)."""
    frame = api.view(run_id).scenario_stats(bins=bins, outcome=outcome)
    rows = frame.to_dicts()
    if param is not None and "parameter" in frame.columns:
        rows = [row for row in rows if row["parameter"] == param]
    return json_response({"param": param, "rows": json_safe(rows)})


@router.get("/runs/{run_id}/scenario", response_model=ScenarioOut)
def scenario(api: Api, run_id: str) -> Response:
    """The run's scenario as YAML text, or null."""
    return json_response({"yaml": api.view(run_id).scenario})
