"""Soft delete: deleted runs wait in ``trash/`` until ``runlab gc``; their ids are never reused.

::

    runlab/
      runs/<id>/            live runs (what listings show)
      trash/<id>/           a deleted run, whole, plus ``deleted.json`` ({"deleted_at": ...})
      trash/<id>            (a file) the tombstone of a purged run: its id stays taken

Deleting renames ``runs/<id>`` to ``trash/<id>`` (one atomic rename on one filesystem), so a
reader sees the run or not, never half of it; restoring renames it back. ``gc`` removes a
deleted run's directory and leaves the tombstone. A new run checks ``trash/`` for its id, so
neither a deleted nor a purged id is ever given to another run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from runlab._errors import RunExistsError, RunNotFound, StorageError
from runlab.storage._layout import TRASH_DIR, read_json, write_json_atomic

DELETED_JSON = "deleted.json"


@dataclass(frozen=True)
class DeletedRun:
    """A run waiting in the trash."""

    id: str
    deleted_at: float
    dir: Path


def trash_dir(root: str | os.PathLike[str]) -> Path:
    return Path(root) / TRASH_DIR


def move_to_trash(root: Path, run_ids: Iterable[str]) -> None:
    """Move each run directory into the trash, stamped with the time of deletion.

    Raises:
        StorageError: a directory could not be moved (the ones before it were).
    """
    trash = trash_dir(root)
    trash.mkdir(exist_ok=True)
    for run_id in run_ids:
        target = trash / run_id
        if os.path.lexists(target):  # an older tombstone of the same id: cannot happen by
            _remove(target)  # design (ids are never reused), but never lose the live run
        try:
            os.rename(root / "runs" / run_id, target)
        except OSError as exc:
            raise StorageError(f"cannot delete run {run_id!r} in {root}: {exc}") from exc
        with contextlib.suppress(OSError):  # the stamp only dates the deletion for gc
            write_json_atomic(target / DELETED_JSON, {"deleted_at": time.time()})


def restore(root: Path, run_ids: Iterable[str]) -> None:
    """Move deleted runs back to ``runs/``.

    Raises:
        RunNotFound: an id is not in the trash (or was purged); nothing is restored then.
        RunExistsError: a live run has that id.
        StorageError: a directory could not be moved.
    """
    ids = list(dict.fromkeys(run_ids))
    trash = trash_dir(root)
    missing = [run_id for run_id in ids if not (trash / run_id).is_dir()]
    if missing:
        raise RunNotFound(
            f"no deleted run {', '.join(map(repr, missing))} in {root} "
            "(purged by gc, never deleted, or a typo)"
        )
    for run_id in ids:
        live = root / "runs" / run_id
        if os.path.lexists(live):
            raise RunExistsError(f"cannot restore {run_id!r}: {live} exists")
        with contextlib.suppress(OSError):
            os.unlink(trash / run_id / DELETED_JSON)
        try:
            os.rename(trash / run_id, live)
        except OSError as exc:
            raise StorageError(f"cannot restore run {run_id!r} in {root}: {exc}") from exc


def deleted_runs(root: Path) -> list[DeletedRun]:
    """Every run in the trash, most recently deleted first (tombstones are not runs)."""
    found = []
    try:
        entries = list(os.scandir(trash_dir(root)))
    except FileNotFoundError:
        return []
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            stamp = float(read_json(Path(entry.path) / DELETED_JSON)["deleted_at"])
        except (OSError, ValueError, KeyError, TypeError):
            stamp = entry.stat(follow_symlinks=False).st_mtime
        found.append(DeletedRun(entry.name, stamp, Path(entry.path)))
    return sorted(found, key=lambda d: (-d.deleted_at, d.id))


def purge(root: Path, *, older_than: float = 0.0, ids: Iterable[str] | None = None) -> list[str]:
    """Remove deleted runs for good (those deleted ``older_than`` seconds ago or more, or the
    given ids), leaving tombstones. Returns the purged ids.

    Raises:
        RunNotFound: one of ``ids`` is not in the trash (nothing is purged then).
    """
    candidates = deleted_runs(root)
    if ids is not None:
        wanted = list(dict.fromkeys(ids))
        known = {d.id for d in candidates}
        missing = [run_id for run_id in wanted if run_id not in known]
        if missing:
            raise RunNotFound(f"no deleted run {', '.join(map(repr, missing))} in {root}")
        candidates = [d for d in candidates if d.id in set(wanted)]
    now = time.time()
    purged = []
    for deleted in candidates:
        if ids is None and now - deleted.deleted_at < older_than:
            continue
        _remove(deleted.dir)
        # The tombstone: an empty file under the id keeps it from being given out again.
        with contextlib.suppress(OSError), open(deleted.dir, "x", encoding="utf-8"):
            pass
        purged.append(deleted.id)
    return purged


def _remove(path: Path) -> None:
    """Remove a directory (renamed to a hidden name first, so nobody sees it half gone) or a
    file."""
    if not path.is_dir() or path.is_symlink():
        path.unlink()
        return
    doomed = path.with_name(f".purging-{path.name}-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(path, doomed)
    except OSError as exc:
        raise StorageError(f"cannot remove {path}: {exc}") from exc
    shutil.rmtree(doomed, ignore_errors=True)
