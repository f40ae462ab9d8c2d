"""Run states, with HumaLab's names accepted as aliases."""

from __future__ import annotations

import enum
import time

CRASH_AFTER_BEATS = 3
"""A running run whose last heartbeat is older than this many intervals reads as crashed."""


class RunStatus(str, enum.Enum):
    """The state of a run.

    ``running`` ends in ``finished``, ``failed`` (exception or non-zero exit), ``killed``
    (SIGINT/SIGTERM or stopped from outside) or ``canceled`` (explicit). ``crashed`` is derived
    by readers from a ``running`` run whose heartbeat has lapsed; ``runlab watch`` also writes it
    for a run whose process is verifiably gone, and readers accept it stored. ``stalled`` is
    never written: it is a ``running`` run, still beating, that missed the deadline it promised
    with ``run.report_progress(expect_next_in=...)``.

    HumaLab's names are accepted: ``RunStatus("FINISHED")`` is ``finished``, ``ERRORED`` is
    ``failed``, ``CANCELED`` is ``canceled``.

    Example:
        >>> RunStatus("ERRORED") is RunStatus.FAILED
        True
    """

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"
    CANCELED = "canceled"
    CRASHED = "crashed"
    STALLED = "stalled"

    # HumaLab aliases (enum aliases: same members, so identity comparisons hold).
    ERRORED = "failed"
    CANCELLED = "canceled"

    @classmethod
    def _missing_(cls, value: object) -> RunStatus | None:
        if isinstance(value, str):
            key = value.strip().lower()
            aliases = {"errored": "failed", "error": "failed", "cancelled": "canceled"}
            key = aliases.get(key, key)
            for member in cls:
                if member.value == key:
                    return member
        return None

    @property
    def is_terminal(self) -> bool:
        """True for states a run cannot leave without being resumed (``crashed`` included: a
        stored ``crashed`` comes from ``runlab watch`` and its process is gone)."""
        return self not in (RunStatus.RUNNING, RunStatus.STALLED)

    def __str__(self) -> str:
        return self.value


def derive_status(
    stored: str,
    heartbeat_at: float | None,
    heartbeat_interval: float,
    now: float | None = None,
    progress_deadline: float | None = None,
) -> RunStatus:
    """The status a reader shows.

    A stored ``running`` reads as ``crashed`` once its heartbeat is older than
    :data:`CRASH_AFTER_BEATS` intervals, else as ``stalled`` once ``progress_deadline`` (epoch
    seconds, from ``run.report_progress``) has passed: crashed wins over stalled.

    Example:
        >>> derive_status("running", 100.0, 10.0, now=105.0, progress_deadline=104.0)
        <RunStatus.STALLED: 'stalled'>
        >>> derive_status("running", 100.0, 10.0, now=200.0, progress_deadline=104.0)
        <RunStatus.CRASHED: 'crashed'>
    """
    status = RunStatus(stored)
    if status is RunStatus.RUNNING and (heartbeat_at is not None or progress_deadline is not None):
        now = time.time() if now is None else now
        if heartbeat_at is not None and now - heartbeat_at > CRASH_AFTER_BEATS * heartbeat_interval:
            return RunStatus.CRASHED
        if progress_deadline is not None and now > progress_deadline:
            return RunStatus.STALLED
    return status
