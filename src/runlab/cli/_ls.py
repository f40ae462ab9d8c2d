"""``runlab ls``: a table of runs, newest first, filtered by project, status and tags."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runlab._status import RunStatus
from runlab.cli._common import (
    DirOption,
    fail,
    format_duration,
    format_time,
    open_store,
    out,
    status_text,
    store_dir,
)

SUMMARY_COLUMNS = 3
"""Summary values shown per run: the numeric keys most runs in the listing share."""

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

_STATUS_NAMES = ", ".join(s.value for s in RunStatus)


def ls(
    dir: DirOption = None,
    project: Annotated[
        str | None, typer.Option("--project", "-p", help="Only runs of this project.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", "-s", help=f"Only runs in this state ({_STATUS_NAMES})."),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", "-t", help="Only runs with this tag (repeat: runs with all)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Most runs to list.")] = 50,
) -> None:
    """List runs, newest first."""
    root = store_dir(dir)
    wanted_status = _parse_status(status)
    api = open_store(root)
    runs = api.runs(project=project, status=wanted_status, tags=tag or None, limit=limit + 1)
    if not runs:
        filters = _describe_filters(project, wanted_status, tag)
        if filters:
            fail(f"No runs match {filters} in {root}")
        fail(f"No runs in {root}")
    more = len(runs) > limit
    runs = runs[:limit]

    console = out()
    console.print(fitted_table(console, runs))
    noun = "run" if len(runs) == 1 else "runs"
    footer = f"{len(runs)} {noun} in {root}"
    if more:
        footer += f" (more not shown: raise --limit {limit})"
    console.print(footer, style="dim", soft_wrap=True)


def _parse_status(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return RunStatus(value).value
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a run state; use one of {_STATUS_NAMES}", param_hint="--status"
        ) from None


def _describe_filters(project: str | None, status: str | None, tags: Sequence[str] | None) -> str:
    parts = []
    if project is not None:
        parts.append(f"project={project!r}")
    if status is not None:
        parts.append(f"status={status!r}")
    if tags:
        parts.append("tags=" + ",".join(repr(t) for t in tags))
    return " ".join(parts)


def summary_columns(runs: Sequence[Any], count: int = SUMMARY_COLUMNS) -> list[str]:
    """The numeric summary keys most of ``runs`` have (ties in first-seen order)."""
    seen: Counter[str] = Counter()
    for run in runs:
        for key, value in (run.summary or {}).items():
            if key.startswith("_") or isinstance(value, bool):
                continue
            if isinstance(value, (int, float)):
                seen[key] += 1
    return [key for key, _ in seen.most_common(count)]


def fitted_table(console: Console, runs: Sequence[Any]) -> Table:
    """The runs table with as many summary columns as fit the console's width."""
    from rich.measure import Measurement

    keys = summary_columns(runs)
    unbounded = console.options.update_width(1 << 16)
    while True:
        table = runs_table(runs, keys)
        if not keys or Measurement.get(console, unbounded, table).maximum <= console.width:
            return table
        keys = keys[:-1]


def runs_table(runs: Sequence[Any], keys: Sequence[str]) -> Table:
    """A Rich table of ``runs`` (one row each) with the summary values of ``keys``."""
    from rich.table import Table

    from runlab.sdk._terminal import format_value

    table = Table(box=None, header_style="bold", pad_edge=False)
    # Identity and state never shrink; names, projects and tags give way first.
    id_width = max(len(run.id) for run in runs) if runs else 2
    table.add_column("id", style="cyan", no_wrap=True, min_width=id_width)
    table.add_column("name", no_wrap=True, max_width=30)
    table.add_column("project", no_wrap=True, max_width=20)
    table.add_column("status", no_wrap=True, min_width=8)
    table.add_column("created", no_wrap=True, min_width=7)
    table.add_column("runtime", justify="right", no_wrap=True, min_width=7)
    table.add_column("tags", max_width=24)
    for key in keys:
        table.add_column(key, justify="right", no_wrap=True, max_width=14)
    now = time.time()
    for run in runs:
        summary = run.summary or {}
        table.add_row(
            run.id,
            run.name or "",
            run.project or "",
            status_text(run.status),
            format_time(run.created_at, now),
            format_duration(run.runtime),
            ",".join(run.tags or ()),
            *(format_value(summary[k], 14) if k in summary else "-" for k in keys),
        )
    return table
