"""The catalog: a derived index of run records, with one abstract contract for every backend.

Backends live in their own private modules (``_sqlite`` now, PostgreSQL later) and all run the
one behavioural suite in :mod:`runlab.storage.testing`.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Collection, Iterable, Sequence

from runlab.storage._layout import RunRecord

MIN_PREFIX = 3
"""An id prefix shorter than this never matches in :meth:`Catalog.find` (exact ids still do)."""


@dataclasses.dataclass(frozen=True)
class ProjectInfo:
    """One project as the catalog sees it."""

    name: str
    run_count: int
    last_activity: float
    """Latest ``created_at``, ``heartbeat_at`` or ``ended_at`` of any of its runs (epoch s)."""


class Catalog(abc.ABC):
    """An index of :class:`RunRecord` snapshots for listing, filtering and sorting runs fast.

    The catalog is derived data: run directories are the truth, and readers (never run
    processes) keep the catalog up to date by upserting what they read from ``run.json``. Any
    catalog can therefore be cleared and rebuilt without losing anything.

    Contract every implementation keeps (checked by :mod:`runlab.storage.testing`):

    - **Thread safety.** One instance may be used from several threads at once. Several
      instances (in one or many processes) may open the same backing store; concurrent
      upserts of the same record are idempotent and never raise because of locking.
    - **Snapshots.** Returned :class:`RunRecord` objects are fresh, frozen snapshots: later
      upserts never change them, and mutating their ``config``/``summary`` dicts never changes
      the catalog.
    - **Stored status.** ``status`` is the stored state as upserted (never ``crashed``); the
      catalog does not derive anything from heartbeats.
    - **Ordering.** Lists of runs are newest first (``created_at`` descending, then ``id``
      descending so ties have a stable order).
    - **Errors.** Failures of the backing store raise :class:`runlab.StorageError`; no backend
      exception escapes. Asking for something absent is not an error (``None`` or ``[]``).
    """

    @abc.abstractmethod
    def upsert(self, records: Sequence[tuple[RunRecord, str]]) -> None:
        """Insert or replace records, each with the signature of the ``run.json`` it came from.

        The signature is opaque to the catalog; :meth:`signatures` hands it back so a reader
        can tell whether ``run.json`` changed since it was indexed. When one id appears twice,
        the last pair wins.
        """

    @abc.abstractmethod
    def remove(self, ids: Iterable[str]) -> None:
        """Drop these runs; unknown ids are ignored."""

    @abc.abstractmethod
    def get(self, run_id: str) -> RunRecord | None:
        """The record with exactly this id, or ``None``."""

    @abc.abstractmethod
    def signatures(self) -> dict[str, tuple[str, str]]:
        """Every indexed run as ``{id: (signature, stored status)}``."""

    @abc.abstractmethod
    def list_runs(
        self,
        *,
        project: str | None = None,
        status: str | Collection[str] | None = None,
        tags: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        """Runs matching every given filter, newest first.

        Args:
            project: only this project.
            status: a stored status or several (any of them matches).
            tags: runs carrying all of these tags.
            limit: at most this many runs.
        """

    @abc.abstractmethod
    def find(self, key: str, *, project: str | None = None) -> list[RunRecord]:
        """Runs that ``key`` designates, newest first.

        An exact id wins alone. Otherwise every run whose id starts with ``key`` (when ``key`` has
        at least :data:`MIN_PREFIX` characters) or whose name equals ``key``. Matching is
        case-sensitive. More than one result means ``key`` is ambiguous; the caller decides.
        """

    @abc.abstractmethod
    def projects(self) -> list[ProjectInfo]:
        """Every project with at least one run, sorted by name."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Drop every run."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections. Closing twice is harmless; other calls after it are undefined."""
