"""What a grid launch shows: a progress bar while it runs and a table when it ends."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from runlab._console import get_console, silenced

if TYPE_CHECKING:
    from runlab.query import RunCollection
    from runlab.sweep._launch import Launch, Outcome

# Summary metrics shown per variant in the closing table.
_METRICS = 3


class Progress:
    """A Rich progress bar of variants: done, failed, running, ETA (nothing when silenced)."""

    def __init__(self, total: int) -> None:
        self._total = total
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if silenced():
            return self
        from rich import progress

        self._bar = progress.Progress(
            progress.TextColumn("[bold]variants"),
            progress.BarColumn(),
            progress.MofNCompleteColumn(),
            progress.TextColumn("{task.fields[stats]}"),
            progress.TimeRemainingColumn(),
            console=get_console(),
        )
        self._task = self._bar.add_task("variants", total=self._total, stats="")
        self._bar.start()
        return self

    def update(self, outcomes: Iterable[Outcome], running: int) -> None:
        if self._bar is None:
            return
        ended = list(outcomes)
        failed = sum(1 for o in ended if not o.ok)
        stats = f"done {len(ended) - failed} · failed {failed} · running {running}"
        self._bar.update(self._task, completed=len(ended), stats=stats)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()


def print_summary(jobs: list[Launch], outcomes: Mapping[int, Outcome], runs: RunCollection) -> None:
    """The closing table (variant, run, status, duration, summary metrics) and the failures."""
    if silenced():
        return
    from rich.table import Table

    views = {view.id: view for view in runs}
    summaries = {view.id: view.summary for view in runs}
    metrics = _metric_keys(summaries.values())
    table = Table(title="Variants")
    for column in ("variant", "run", "status", "duration", *metrics):
        table.add_column(column)
    for index, job in enumerate(jobs):
        outcome = outcomes.get(index)
        view = views.get(job.run_id)
        status = str(view.status) if view is not None else "not launched"
        duration = f"{outcome.seconds:.1f}s" if outcome is not None else ""
        summary = summaries.get(job.run_id, {})
        cells = [_cell(summary.get(key)) for key in metrics]
        table.add_row(job.name, job.run_id if outcome else "", status, duration, *cells)
    console = get_console()
    console.print(table)
    failed = [outcomes[i] for i in sorted(outcomes) if not outcomes[i].ok]
    if failed:
        console.print(f"[bold red]{len(failed)} of {len(jobs)} variants failed:[/]")
        for outcome in failed:
            last = (outcome.traceback or "").strip().splitlines()[-1:] or ["(no traceback)"]
            console.print(f"  {outcome.name} (run {outcome.run_id}): {last[0]}")


def _metric_keys(summaries: Iterable[Mapping[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for summary in summaries:
        for key, value in summary.items():
            if not key.startswith("_") and isinstance(value, numbers.Real):
                keys.setdefault(key)
    return sorted(keys)[:_METRICS]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
