"""Creating a new run's directory: choosing its id, and the spool that sweeps hand this to.

A run directory is ``<root>/runs/<id>/`` with an empty ``files/``. A custom id must be free; a
random one is drawn until it is. An id that a deleted run had is never reused. Inside a
:func:`spooled` block (a sweep's trials) the id and directory may come ready-made from the
spool's helper process instead (see :mod:`runlab.storage._spool`).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

from runlab._errors import RunExistsError
from runlab.sdk._ids import check_id, new_id
from runlab.storage._layout import FILES_DIR, TRASH_DIR, runs_dir

if TYPE_CHECKING:
    from runlab.storage._spool import Spool

FaultHook = Callable[[str, BaseException], None]

_spooled: ContextVar[Spool | None] = ContextVar("runlab_spool", default=None)
"""The spool a new run started here hands its file-system work to (sweep trials; see
:func:`spooled`)."""


def active_spool() -> Spool | None:
    """The spool of the enclosing :func:`spooled` block in this context, if any."""
    return _spooled.get()


def create_run_dir(
    root: Path, custom: str | None, spool: Spool | None, on_fault: FaultHook
) -> tuple[str, Path]:
    """Make a new run's directory under ``root`` and return ``(id, path)``.

    A file-system failure other than a taken id goes to ``on_fault`` (the run goes on; its
    writer retries).

    Raises:
        RunExistsError: ``custom`` is taken (or was a deleted run's id).
    """
    runs = runs_dir(root)
    if custom is not None:
        run_id = check_id(custom)
        path = runs / run_id
        try:
            _mkdir_in(runs, path)
        except FileExistsError:
            raise RunExistsError(
                f"a run with id {run_id!r} already exists in {root} (ids of deleted runs "
                "are never reused); choose another id"
            ) from None
        except OSError as exc:
            on_fault("mkdir", exc)
        _mkfiles(path, on_fault)
        return run_id, path
    taken = spool.take() if spool is not None else None
    if taken is not None:
        return taken
    for _ in range(100):
        run_id = new_id()
        path = runs / run_id
        try:
            _mkdir_in(runs, path)
        except FileExistsError:
            continue
        except OSError as exc:
            on_fault("mkdir", exc)
        _mkfiles(path, on_fault)
        if spool is not None:
            spool.adopt(run_id)
        return run_id, path
    raise RunExistsError(f"could not find a free run id in {root}")  # pragma: no cover


def _mkfiles(path: Path, on_fault: FaultHook) -> None:
    try:
        (path / FILES_DIR).mkdir(exist_ok=True)
    except OSError as exc:
        if exc.errno != errno.ENOENT:  # parent failure already reported
            on_fault("mkdir", exc)


def _mkdir_in(runs: Path, path: Path) -> None:
    """``mkdir`` a run directory, creating ``runs/`` (and the store) only when it is missing:
    one system call for every run but a store's first. An id that a deleted run had is taken
    (``FileExistsError``): ids are never reused."""
    try:
        os.mkdir(path)
    except FileNotFoundError:
        runs.mkdir(parents=True, exist_ok=True)
        os.mkdir(path)
    if os.path.lexists(os.path.join(runs.parent, TRASH_DIR, path.name)):
        os.rmdir(path)
        raise FileExistsError(f"run id {path.name!r} belonged to a deleted run")


def spool_for(root: str | os.PathLike[str]) -> Spool:
    """The spool doing the file-system work of the store at ``root`` (see
    :mod:`runlab.storage._spool`); ``park()`` or ``close()`` it when its runs have ended."""
    from runlab.storage._spool import acquire

    return acquire(runs_dir(root), Path(root) / TRASH_DIR, new_id)


@contextlib.contextmanager
def spooled(spool: Spool | None) -> Iterator[None]:
    """New runs started in this block (in this context) hand their file-system work to
    ``spool``: a sweep's trials. Such a run's ``run.json`` is first written on its writer's
    first tick (half a flush interval after the start), or when it ends if that is sooner, and
    ``finish()`` returns before the last one is written: the spool's ``settle()``/``close()``
    waits for it."""
    token = _spooled.set(spool)
    try:
        yield
    finally:
        _spooled.reset(token)
