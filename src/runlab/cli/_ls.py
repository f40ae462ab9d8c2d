"""``runlab ls``: runs newest first (or sorted by a key), filtered, as a table, CSV or JSON."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runlab._status import RunStatus
from runlab.cli._common import (
    DirOption,
    err,
    fail,
    format_duration,
    format_time,
    open_store,
    out,
    status_text,
    store_dir,
)
from runlab.cli._query import (
    FilterOption,
    iso_utc,
    parse_filter,
    parse_keys,
    parse_sort,
    plain,
    sort_runs,
)

SUMMARY_COLUMNS = 3
"""Summary values shown per run: the numeric keys most runs in the listing share."""

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from runlab.query._filter import Key

Getter = Callable[[Any, str], tuple[bool, Any]]
"""Reads one column's value of a run: ``(True, value)``, or ``(False, None)`` when it has none."""

_FORMATS = ("table", "csv", "json")
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
    filter: FilterOption = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            "-c",
            help="Comma-separated config/summary keys to show (e.g. lr,loss,config.model.depth) "
            "instead of the summary values picked automatically.",
            show_default=False,
        ),
    ] = None,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            help="Sort by this key (-KEY for descending); runs without it come last.",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            "-F",
            help="table, or csv / json for machines (all columns, no styling).",
        ),
    ] = "table",
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Most runs to list.")] = 50,
) -> None:
    """List runs, newest first (or in --sort order), optionally filtered."""
    root = store_dir(dir)
    wanted_status = _parse_status(status)
    if format not in _FORMATS:
        raise typer.BadParameter(
            f"{format!r} is not a format; use one of {', '.join(_FORMATS)}", param_hint="--format"
        )
    matcher = parse_filter(filter)
    keys = parse_keys(columns, "--columns")
    sort_key, descending = parse_sort(sort)
    api = open_store(root)
    whole = matcher is not None or sort_key is not None  # filtering and sorting need every run
    runs = api.runs(
        project=project, status=wanted_status, tags=tag or None, limit=None if whole else limit + 1
    )
    if matcher is not None:
        runs = [run for run in runs if matcher.matches(run)]
    if sort_key is not None:
        runs = sort_runs(runs, sort_key, descending)
    more = len(runs) > limit
    runs = runs[:limit]
    if format != "table":
        _write_machine(runs, keys, format)
        if more:
            err().print(f"more runs match: raise --limit {limit}", style="dim", soft_wrap=True)
        return
    if not runs:
        filters = _describe_filters(project, wanted_status, tag, filter)
        if filters:
            fail(f"No runs match {filters} in {root}")
        fail(f"No runs in {root}")

    console = out()
    if keys:
        console.print(runs_table(runs, [str(k) for k in keys], _key_getter(keys)))
    else:
        console.print(fitted_table(console, runs))
    noun = "run" if len(runs) == 1 else "runs"
    footer = f"{len(runs)} {noun} in {root}"
    if more:
        footer += f" (more not shown: raise --limit {limit})"
    console.print(footer, style="dim", soft_wrap=True)


def _key_getter(keys: Sequence[Key]) -> Getter:
    from runlab.query._filter import resolve

    by_name = {str(k): k for k in keys}
    return lambda run, name: resolve(run, by_name[name])


def _summary_getter(run: Any, key: str) -> tuple[bool, Any]:
    summary = run.summary or {}
    return (True, summary[key]) if key in summary else (False, None)


def _write_machine(runs: Sequence[Any], keys: Sequence[Key], format: str) -> None:
    """Every run as a CSV row or a JSON object on stdout: fixed fields, then the columns."""
    import json

    names = [str(k) for k in keys] if keys else summary_columns(runs, count=1 << 30)
    get = _key_getter(keys) if keys else _summary_getter
    rows = []
    for run in runs:
        row: dict[str, Any] = {
            "id": run.id,
            "name": run.name,
            "project": run.project,
            "status": str(getattr(run.status, "value", run.status)),
            "created_at": iso_utc(run.created_at),
            "runtime": run.runtime,
            "tags": list(run.tags or ()),
        }
        for name in names:
            row[name] = get(run, name)[1]
        rows.append(plain(row))
    if format == "json":
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "name", "project", "status", "created_at", "runtime", "tags", *names])
    for row in rows:
        row["tags"] = ",".join(row["tags"])
        writer.writerow([_csv_cell(value) for value in row.values()])
    typer.echo(buffer.getvalue(), nl=False)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _parse_status(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return RunStatus(value).value
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a run state; use one of {_STATUS_NAMES}", param_hint="--status"
        ) from None


def _describe_filters(
    project: str | None, status: str | None, tags: Sequence[str] | None, filter: str | None
) -> str:
    parts = []
    if project is not None:
        parts.append(f"project={project!r}")
    if status is not None:
        parts.append(f"status={status!r}")
    if tags:
        parts.append("tags=" + ",".join(repr(t) for t in tags))
    if filter is not None:
        parts.append(f"--filter {filter!r}")
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


def runs_table(runs: Sequence[Any], keys: Sequence[str], get: Getter = _summary_getter) -> Table:
    """A Rich table of ``runs``, one row each, with a column per key (read by ``get``)."""
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
        values = [get(run, key) for key in keys]
        table.add_row(
            run.id,
            run.name or "",
            run.project or "",
            status_text(run.status),
            format_time(run.created_at, now),
            format_duration(run.runtime),
            ",".join(run.tags or ()),
            *(format_value(value, 14) if found else "-" for found, value in values),
        )
    return table
