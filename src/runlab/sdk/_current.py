"""The current run: the one ``runlab.log()``, ``runlab.run`` and friends talk to.

It lives in a ``ContextVar``, so threads and asyncio tasks see the run of the context they were
started in. A thread or task that did not inherit a context holding a run falls back to the most
recently started run that is still open.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runlab.sdk._run import Run

_current: ContextVar[Run | None] = ContextVar("runlab_current_run", default=None)


class _Latest:
    """The most recently started open run: what ``runlab.log`` uses in a thread or task that
    did not inherit a context holding a run."""

    run: Run | None = None


def current_run() -> Run | None:
    run = _current.get()
    if run is None or run._finished:
        run = _Latest.run
    return run if run is not None and not run._finished else None


def context_run() -> Run | None:
    """The run current in this context, finished or not: what a new run hands back to."""
    return _current.get()


def make_current(run: Run, *, latest: bool = True) -> None:
    """Make ``run`` current in this context and, with ``latest``, the fallback everywhere."""
    _current.set(run)
    if latest:
        _Latest.run = run


def reset_current(run: Run, previous: Run | None) -> None:
    """``run`` has ended: this context goes back to ``previous`` if that is still open."""
    if _current.get() is run:
        _current.set(previous if previous is not None and not previous._finished else None)
    if _Latest.run is run:
        _Latest.run = None
