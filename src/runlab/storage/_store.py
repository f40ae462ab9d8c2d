"""A run store as readers see it: run directories, and the catalog kept in step with them.

Run processes never touch the catalog. Whoever reads (the query API, the CLI, the server) calls
:meth:`RunStore.sync` first: it lists ``runs/`` and re-reads only the ``run.json`` files that are
new or whose signature (inode, mtime, size) changed since they were indexed. Runs the catalog
already holds in a terminal state are not even stat'ed (unless a ``runs/.resumed/<id>`` marker
says the run was resumed), so a sync over thousands of finished runs costs two directory
listings and one catalog query.

Readers may sync the same catalog from many processes at once. If the catalog still fails (a lock
that outlasts every retry, a full disk), the store warns and carries on with an in-memory catalog
built from the run directories: slower, never wrong.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
import warnings
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any, TypeVar

from runlab._errors import InvalidRunId, RunlabWarning, RunNotFound, StorageError
from runlab._status import RunStatus
from runlab.storage._catalog import Catalog, ProjectInfo
from runlab.storage._layout import (
    CATALOG_FILE,
    RESUMED_DIR,
    RUN_JSON,
    RunRecord,
    read_json,
    runs_dir,
    write_json_atomic,
)

SYNC_INTERVAL = 0.5
"""Seconds during which a store object answers from its catalog without syncing again."""

EDITS_JSON = "edits.json"
"""Edits made by users (tags, notes, project) beside ``run.json``, merged over it on load.

The run's own process keeps rewriting ``run.json`` while it runs (one writer per run), so
edits from the UI or the API live in this file, which only editors write."""
EDITABLE = ("tags", "notes", "project")

TERMINAL = frozenset(status.value for status in RunStatus if status.is_terminal)

_T = TypeVar("_T")
_INT64 = range(-(2**63), 2**63)


@dataclasses.dataclass(frozen=True)
class SyncReport:
    """What one sync changed in the catalog."""

    indexed: int
    """Runs (re)read from ``run.json`` and upserted."""
    removed: int
    """Runs dropped because their directory is gone."""
    unreadable: tuple[str, ...] = ()
    """Ids whose ``run.json`` is missing or invalid; they were skipped."""


class RunStore:
    """The run directories under ``root`` and the catalog indexing them.

    Args:
        root: the store directory (``Settings.dir``); it need not exist yet.
        catalog: the catalog to keep in step; by default ``<root>/catalog.sqlite``, opened on
            first use. :meth:`close` closes it.

    Example:
        >>> import tempfile
        >>> store = RunStore(tempfile.mkdtemp())
        >>> store.list_runs()
        []
    """

    def __init__(self, root: str | os.PathLike[str], *, catalog: Catalog | None = None) -> None:
        self.root = Path(root)
        self.runs_dir = runs_dir(self.root)
        self._catalog = catalog
        self._lock = threading.RLock()
        self._last_sync = -float("inf")

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    def run_dir(self, run_id: str) -> Path:
        """The directory of run ``run_id`` (which need not exist).

        Raises:
            InvalidRunId: ``run_id`` is not a single, visible path component.
        """
        if not _is_plain_name(run_id):
            raise InvalidRunId(
                f"run id {run_id!r} must be a non-empty directory name without path "
                "separators that does not start with '.'"
            )
        return self.runs_dir / run_id

    def exists(self, run_id: str) -> bool:
        """Whether a run directory with a ``run.json`` exists for exactly this id."""
        return _is_plain_name(run_id) and (self.runs_dir / run_id / RUN_JSON).is_file()

    @property
    def catalog(self) -> Catalog:
        """The catalog (by default opened on first use at ``<root>/catalog.sqlite``)."""
        with self._lock:
            if self._catalog is None:
                from runlab.storage._sqlite import SQLiteCatalog  # imports SQLAlchemy

                self._catalog = SQLiteCatalog(self.root / CATALOG_FILE)
            return self._catalog

    def close(self) -> None:
        """Close the catalog; a later use opens ``<root>/catalog.sqlite`` again."""
        with self._lock:
            if self._catalog is not None:
                self._catalog.close()
                self._catalog = None

    # -- keeping the catalog in step -------------------------------------------------------------

    def sync(self, *, full: bool = False, force: bool = False) -> SyncReport | None:
        """Bring the catalog up to date with the run directories.

        Args:
            full: also stat runs the catalog holds as finished/failed/killed/canceled. (A run
                resumed after it ended is noticed anyway: it leaves a ``runs/.resumed/<id>``
                marker, and marked runs are always re-checked.)
            force: sync even if this store synced less than :data:`SYNC_INTERVAL` ago.

        Returns:
            What changed, or ``None`` when the call was skipped by the throttle.

        Raises:
            StorageError: ``runs/`` exists but cannot be listed.
        """
        with self._lock:
            listing = _mtime_ns(self.runs_dir)  # a run directory added or removed changes it
            recent = time.monotonic() - self._last_sync < SYNC_INTERVAL
            if not (full or force) and recent and listing == self._last_listing:
                return None
            self._last_listing = listing
            if not self.root.is_dir():
                return SyncReport(0, 0)  # no store yet: nothing to index, nowhere to keep it
            catalog = self.catalog
            try:
                report = _index(catalog, self.runs_dir, full=full)
            except _ListingFailed:
                raise
            except StorageError as exc:
                report = self._fall_back_to_memory(catalog, exc)
            self._last_sync = time.monotonic()
            return report

    _last_listing: int | None = None

    def reindex(self) -> int:
        """Rebuild the catalog from the run directories; returns how many runs it holds."""
        if not self.runs_dir.is_dir():
            return 0
        with self._lock:
            try:
                self.catalog.clear()
            except StorageError as exc:
                self._fall_back_to_memory(self.catalog, exc)
            self.sync(full=True)
            return len(self._ask(lambda catalog: catalog.signatures()))

    def _fall_back_to_memory(self, failed: Catalog, exc: StorageError) -> SyncReport:
        from runlab.storage._sqlite import SQLiteCatalog

        if getattr(failed, "in_memory", False):
            raise exc
        warnings.warn(
            f"runlab: the catalog of {self.root} failed ({exc}); reading run directories "
            "into memory instead",
            RunlabWarning,
            stacklevel=4,
        )
        memory = SQLiteCatalog(None)
        report = _index(memory, self.runs_dir, full=True)
        self._catalog = memory
        return report

    def _query(self, op: Callable[[Catalog], _T], empty: _T) -> _T:
        if not self.runs_dir.is_dir():
            return empty  # nothing recorded yet: do not create a catalog just to read it
        self.sync()
        return self._ask(op)

    def _ask(self, op: Callable[[Catalog], _T]) -> _T:
        catalog = self.catalog
        try:
            return op(catalog)
        except StorageError as exc:
            with self._lock:
                if self._catalog is catalog:
                    self._fall_back_to_memory(catalog, exc)
            return op(self.catalog)

    # -- reading ---------------------------------------------------------------------------------

    def list_runs(
        self,
        *,
        project: str | None = None,
        status: str | Collection[str] | None = None,
        tags: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        """Sync, then :meth:`Catalog.list_runs` (stored statuses, newest first)."""
        return self._query(
            lambda catalog: catalog.list_runs(
                project=project, status=status, tags=tags, limit=limit
            ),
            [],
        )

    def find(self, key: str, *, project: str | None = None) -> list[RunRecord]:
        """Sync, then :meth:`Catalog.find`: exact id, id prefix (≥ 3 characters) or name."""
        return self._query(lambda catalog: catalog.find(key, project=project), [])

    def projects(self) -> list[ProjectInfo]:
        """Sync, then :meth:`Catalog.projects`."""
        return self._query(lambda catalog: catalog.projects(), [])

    def read_record(self, run_id: str) -> RunRecord:
        """The record straight from the run's ``run.json``, bypassing the catalog.

        Raises:
            RunNotFound: there is no such run directory.
            StorageError: ``run.json`` is missing, unreadable or invalid.
        """
        directory = self.run_dir(run_id)
        if not directory.is_dir():
            raise RunNotFound(f"no run {run_id!r} in {self.root}")
        path = directory / RUN_JSON
        try:
            return _load_record(path, run_id)
        except (OSError, ValueError, TypeError) as exc:
            raise StorageError(f"cannot read {path}: {exc}") from exc

    # -- editing ---------------------------------------------------------------------------------

    def edit(
        self,
        run_id: str,
        *,
        tags: Iterable[str] | None = None,
        notes: str | None = None,
        project: str | None = None,
    ) -> RunRecord:
        """Change a run's tags, notes or project, without racing the run's own process.

        The edit goes to ``edits.json`` (merged over ``run.json`` wherever a record is
        loaded), the catalog row is replaced, and ``runs/`` is touched so that other
        readers' throttled syncs look again. Arguments left ``None`` keep their value.

        Returns:
            The record as readers now see it.

        Raises:
            RunNotFound: there is no such run directory.
            InvalidRunId: ``run_id`` is not a plain directory name.
            StorageError: the edit could not be written, or ``run.json`` cannot be read.

        Example:
            >>> import tempfile
            >>> from runlab.storage.testing import make_record, write_run
            >>> store = RunStore(tempfile.mkdtemp())
            >>> _ = write_run(store.root, make_record("abc123"))
            >>> store.edit("abc123", tags=["best"]).tags
            ('best',)
        """
        directory = self.run_dir(run_id)
        if not directory.is_dir():
            raise RunNotFound(f"no run {run_id!r} in {self.root}")
        changes: dict[str, Any] = {}
        if tags is not None:
            changes["tags"] = list(dict.fromkeys(tags))
        if notes is not None:
            changes["notes"] = notes
        if project is not None:
            changes["project"] = project
        with self._lock:
            path = directory / EDITS_JSON
            try:
                edits = _read_edits(path)
                edits.update(changes)
                write_json_atomic(path, edits)
            except (OSError, ValueError) as exc:
                raise StorageError(f"cannot write {path}: {exc}") from exc
            record = self.read_record(run_id)
            with contextlib.suppress(OSError):
                signature = _signature(directory / RUN_JSON)
                self._ask(lambda catalog: catalog.upsert([(record, signature)]))
                os.utime(self.runs_dir)
            return record

    # -- deleting --------------------------------------------------------------------------------

    def delete(self, ids: Iterable[str], *, force: bool = False) -> None:
        """Soft-delete runs: move them to the trash (see :mod:`runlab.storage._trash`).

        They vanish from listings at once, can be brought back with :meth:`restore` until
        :meth:`gc` purges them, and their ids are never given to another run. Every id is
        checked before anything is moved.

        Args:
            force: delete runs that are still running too (their process then fails to update
                ``run.json`` and reports it once); by default that is an error.

        Raises:
            RunNotFound: an id has no run directory (nothing is deleted then).
            RunActiveError: a run is still running (its heartbeat is fresh), without ``force``.
            StorageError: a directory could not be moved.
        """
        from runlab._errors import RunActiveError
        from runlab._status import derive_status
        from runlab.storage._trash import move_to_trash

        ids = list(dict.fromkeys(ids))
        missing = [run_id for run_id in ids if not self.run_dir(run_id).is_dir()]
        if missing:
            raise RunNotFound(f"no run {', '.join(map(repr, missing))} in {self.root}")
        if not force:
            for run_id in ids:
                with contextlib.suppress(StorageError):
                    r = self.read_record(run_id)
                    status = derive_status(r.status, r.heartbeat_at, r.heartbeat_interval)
                    if not status.is_terminal:  # running, or stalled: its process is alive
                        raise RunActiveError(
                            f"run {run_id!r} is still running (heartbeat "
                            f"{time.time() - (r.heartbeat_at or r.created_at):.0f} s ago); "
                            "stop it first, or delete with force"
                        )
        move_to_trash(self.root, ids)
        # The directories are gone, so a failure here only delays the rows until the next sync.
        with contextlib.suppress(StorageError):
            self._ask(lambda catalog: catalog.remove(ids))

    def request_stop(self, run_id: str, *, by: str | None = None) -> bool:
        """Ask a running run to stop: its process notices within a heartbeat (at most
        half a second), interrupts its main thread (or calls its ``on_stop`` handler) and ends
        ``killed``. Returns whether the run was running (asking an ended run does nothing).

        Raises:
            RunNotFound: there is no such run directory.
        """
        from runlab._status import derive_status
        from runlab.storage._layout import STOP_JSON

        record = self.read_record(run_id)
        status = derive_status(record.status, record.heartbeat_at, record.heartbeat_interval)
        if status.is_terminal:  # ended, or crashed: nobody left to ask
            return False
        try:
            write_json_atomic(
                self.run_dir(run_id) / STOP_JSON, {"requested_at": time.time(), "by": by}
            )
        except OSError as exc:
            raise StorageError(f"cannot ask run {run_id!r} to stop: {exc}") from exc
        return True

    def restore(self, ids: Iterable[str]) -> None:
        """Bring soft-deleted runs back (see :func:`runlab.storage._trash.restore`)."""
        from runlab.storage._trash import restore

        restore(self.root, ids)
        self.sync(force=True)

    def deleted(self) -> list[Any]:
        """The runs in the trash (:class:`~runlab.storage._trash.DeletedRun`), newest first."""
        from runlab.storage._trash import deleted_runs

        return deleted_runs(self.root)

    def gc(self, *, older_than: float = 0.0, ids: Iterable[str] | None = None) -> list[str]:
        """Purge deleted runs for good; see :func:`runlab.storage._trash.purge`."""
        from runlab.storage._trash import purge

        return purge(self.root, older_than=older_than, ids=ids)


class _ListingFailed(StorageError):
    """``runs/`` cannot be listed: a fault of the store, not of the catalog."""


def _is_plain_name(name: str) -> bool:
    return bool(name) and not name.startswith(".") and "/" not in name and os.sep not in name


def _list_run_ids(directory: Path) -> list[str]:
    try:
        with os.scandir(directory) as entries:
            # Hidden names are temporary (a run being deleted, an editor's files).
            return [e.name for e in entries if not e.name.startswith(".") and e.is_dir()]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise _ListingFailed(f"cannot list runs in {directory}: {exc}") from exc


def _index(catalog: Catalog, directory: Path, *, full: bool) -> SyncReport:
    # Read the catalog before listing: a run another reader indexes in between is then either
    # unknown here or already on disk when we list, so it is never mistaken for a removed one.
    known = catalog.signatures()
    # Ended runs that may have been resumed since are re-checked like running ones (no cost
    # per run when there is no marker).
    marked = _resumed_ids(directory) & known.keys()
    if marked:
        known = dict(known)
        for run_id in marked:
            known[run_id] = (known[run_id][0], RunStatus.RUNNING.value)
    ids = _list_run_ids(directory)
    present = set(ids)
    gone = [run_id for run_id in known if run_id not in present]
    changed: list[tuple[RunRecord, str]] = []
    unreadable: list[str] = []
    for run_id in ids:
        seen = known.get(run_id)
        if seen is not None and not full and seen[1] in TERMINAL:
            continue
        path = directory / run_id / RUN_JSON
        try:
            signature = _signature(path)
            if seen is not None and seen[0] == signature:
                continue
            # Stat before reading: if run.json is replaced in between, the next sync sees a new
            # signature and reads it again, so the catalog never keeps an old record for good.
            changed.append((_load_record(path, run_id), signature))
        except (OSError, ValueError, TypeError):
            unreadable.append(run_id)
    catalog.upsert(changed)
    catalog.remove(gone)
    return SyncReport(len(changed), len(gone), tuple(unreadable))


def _resumed_ids(directory: Path) -> frozenset[str]:
    """Ids with a ``runs/.resumed/<id>`` marker: one listing, of a directory that is usually
    absent (a resumed run leaves the marker, see ``runlab.sdk._resume``)."""
    try:
        with os.scandir(directory / RESUMED_DIR) as entries:
            return frozenset(e.name for e in entries)
    except OSError:
        return frozenset()


def _signature(path: Path) -> str:
    st = os.stat(path)
    # The inode changes on every atomic replace, even within one mtime tick.
    signature = f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"
    try:
        ed = os.stat(path.parent / EDITS_JSON)
    except FileNotFoundError:
        return signature
    return f"{signature}+{ed.st_ino}:{ed.st_mtime_ns}:{ed.st_size}"


def _read_edits(path: Path) -> dict[str, Any]:
    """The user edits of a run (``{}`` without ``edits.json``); only known fields are kept."""
    try:
        data = read_json(path)
    except FileNotFoundError:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} does not hold a JSON object")
    return {k: v for k, v in data.items() if k in EDITABLE}


def _load_record(path: Path, run_id: str) -> RunRecord:
    """Read and check ``run.json``: anything the catalog could choke on is a ``ValueError``."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError("run.json does not hold a JSON object")
    edits = _read_edits(path.parent / EDITS_JSON)
    record = RunRecord.from_json({**data, **edits} if edits else data)
    _check_types(record)
    changes: dict[str, Any] = {}
    status = RunStatus(record.status).value  # accepts aliases; unknown names raise ValueError
    if status != record.status:
        changes["status"] = status
    if record.id != run_id:
        changes["id"] = run_id  # a copied directory: its name is what locates it
    return dataclasses.replace(record, **changes) if changes else record


_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "project": str,
    "name": str,
    "status": str,
    "created_at": (int, float),
    "heartbeat_interval": (int, float),
    "config": dict,
    "summary": dict,
}
_OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "ended_at": (int, float),
    "heartbeat_at": (int, float),
    "group": str,
    "job_type": str,
    "notes": str,
    "description": str,
    "err_msg": str,
    "exit_code": int,
    "seed": int,
    "progress_deadline": (int, float),
}


def _check_types(record: RunRecord) -> None:
    for name, kinds in (*_REQUIRED.items(), *_OPTIONAL.items()):
        value = getattr(record, name)
        if value is None and name in _OPTIONAL:
            continue
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise ValueError(f"run.json field {name!r} has a {type(value).__name__}")
    if not all(isinstance(tag, str) for tag in record.tags):
        raise ValueError("run.json field 'tags' must be a list of strings")
    if record.exit_code is not None and record.exit_code not in _INT64:
        raise ValueError(f"run.json field 'exit_code' is out of range: {record.exit_code}")


def _mtime_ns(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None
