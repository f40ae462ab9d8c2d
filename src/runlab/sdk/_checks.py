"""Checks of the arguments a live run is given: steps, tags, names, scenarios, metric hints.

Each check either returns the value in the form the run keeps or raises with a message that
names the value and says what is allowed. Nothing here touches the run or the disk.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from runlab._errors import LogTypeError, StepOrderError
from runlab._status import RunStatus
from runlab.sdk._config import MetricDefinition, check_definition

if TYPE_CHECKING:
    from runlab.metrics import Metrics
    from runlab.scenario import Scenario

RESERVED_NAMES = frozenset({"scenario", "seed"})
"""Names a run with a scenario keeps its own values under, so no metric, artifact or file
may take them."""


def check_reserved(name: str, what: str) -> None:
    if name in RESERVED_NAMES:
        raise ValueError(
            f"{what} name {name!r} is reserved (the run keeps its scenario and seed under "
            "these names); choose another name"
        )


def check_file_name(name: str) -> None:
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\x00" in name
    ):
        raise ValueError(f"{name!r} is not a valid file name (no '/', '\\', '..', or empty)")


def check_seed(seed: Any) -> None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int, not {type(seed).__name__} ({seed!r})")


def load_scenario(spec: Any) -> Scenario | None:
    if spec is None:
        return None
    from runlab.scenario import Scenario  # imported by runs that have a scenario only

    scenario = spec if isinstance(spec, Scenario) else Scenario(spec)
    return None if scenario.is_empty and not spec else scenario


def check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, int):
        item = getattr(step, "item", None)
        value = item() if callable(item) else step
        if isinstance(value, bool) or not isinstance(value, int):
            raise LogTypeError(f"step must be an int, not {type(step).__name__} ({step!r})")
        step = value
    if step < 0:
        raise StepOrderError(f"step must be >= 0, got {step}")
    return int(step)


def check_tags(tags: Iterable[str] | None) -> tuple[str, ...]:
    if tags is None:
        return ()
    if isinstance(tags, str):
        tags = [tags]
    out: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip() or len(tag) > 128:
            raise ValueError(f"tag {tag!r} must be a non-empty str of at most 128 characters")
        if tag not in out:
            out.append(tag)
    return tuple(out)


def check_expect_next_in(expect_next_in: float) -> float:
    """``report_progress``'s promise in seconds: a positive, finite number."""
    seconds = expect_next_in
    number = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
    if not (number and 0 < seconds < float("inf")):  # NaN fails the comparison too
        raise ValueError(
            f"report_progress(expect_next_in={expect_next_in!r}): give the seconds until "
            "the next report, a finite number > 0"
        )
    return seconds


def check_stop_handler(handler: Callable[[], object] | None) -> None:
    if handler is not None and not callable(handler):
        raise TypeError(
            f"on_stop(handler={handler!r}): the handler must be callable (with no "
            "arguments), or None for the default KeyboardInterrupt"
        )


def check_final_status(status: RunStatus | str | None) -> RunStatus:
    """The state ``finish(status)`` ends a run in (``finished`` by default)."""
    final = RunStatus.FINISHED if status is None else RunStatus(status)
    if not final.is_terminal or final is RunStatus.CRASHED:
        raise ValueError(
            f"finish(status={status!r}): a run ends finished, failed, killed or canceled"
        )
    return final


def metric_definition(name: str, metric: Metrics) -> MetricDefinition:
    """The definition ``run.add_metric(name, metric)`` registers.

    Raises:
        ValueError: ``name`` is reserved, or not a valid metric name.
        TypeError: ``metric`` is not a ``runlab.metrics.Metrics`` (or ``Summary``).
    """
    from runlab.metrics import Metrics, Summary

    check_reserved(name, "metric")
    if not isinstance(metric, Metrics):
        raise TypeError(
            f"add_metric({name!r}, ...): expected runlab.metrics.Metrics or Summary, "
            f"not {type(metric).__name__}"
        )
    kind = metric.kind if isinstance(metric, Summary) else "last"
    definition = check_definition(name, kind, None, None)
    return dataclasses.replace(definition, graph=metric.graph)
