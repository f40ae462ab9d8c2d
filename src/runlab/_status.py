"""Run states, with HumaLab's names accepted as aliases."""

from __future__ import annotations

import enum
import time

CRASH_AFTER_BEATS = 3
"""A running run whose last heartbeat is older than this many intervals reads as crashed."""


class RunStatus(str, enum.Enum):
    """The state of a run.

    ``running`` ends in ``finished``, ``failed`` (exception or non-zero exit), ``killed``
    (SIGINT/SIGTERM or stopped from outside) or ``canceled`` (explicit). ``crashed`` is never
    written: readers derive it from a ``running`` run whose heartbeat has lapsed.

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
        """True for states a run cannot leave without being resumed."""
        return self not in (RunStatus.RUNNING, RunStatus.CRASHED)

    def __str__(self) -> str:
        return self.value


def derive_status(
    stored: str,
    heartbeat_at: float | None,
    heartbeat_interval: float,
    now: float | None = None,
) -> RunStatus:
    """The status a reader shows: ``crashed`` for a running run whose heartbeat lapsed."""
    status = RunStatus(stored)
    if status is RunStatus.RUNNING and heartbeat_at is not None:
        now = time.time() if now is None else now
        if now - heartbeat_at > CRASH_AFTER_BEATS * heartbeat_interval:
            return RunStatus.CRASHED
    return status
