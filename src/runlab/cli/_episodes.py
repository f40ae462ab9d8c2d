"""``runlab episodes RUN``: a run's episodes, then where they fail (success rate per bin).

The first table lists episodes by index with their status, duration, sampled parameters and
last metric values (as many parameter and metric columns as fit the terminal). The second is
``RunView.scenario_stats()``: per parameter bin or category, the episode count, a count per
status and the success rate, green from 80 %, yellow from 50 %, red below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runlab._errors import RunlabError
from runlab.cli._common import DirOption, fail, format_duration, open_store, out, store_dir
from runlab.cli._show import find_run

if TYPE_CHECKING:
    import polars as pl
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

EPISODE_STYLES = {
    "SUCCESS": "green",
    "FAILED": "red",
    "ERRORED": "bold red",
    "CANCELED": "yellow",
    "RUNNING": "blue",
    "INTERRUPTED": "magenta",
}
GOOD_RATE = 0.8
FAIR_RATE = 0.5
BAR_WIDTH = 10
MAX_VALUE_WIDTH = 24
MAX_ERROR_WIDTH = 40


def episodes(
    run: Annotated[str, typer.Argument(help="Run id, unique id prefix (3+ characters), or name.")],
    dir: DirOption = None,
    bins: Annotated[
        int, typer.Option("--bins", "-b", min=1, help="Bins per numeric parameter.")
    ] = 10,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Most episodes to list.")] = 50,
) -> None:
    """Show a run's episodes and the success rate per scenario parameter bin."""
    root = store_dir(dir)
    view = find_run(open_store(root), root, run)
    try:
        frame = view.episodes()
        stats = view.scenario_stats(bins=bins) if len(frame) else None
    except RunlabError as exc:
        fail(f"Cannot read the episodes of run {view.id}: {exc}")
    if stats is None:
        fail(f"Run {view.id} ({view.name}) has no episodes")
    console = out()
    console.print(_headline(view, frame))
    console.print(fitted_episodes_table(console, frame.head(limit)))
    if len(frame) > limit:
        console.print(
            f"{len(frame) - limit} more episodes not shown (raise --limit {limit})",
            style="dim",
            soft_wrap=True,
        )
    console.print()
    if len(stats):
        console.print("Success rate per parameter bin", style="bold underline")
        console.print(fitted_stats_table(console, stats))
    else:
        console.print("No sampled parameters to break the outcomes down by.", style="dim")


def _headline(view: Any, frame: pl.DataFrame) -> Text:
    from rich.text import Text

    from runlab.storage._episodes import ENDED_STATUSES

    counts = frame.get_column("status").value_counts(sort=True).rows()
    text = Text()
    text.append(view.name or view.id, style="bold")
    text.append(f"  {view.id}  ", style="cyan")
    noun = "episode" if len(frame) == 1 else "episodes"
    text.append(f"{len(frame)} {noun}: ")
    for i, (status, count) in enumerate(counts):
        if i:
            text.append(" · ")
        text.append(f"{count} {status}", style=EPISODE_STYLES.get(status, ""))
    ended = sum(n for status, n in counts if status in ENDED_STATUSES)
    if ended:
        success = sum(n for status, n in counts if status == "SUCCESS")
        text.append("  success rate ")
        text.append_text(rate_text(success / ended))
    return text


def fitted_episodes_table(console: Console, frame: pl.DataFrame) -> Table:
    """The episodes table with as many parameter/metric columns as fit the console's width."""
    from rich.measure import Measurement

    from runlab.query._episodes import FIXED_COLUMNS

    extra = [c for c in frame.columns if c not in FIXED_COLUMNS]
    unbounded = console.options.update_width(1 << 16)
    while True:
        table = episodes_table(frame, extra)
        if not extra or Measurement.get(console, unbounded, table).maximum <= console.width:
            return table
        extra = extra[:-1]


def episodes_table(frame: pl.DataFrame, columns: Sequence[str]) -> Table:
    """A Rich table of an episodes frame: fixed columns, then ``columns``, then errors."""
    from rich.table import Table
    from rich.text import Text

    def widest(name: str) -> int:
        return max([len(name), *(len(str(v)) for v in frame.get_column(name))])

    # Index, status and duration keep their width; ids and errors give way first.
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("index", justify="right", no_wrap=True, min_width=widest("index"))
    table.add_column("episode_id", style="cyan", no_wrap=True, max_width=24)
    table.add_column("status", no_wrap=True, min_width=widest("status"))
    table.add_column("duration", justify="right", no_wrap=True, min_width=len("duration"))
    for name in columns:
        table.add_column(name, justify="right", no_wrap=True, max_width=MAX_VALUE_WIDTH)
    errors = frame.get_column("err_msg").drop_nulls().len() > 0
    if errors:
        table.add_column("error", no_wrap=True, max_width=MAX_ERROR_WIDTH, style="dim")
    for row in frame.iter_rows(named=True):
        cells: list[Any] = [
            str(row["index"]),
            row["episode_id"],
            Text(row["status"], style=EPISODE_STYLES.get(row["status"], "")),
            format_duration(row["duration"]),
            *(cell_text(row[name]) for name in columns),
        ]
        if errors:
            cells.append(" ".join((row["err_msg"] or "").split()))
        table.add_row(*cells)
    return table


def cell_text(value: Any) -> str:
    """A parameter or metric value: 5 significant digits, vectors as ``[a, b]``, ``-`` if none."""
    from runlab.sdk._terminal import format_value

    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return format_value("[" + ", ".join(cell_text(v) for v in value) + "]", MAX_VALUE_WIDTH)
    return format_value(value, MAX_VALUE_WIDTH)


def fitted_stats_table(console: Console, stats: pl.DataFrame) -> Table:
    """The scenario stats table; on a narrow console the rate bars go, then status counts."""
    from rich.measure import Measurement

    from runlab.query._episodes import STATS_COLUMNS

    counts = [c for c in stats.columns if c not in (*STATS_COLUMNS, "success_rate")]
    unbounded = console.options.update_width(1 << 16)
    bars = True
    while True:
        table = stats_table(stats, bars, counts)
        if Measurement.get(console, unbounded, table).maximum <= console.width or not (
            bars or counts
        ):
            return table
        if bars:
            bars = False
        else:
            counts = counts[:-1]


def stats_table(
    stats: pl.DataFrame, bars: bool = True, counts: Sequence[str] | None = None
) -> Table:
    """A Rich table of ``scenario_stats``: one section per parameter, rates colour-coded.

    ``counts``: the status count columns to show (all when None).
    """
    from rich.table import Table

    from runlab.query._episodes import STATS_COLUMNS

    if counts is None:
        counts = [c for c in stats.columns if c not in (*STATS_COLUMNS, "success_rate")]
    rows = stats.rows(named=True)

    def widest(name: str) -> int:
        return max([len(name), *(len(str(row[name])) for row in rows)])

    # Numbers keep their width; a narrow terminal shortens parameter names and bins instead.
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("parameter", no_wrap=True, style="bold", max_width=widest("parameter"))
    table.add_column("bin", no_wrap=True, max_width=widest("bin"))
    table.add_column("n", justify="right", no_wrap=True, min_width=widest("n"))
    table.add_column("rate", justify="right", no_wrap=True, min_width=len("100%"))
    if bars:
        table.add_column("", no_wrap=True, min_width=BAR_WIDTH)
    for name in counts:
        style = EPISODE_STYLES.get(name, "")
        table.add_column(name, justify="right", no_wrap=True, style=style, min_width=len(name))
    for i, row in enumerate(rows):
        first = i == 0 or rows[i - 1]["parameter"] != row["parameter"]
        last = i == len(rows) - 1 or rows[i + 1]["parameter"] != row["parameter"]
        rate = row["success_rate"]
        cells: list[Any] = [row["parameter"] if first else "", row["bin"], str(row["n"])]
        cells.append(rate_text(rate))
        if bars:
            cells.append(rate_bar(rate))
        cells += [str(row[name]) if row[name] else "·" for name in counts]
        table.add_row(*cells, end_section=last)
    return table


def rate_style(rate: float | None) -> str:
    if rate is None:
        return "dim"
    if rate >= GOOD_RATE:
        return "green"
    return "yellow" if rate >= FAIR_RATE else "red"


def rate_text(rate: float | None) -> Text:
    """``83%`` coloured by how good it is; ``-`` when no episode in the bin has ended."""
    from rich.text import Text

    return Text("-" if rate is None else f"{rate:.0%}", style=rate_style(rate))


def rate_bar(rate: float | None) -> Text:
    from rich.text import Text

    if rate is None:
        return Text("")
    filled = round(rate * BAR_WIDTH)
    bar = Text("█" * filled, style=rate_style(rate))
    bar.append("░" * (BAR_WIDTH - filled), style="dim")
    return bar
