"""``runlab show RUN``: everything recorded about one run, with a sparkline per metric."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer

from runlab._errors import RunlabError, RunNotFound
from runlab.cli._common import (
    DirOption,
    fail,
    flatten,
    format_bytes,
    format_duration,
    format_time,
    iso_time,
    open_store,
    out,
    status_text,
    store_dir,
)

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

    from runlab.query._api import Api, RunView

SPARK_WIDTH = 40
MIN_SPARK_WIDTH = 10
MAX_KEY_WIDTH = 40
MAX_FILES = 10
MAX_ALERTS = 10


def show(
    run: Annotated[str, typer.Argument(help="Run id, unique id prefix (3+ characters), or name.")],
    dir: DirOption = None,
) -> None:
    """Show a run: metadata, config, summary and metric history."""
    root = store_dir(dir)
    view = find_run(open_store(root), root, run)
    console = out()
    try:
        parts = render_run(view, console.width)
    except RunlabError as exc:  # an unreadable metadata.json, for instance
        fail(f"Cannot show run {view.id}: {exc}")
    for part in parts:
        console.print(part)


def find_run(api: Api, root: str, key: str) -> RunView:
    """The run ``key`` names (id, id prefix or name); exits with a message when none or several."""
    try:
        return api.run(key)
    except RunNotFound as exc:
        if len(api.store.find(key)) > 1:
            fail(str(exc)[:1].upper() + str(exc)[1:])  # lists the candidates
        fail(f"No run matches {key!r} in {root}")
    except RunlabError as exc:
        fail(str(exc))


def render_run(view: RunView, width: int = 100) -> list[RenderableType]:
    """The renderables ``runlab show`` prints, in order."""
    from rich.text import Text

    title = Text()
    title.append(view.name or view.id, style="bold")
    title.append(f"  {view.id}  ", style="cyan")
    title.append_text(status_text(view.status))
    parts: list[RenderableType] = [title]
    parts += _section("Run", _run_fields(view))
    parts += _section("Metadata", _metadata_fields(view.metadata or {}))
    parts += _section("Config", _config_fields(view.config or {}))
    parts += _section("Summary", _summary_fields(view.summary or {}))
    parts += _section("Alerts", _alert_fields(view.alerts()))
    history = _history_table(view, width)
    if history is not None:
        parts += [Text(""), Text("History", style="bold underline"), history]
    return parts


def _section(title: str, fields: Iterable[tuple[str, Any]]) -> list[RenderableType]:
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in fields:
        grid.add_row(key, value if isinstance(value, Text) else Text(str(value)))
    if not grid.rows:
        return []
    return [Text(""), Text(title, style="bold underline"), grid]


def _alert_fields(alerts: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """The last :data:`MAX_ALERTS` alerts: time, then ``[LEVEL] title: text``."""
    from rich.text import Text

    styles = {"INFO": "cyan", "WARN": "yellow", "ERROR": "bold red"}
    fields: list[tuple[str, Any]] = []
    for alert in alerts[-MAX_ALERTS:]:
        level = str(alert.get("level", ""))
        line = Text(f"[{level}] ", style=styles.get(level, ""))
        line.append(str(alert.get("title", "")), style="bold")
        if alert.get("text"):
            line.append(f": {alert['text']}")
        fields.append((iso_time(alert.get("time")), line))
    if len(alerts) > MAX_ALERTS:
        fields.insert(0, ("", Text(f"{len(alerts) - MAX_ALERTS} earlier not shown", style="dim")))
    return fields


def _run_fields(view: Any) -> list[tuple[str, Any]]:
    fields: list[tuple[str, Any]] = [("project", view.project)]
    status = status_text(view.status)
    if view.exit_code is not None:
        status.append(f" (exit code {view.exit_code})", style="dim")
    fields.append(("status", status))
    for label in ("group", "job_type"):
        value = getattr(view, label, None)
        if value:
            fields.append((label.replace("_", " "), value))
    if view.tags:
        fields.append(("tags", ", ".join(view.tags)))
    if view.seed is not None:
        fields.append(("seed", str(view.seed)))
    lineage = getattr(view, "lineage", None)
    if lineage:
        fields.append(("forked from", " ← ".join(f"{run}@{step}" for run, step in lineage)))
    resumed = getattr(view, "resumed", None)
    if resumed:
        last = resumed[-1].get("step")
        fields.append(("resumed", f"{len(resumed)} time(s), last at step {last}"))
    created = view.created_at
    fields.append(("created", f"{iso_time(created)} ({format_time(created)})"))
    if view.ended_at is not None:
        fields.append(("ended", iso_time(view.ended_at)))
    fields.append(("runtime", format_duration(view.runtime)))
    for label in ("description", "notes", "err_msg"):
        value = getattr(view, label, None)
        if value:
            fields.append(("error" if label == "err_msg" else label, value))
    fields.append(("dir", str(view.dir)))
    files = [path.relative_to(view.dir).as_posix() for path in view.files()]
    if files:
        more = f" and {len(files) - MAX_FILES} more" if len(files) > MAX_FILES else ""
        fields.append(("files", ", ".join(files[:MAX_FILES]) + more))
    return fields


def _metadata_fields(meta: dict[str, Any]) -> list[tuple[str, Any]]:
    fields: list[tuple[str, Any]] = []
    readers: list[tuple[str, str, Callable[[Any, dict[str, Any]], str | None]]] = [
        ("command", "command", lambda v, m: str(v)),
        ("cwd", "cwd", lambda v, m: str(v)),
        ("git", "git", _git),
        ("host", "host", lambda v, m: f"{m['user']}@{v}" if m.get("user") else str(v)),
        ("os", "os", lambda v, m: str(v)),
        ("python", "python", _python),
        ("cpu", "cpu", _cpu),
        ("memory", "memory_total", lambda v, m: format_bytes(v)),
        ("gpus", "gpus", _gpus),
        ("packages", "packages", lambda v, m: f"{len(v)} recorded" if v else None),
    ]
    for label, key, read in readers:
        value = meta.get(key)
        if value is None or value == "":
            continue
        try:
            text = read(value, meta)
        except (AttributeError, KeyError, TypeError, ValueError):
            text = str(value)  # a shape this reader does not know: show it raw
        if text:
            fields.append((label, text))
    return fields


def _git(git: Any, meta: dict[str, Any]) -> str | None:
    if not isinstance(git, dict):
        return str(git)
    if git.get("error") and not git.get("commit"):
        return f"error: {git['error']}"
    text = f"{git.get('branch') or '(detached)'} @ {str(git.get('commit') or '?')[:10]}"
    if git.get("dirty"):
        text += " (uncommitted changes)"
    if git.get("remote"):
        text += f" · {git['remote']}"
    return text


def _python(py: Any, meta: dict[str, Any]) -> str:
    if not isinstance(py, dict):
        return str(py)
    return f"{py.get('version', '?')} ({py.get('implementation', '?')})"


def _cpu(cpu: Any, meta: dict[str, Any]) -> str:
    if not isinstance(cpu, dict):
        return str(cpu)
    count = cpu.get("count_logical")
    model = cpu.get("model") or "?"
    return f"{model} × {count}" if count else model


def _gpus(gpus: Any, meta: dict[str, Any]) -> str | None:
    if not gpus:
        return None
    if not isinstance(gpus, list):
        return str(gpus)
    names: dict[str, int] = {}
    for gpu in gpus:
        label = str(gpu.get("name", "?"))
        if gpu.get("memory_total"):
            label += f" ({format_bytes(gpu['memory_total'])})"
        names[label] = names.get(label, 0) + 1
    return ", ".join(f"{n} × {label}" for label, n in names.items())


def _config_fields(config: dict[str, Any]) -> list[tuple[str, Any]]:
    # Config values are shown exactly (no rounding): they are what the run was started with.
    return [(key, _exact(value)) for key, value in flatten(config).items()]


def _exact(value: Any) -> str:
    if isinstance(value, str):
        return value
    return repr(value) if isinstance(value, float) else str(value)


def _summary_fields(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    from runlab.sdk._terminal import format_value

    return [(key, format_value(value)) for key, value in flatten(summary).items()]


def _history_table(view: RunView, width: int) -> Table | None:

    from runlab.sdk._terminal import format_value, sparkline

    keys = list(view.history_keys())
    if not keys:
        return None
    frame = view.history(keys=keys)
    rows: list[_HistoryRow] = []
    for key in keys:
        if key not in frame.columns:
            continue
        series = frame.get_column(key).drop_nulls()
        stats = _stats(series)
        if stats is None:  # text or other non-numeric history
            rows.append(_HistoryRow(key, None, "-", "-", "-", str(len(series))))
            continue
        values, lo, hi = stats
        rows.append(
            _HistoryRow(
                key,
                values,
                format_value(values[-1]) if values else "-",
                format_value(lo) if lo is not None else "-",
                format_value(hi) if hi is not None else "-",
                str(len(values)),
            )
        )
    # The sparkline takes what the other columns leave (long keys are shortened before it is).
    others = sum(max(len(label), *(len(getattr(r, label)) for r in rows)) for label in _STATS)
    key_width = min(MAX_KEY_WIDTH, max(3, *(len(r.key) for r in rows)))
    spark_width = max(MIN_SPARK_WIDTH, min(SPARK_WIDTH, width - others - key_width - 10))
    table = _new_history_table(key_width)
    for row in rows:
        line = "" if row.values is None else sparkline(row.values, spark_width)
        table.add_row(row.key, line, *(getattr(row, label) for label in _STATS))
    return table


_STATS = ("last", "min", "max", "points")


class _HistoryRow(NamedTuple):
    key: str
    values: list[float] | None
    last: str
    min: str
    max: str
    points: str


def _new_history_table(key_width: int) -> Table:
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("key", justify="right", no_wrap=True, max_width=key_width)
    table.add_column("history", style="cyan", no_wrap=True)
    for label in _STATS:
        table.add_column(label, justify="right", no_wrap=True, min_width=len(label))
    return table


def _stats(series: Any) -> tuple[list[float], float | None, float | None] | None:
    import polars as pl

    if not (series.dtype.is_numeric() or series.dtype == pl.Boolean):
        return None
    floats = series.cast(pl.Float64)
    finite = floats.filter(floats.is_finite())
    lo = finite.min() if len(finite) else None
    hi = finite.max() if len(finite) else None
    return floats.to_list(), lo, hi
