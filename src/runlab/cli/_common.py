"""What every command shares: the ``--dir`` option, consoles, errors and value formatting."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from runlab._settings import Settings

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from runlab.query._api import Api

DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        "-d",
        help="Run store directory (default: $RUNLAB_DIR or ./runlab).",
        show_default=False,
    ),
]

STATUS_STYLES = {
    "running": "blue",
    "finished": "green",
    "failed": "red",
    "crashed": "bold red",
    "stalled": "magenta",
    "killed": "yellow",
    "canceled": "yellow",
}


def store_dir(dir: Path | None) -> str:
    """The run store a command reads: ``--dir``, else ``$RUNLAB_DIR``, else ``./runlab``."""
    return Settings.resolve(dir=None if dir is None else str(dir)).dir


def out() -> Console:
    """A console on the current stdout (looked up per command, so test runners can swap it)."""
    from rich.console import Console

    return Console(highlight=False)


def err() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def fail(message: str) -> NoReturn:
    """Print ``message`` to stderr and exit with status 1."""
    from rich.text import Text

    err().print(Text(message, style="red"), soft_wrap=True)
    raise typer.Exit(1)


def open_store(root: str) -> Api:
    """The query API on ``root``; exits with a message when there is no store there."""
    path = Path(root)
    if not path.is_dir():
        reason = "is not a directory" if path.exists() else "does not exist"
        fail(f"No runs in {root} (directory {reason})")
    from runlab.query._api import Api

    return Api(dir=root)


def status_text(status: Any) -> Text:
    from rich.text import Text

    value = str(getattr(status, "value", status))
    return Text(value, style=STATUS_STYLES.get(value, ""))


def to_epoch(value: Any) -> float | None:
    """Seconds since the epoch from a float, an int or a ``datetime``."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return float(value.timestamp())
    return float(value)


def format_time(value: Any, now: float | None = None) -> str:
    """``3m ago`` for the last week, a local date and time before that."""
    ts = to_epoch(value)
    if ts is None:
        return "-"
    now = time.time() if now is None else now
    age = now - ts
    if 0 <= age < 7 * 86400:
        if age < 60:
            return f"{int(age)}s ago"
        if age < 3600:
            return f"{int(age // 60)}m ago"
        if age < 86400:
            return f"{int(age // 3600)}h ago"
        return f"{int(age // 86400)}d ago"
    return iso_time(ts)


def iso_time(value: Any) -> str:
    ts = to_epoch(value)
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: Any) -> str:
    """``850ms``, ``12.3s``, ``4m05s``, ``2h03m``, ``3d04h``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if isinstance(seconds, dt.timedelta):
        seconds = seconds.total_seconds()
    s = float(seconds)
    if s != s or s < 0:
        return "-"
    if s < 1:
        return f"{s * 1000:.0f}ms"
    if s < 60:
        return f"{s:.1f}s"
    whole = int(s)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def format_bytes(n: Any) -> str:
    try:
        size = float(n)
    except (TypeError, ValueError):
        return str(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)  # pragma: no cover - the loop always returns


def flatten(mapping: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level with ``a/b`` keys (what the UI and query API call them)."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name + "/"))
        else:
            flat[name] = value
    return flat
