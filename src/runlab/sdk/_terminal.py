"""The SDK's terminal lines: one line when a run starts, a history/summary block when it ends.

Both go to the real stderr (not the run's captured ``output.log``) and are suppressed by
``quiet`` or ``RUNLAB_SILENT=1``. The start line is written without Rich, because it is on
``runlab.init()``'s 30 ms budget; the end block uses the shared Rich console.

Example of an end block::

    runlab:
    runlab: Run history:
    runlab: accuracy ▁▃▅▆▇██
    runlab:     loss █▅▃▂▁▁▁
    runlab:
    runlab: Run summary:
    runlab: accuracy 0.95849
    runlab:     loss 0.10532
    runlab:
    runlab: run jolly-haze-4 (id pdo5110r) finished → runlab/runs/pdo5110r · view: ...
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from runlab._console import get_console, silenced

if TYPE_CHECKING:
    from rich.text import Text

__all__ = ["format_value", "print_end", "print_start", "sparkline"]

BARS = "▁▂▃▄▅▆▇█"
MAX_KEYS = 20
"""Keys shown per section of the end block; the rest are counted."""
MAX_KEY_WIDTH = 40
"""Longer keys are shortened with an ellipsis so the columns stay readable."""

_PREFIX = "runlab:"
_STATUS_STYLES = {
    "running": "blue",
    "finished": "green",
    "failed": "red",
    "crashed": "red",
    "stalled": "magenta",
    "killed": "yellow",
    "canceled": "yellow",
}
_SHELL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-")
# ANSI SGR codes for the start line (Rich is too slow to import on init's budget).
_ANSI = {"prefix": "1;34", "name": "1;33", "id": "2", "project": "1", "path": "36"}


def sparkline(values: Sequence[float], width: int = 40) -> str:
    """Draw ``values`` as a line of block characters at most ``width`` characters long.

    Longer series are bucketed: each character stands for a run of consecutive values, drawn at
    their mean unless one extreme stands out (a spike), which is then drawn instead so that a
    single outlier is never averaged away. Non-finite values (NaN, ±inf) are left out; a bucket
    with none finite is drawn as a space. A constant series is a flat line of ``▁``.

    Args:
        values: numbers (floats, ints, bools); anything indexable with ``len``.
        width: the most characters to draw (>= 1).

    Returns:
        The sparkline, ``""`` for no values.

    Raises:
        ValueError: ``width`` < 1.

    Example:
        >>> sparkline([1, 2, 3, 4, 5, 6, 7, 8])
        '▁▂▃▄▅▆▇█'
        >>> sparkline([1.0, float("nan"), 1.0])
        '▁ ▁'
        >>> sparkline(range(1000), width=10)
        '▁▂▃▃▄▅▆▆▇█'
    """
    if width < 1:
        raise ValueError(f"width={width!r} must be >= 1")
    n = len(values)
    if n == 0:
        return ""
    buckets = min(width, n)
    points: list[float | None] = []
    for i in range(buckets):
        chunk = values[i * n // buckets : (i + 1) * n // buckets]
        points.append(_bucket_value(chunk))
    finite = [p for p in points if p is not None]
    if not finite:
        return " " * buckets
    lo, hi = min(finite), max(finite)
    # Halves keep hi - lo finite even for values near ±1.8e308.
    span = hi / 2 - lo / 2
    top = len(BARS) - 1
    chars = []
    for p in points:
        if p is None:
            chars.append(" ")
        elif span <= 0:
            chars.append(BARS[0])
        else:
            level = round((p / 2 - lo / 2) / span * top)
            chars.append(BARS[min(max(level, 0), top)])
    return "".join(chars)


def _bucket_value(chunk: Sequence[float]) -> float | None:
    finite = [float(v) for v in chunk if _is_finite(v)]
    if not finite:
        return None
    if len(finite) == 1:
        return finite[0]
    lo, hi = min(finite), max(finite)
    mean = math.fsum(v / len(finite) for v in finite)
    below, above = mean - lo, hi - mean
    # A lone spike pulls one extreme far from the mean while the other stays close.
    if above > 2 * below:
        return hi
    if below > 2 * above:
        return lo
    return mean


def _is_finite(value: Any) -> bool:
    try:
        return math.isfinite(value)
    except (TypeError, ValueError):
        return False


def format_value(value: Any, max_width: int = 60) -> str:
    """Format a summary or config value for the terminal.

    Floats get 5 significant digits, ints stay exact, non-finite floats read ``nan``/``inf``;
    anything else is its ``str`` (long text is shortened with an ellipsis).

    Example:
        >>> format_value(0.123456789), format_value(12), format_value(float("-inf"))
        ('0.12346', '12', '-inf')
    """
    text = f"{value:.5g}" if isinstance(value, float) else str(value)
    if "\n" in text:
        text = " ".join(text.split())
    if len(text) > max_width:
        text = text[: max_width - 1] + "…"
    return text


def print_start(
    name: str,
    run_id: str,
    project: str,
    run_dir: str | os.PathLike[str],
    quiet: bool = False,
) -> None:
    """Write the one line that says a run started, where it is stored and how to look at it.

    Written straight to the real stderr (ANSI colours only on a terminal) so that ``init()``
    does not pay for importing Rich.
    """
    if silenced(quiet):
        return
    stream = sys.__stderr__ if sys.__stderr__ is not None else sys.stderr
    if stream is None:  # pythonw, or a daemon with closed stdio
        return
    paint = _painter(stream)
    path = _display_path(run_dir)
    line = (
        f"{paint('prefix', _PREFIX)} run {paint('name', name)} ({paint('id', 'id ' + run_id)})"
        f" in project {paint('project', project)} → {paint('path', path)}"
        f" · view: {_show_command(run_id, run_dir)}\n"
    )
    try:
        stream.write(line)
        stream.flush()
    except (OSError, ValueError):  # a closed or broken stderr must never stop a run
        pass


def _painter(stream: Any) -> Any:
    color = not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
    try:
        color = color and bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        color = False

    def paint(role: str, text: str) -> str:
        return f"\x1b[{_ANSI[role]}m{text}\x1b[0m" if color else text

    return paint


def _display_path(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute."""
    absolute = os.path.abspath(path)
    try:
        rel = os.path.relpath(absolute)
    except ValueError:  # another drive on Windows
        return absolute
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return absolute
    return rel


def _show_command(run_id: str, run_dir: str | os.PathLike[str]) -> str:
    """``runlab show <id>``, with ``--dir`` when the CLI would not find the store by default."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(run_dir)))
    default = os.environ.get("RUNLAB_DIR") or "./runlab"
    command = f"runlab show {run_id}"
    if os.path.abspath(default) != root:
        command += f" --dir {_quote(_display_path(root))}"
    return command


def _quote(word: str) -> str:
    # shlex.quote's rule without importing shlex (and re) on init's path.
    if word and all(c in _SHELL_SAFE for c in word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def print_end(
    name: str,
    run_id: str,
    status: str,
    history: Mapping[str, Sequence[float]],
    summary: Mapping[str, Any],
    run_dir: str | os.PathLike[str],
    quiet: bool = False,
) -> None:
    """Print the end-of-run block: history sparklines, summary values and the final status.

    Args:
        name: the run's name.
        run_id: the run's id.
        status: the final state (a ``RunStatus`` or its value).
        history: a bounded sample of each metric's values, in logged order.
        summary: the run summary (last value per key unless set explicitly).
        run_dir: the run's directory.
        quiet: suppress the block (as does ``RUNLAB_SILENT=1``).
    """
    if silenced(quiet):
        return
    from rich.text import Text

    console = get_console()
    lines: list[Text] = []
    history_keys = [k for k in history if not k.startswith("_")]
    summary_keys = [k for k in summary if not k.startswith("_")]
    shown = history_keys[:MAX_KEYS] + summary_keys[:MAX_KEYS]
    key_width = max((_cell_len(_short_key(k)) for k in shown), default=0)

    if history_keys:
        lines.append(Text(""))
        lines.append(Text("Run history:", style="bold"))
        for key in history_keys[:MAX_KEYS]:
            line = _key_text(key, key_width)
            line.append(sparkline(history[key]), style="cyan")
            lines.append(line)
        lines.extend(_more(len(history_keys)))
    if summary_keys:
        lines.append(Text(""))
        lines.append(Text("Run summary:", style="bold"))
        for key in summary_keys[:MAX_KEYS]:
            line = _key_text(key, key_width)
            line.append(format_value(summary[key]))
            lines.append(line)
        lines.extend(_more(len(summary_keys)))
    lines.append(Text(""))
    lines.append(_final_line(name, run_id, str(getattr(status, "value", status)), run_dir))

    for line in lines:
        prefixed = Text(_PREFIX, style="bold blue")
        if line.plain:
            prefixed.append(" ")
            prefixed.append_text(line)
        console.print(prefixed, soft_wrap=True)


def _cell_len(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def _short_key(key: str) -> str:
    return key if len(key) <= MAX_KEY_WIDTH else key[: MAX_KEY_WIDTH - 1] + "…"


def _key_text(key: str, width: int) -> Text:
    from rich.text import Text

    short = _short_key(key)
    return Text(" " * (width - _cell_len(short)) + short + " ")


def _more(total: int) -> list[Text]:
    from rich.text import Text

    if total <= MAX_KEYS:
        return []
    return [Text(f"... and {total - MAX_KEYS} more", style="dim")]


def _final_line(name: str, run_id: str, status: str, run_dir: str | os.PathLike[str]) -> Text:
    from rich.text import Text

    line = Text("run ")
    line.append(name, style="bold yellow")
    line.append(f" (id {run_id}) ")
    line.append(status, style=f"bold {_STATUS_STYLES.get(status, 'default')}")
    line.append(" → ")
    line.append(_display_path(run_dir), style="cyan")
    line.append(f" · view: {_show_command(run_id, run_dir)}")
    return line


def warm_up() -> None:
    """Import what :func:`print_end` needs (called from a background thread at init)."""
    import rich.cells
    import rich.text

    get_console()
    del rich
