"""Read runs back: ``Api`` finds them in a store, ``RunView`` shows one without changing it."""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from runlab._errors import RunNotFound, StorageError
from runlab._settings import Settings
from runlab._status import RunStatus, derive_status
from runlab.query._view import BaseRunView
from runlab.storage._catalog import MIN_PREFIX, ProjectInfo
from runlab.storage._layout import (
    ARTIFACTS_DIR,
    FILES_DIR,
    METADATA_JSON,
    SCENARIO_FILE,
    RunRecord,
    read_json,
)
from runlab.storage._store import RunStore

if TYPE_CHECKING:
    import polars as pl

    from runlab.storage._episodes import EpisodeRecord, Unfinished
    from runlab.storage._ranks import RankInfo
    from runlab.storage._trash import DeletedRun

StatusFilter: TypeAlias = str | RunStatus | Collection[str | RunStatus] | None


class RunView(BaseRunView):
    """A read-only view of one run: its record, metadata, history and files.

    ``status`` is what a reader should show (``crashed`` when a running run's heartbeat lapsed,
    ``stalled`` when it missed its ``report_progress`` deadline), ``stored_status`` what the run
    last wrote. ``config``, ``summary`` and ``metadata`` return
    copies; ``record`` is the underlying frozen snapshot for code that reads many runs fast.
    ``info``, ``cfg``, ``impl``, ``get`` and ``view[key]`` come from :class:`BaseRunView`.
    """

    __slots__ = ("_dir", "_metadata", "_parent", "_record")

    def __init__(self, record: RunRecord, dir: Path) -> None:
        super().__init__()
        self._record = record
        self._dir: Path | None = dir
        self._parent: Path | None = None
        self._metadata: dict[str, Any] | None = None

    @classmethod
    def _listed(cls, record: RunRecord, runs_dir: Path) -> RunView:
        """A view of a run listed by the catalog, under ``runs_dir``: its path is made on use
        (building 10,000 paths up front costs more than the listing)."""
        view = cls(record, runs_dir)
        view._dir = None
        view._parent = runs_dir
        return view

    def stop(self) -> bool:
        """Ask this run to stop (see :meth:`Api.stop`); whether it was running."""
        from runlab.query._load import _open_store

        return _open_store(self.dir.parent.parent).request_stop(self.id, by=_who())

    def move(self, project: str) -> RunView:
        """Move this run to another project (see :meth:`Api.move`); returns ``self``."""
        from runlab.query._load import _open_store

        _check_project(project)
        self._record = _open_store(self.dir.parent.parent).edit(self.id, project=project)
        return self

    def __repr__(self) -> str:
        r = self._record
        return (
            f"RunView(id={r.id!r}, name={r.name!r}, project={r.project!r}, "
            f"status={self.status.value!r})"
        )

    @property
    def record(self) -> RunRecord:
        return self._record

    @property
    def dir(self) -> Path:
        if self._dir is None:
            assert self._parent is not None
            self._dir = self._parent / self._record.id
        return self._dir

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def project(self) -> str:
        return self._record.project

    @property
    def group(self) -> str | None:
        return self._record.group

    @property
    def job_type(self) -> str | None:
        return self._record.job_type

    @property
    def tags(self) -> tuple[str, ...]:
        return self._record.tags

    @property
    def notes(self) -> str | None:
        return self._record.notes

    @property
    def description(self) -> str | None:
        return self._record.description

    @property
    def stored_status(self) -> RunStatus:
        return RunStatus(self._record.status)

    @property
    def status(self) -> RunStatus:
        r = self._record
        return derive_status(
            r.status, r.heartbeat_at, r.heartbeat_interval, progress_deadline=r.progress_deadline
        )

    @property
    def config(self) -> dict[str, Any]:
        return copy.deepcopy(self._record.config)

    @property
    def summary(self) -> dict[str, Any]:
        return copy.deepcopy(self._record.summary)

    def _raw_config(self) -> dict[str, Any]:
        return self._record.config

    def _raw_summary(self) -> dict[str, Any]:
        return self._record.summary

    @property
    def metadata(self) -> dict[str, Any]:
        """The captured environment from ``metadata.json``; ``{}`` until the run has written it."""
        if self._metadata is None:
            path = self.dir / METADATA_JSON
            try:
                data = read_json(path)
            except FileNotFoundError:
                return {}
            except (OSError, ValueError) as exc:
                raise StorageError(f"cannot read {path}: {exc}") from exc
            if not isinstance(data, dict):
                raise StorageError(f"{path} does not hold a JSON object")
            self._metadata = data
        return copy.deepcopy(self._metadata)

    @property
    def created_at(self) -> float:
        return self._record.created_at

    @property
    def ended_at(self) -> float | None:
        return self._record.ended_at

    @property
    def heartbeat_at(self) -> float | None:
        return self._record.heartbeat_at

    @property
    def runtime(self) -> float | None:
        """Seconds the run ran: until its end, until now while running, or until its last beat."""
        r = self._record
        if r.ended_at is not None:
            return r.ended_at - r.created_at
        if self.status in _LIVE:
            return time.time() - r.created_at
        if r.heartbeat_at is not None:
            return r.heartbeat_at - r.created_at
        return None

    @property
    def exit_code(self) -> int | None:
        return self._record.exit_code

    @property
    def err_msg(self) -> str | None:
        return self._record.err_msg

    @property
    def seed(self) -> int | None:
        return self._record.seed

    def history(
        self, keys: Iterable[str] | None = None, *, archived: bool = False, rank: str | None = None
    ) -> pl.DataFrame:
        """Logged metrics as a frame: ``step``, ``timestamp`` and one column per key.

        ``system/*`` keys (system metrics, on their own step axis) only when named in ``keys``;
        :meth:`system_metrics` gives them all. A fork's history starts with its parent's
        points up to the fork step; a rewound run's leaves out what the rewind set aside.
        A shared run's history merges every process's points (the owner's win a step both
        logged, then ranks in label order; see :meth:`ranks`).

        Args:
            keys: only these keys (all when None).
            archived: instead, the points rewinds set aside, with an ``archive`` column (the
                k of ``archive/history-<k>.rlog``; newest rewind first).
            rank: instead, what one process of a shared run logged: a rank's label, or the
                owner's (``"owner"`` when it has none).

        Raises:
            ValueError: no process of the run has the label ``rank``.
        """
        wanted = None if keys is None else list(keys)
        if rank is not None:
            if archived:
                raise ValueError("archived=True reads the owner's rewinds: leave out rank")
            from runlab.storage._ranks import process_history

            return process_history(self.dir, rank, wanted)
        from runlab.storage._ranks import has_ranks, merged_history

        if not archived and has_ranks(self.dir):
            return merged_history(self.dir, wanted)
        if archived:
            from runlab.storage._reader import archived_history

            return archived_history(self.dir, None if keys is None else list(keys))
        from runlab.storage._reader import read_history  # imports Polars

        return read_history(self.dir, None if keys is None else list(keys))

    @property
    def fork_parent(self) -> tuple[str, int] | None:
        """``(parent run id, step)`` when this run was forked from another, else ``None``."""
        fork = self._run_json().get("fork")
        if isinstance(fork, dict) and isinstance(fork.get("run"), str):
            step = fork.get("step")
            return fork["run"], step if isinstance(step, int) else -1
        return None

    @property
    def lineage(self) -> list[tuple[str, int]]:
        """The chain of forks this run descends from, nearest parent first: ``[(run id,
        step), ...]``; a parent that is gone ends the chain."""
        out: list[tuple[str, int]] = []
        view: RunView | None = self
        seen = {self.id}
        while view is not None:
            parent = view.fork_parent
            if parent is None or parent[0] in seen:
                break
            out.append(parent)
            seen.add(parent[0])
            parent_dir = self.dir.parent / parent[0]
            try:
                record = RunRecord.from_json(read_json(parent_dir / "run.json"))
            except (OSError, ValueError, TypeError):
                break
            view = RunView(record, parent_dir)
        return out

    @property
    def resumed(self) -> list[dict[str, Any]]:
        """Each time the run was resumed or rewound: ``{"at": time, "step": next step}``."""
        value = self._run_json().get("resumed")
        return [dict(v) for v in value if isinstance(v, dict)] if isinstance(value, list) else []

    @property
    def rewinds(self) -> list[dict[str, Any]]:
        """Each rewind of the run: ``{"at": time, "step": kept up to, "archive": log}`` (a
        rewind is also listed in :attr:`resumed`, as the run went on from there)."""
        value = self._run_json().get("rewinds")
        return [dict(v) for v in value if isinstance(v, dict)] if isinstance(value, list) else []

    def _run_json(self) -> dict[str, Any]:
        try:
            data = read_json(self.dir / "run.json")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def history_keys(self) -> list[str]:
        """Every metric key this run logged (system metrics' ``system/*`` keys excepted); a
        shared run's: every process's."""
        from runlab.storage._layout import SYSTEM_PREFIX
        from runlab.storage._ranks import has_ranks, merged_keys
        from runlab.storage._reader import history_keys

        if has_ranks(self.dir):
            return merged_keys(self.dir)
        return [k for k in history_keys(self.dir) if not k.startswith(SYSTEM_PREFIX)]

    def system_metrics(
        self, keys: Iterable[str] | None = None, *, rank: str | None = None
    ) -> pl.DataFrame:
        """System metrics (``system/*`` keys) as a frame: ``step`` is the sample index, not
        the run's step; ``timestamp`` lines samples up with the logged history.

        A shared run's are its owner's; ``rank`` (a label, see :meth:`ranks`) reads another
        process's (each samples its own machine and process, on its own sample axis)."""
        if rank is not None:
            from runlab.storage._ranks import process_history

            return process_history(
                self.dir, rank, None if keys is None else list(keys), system=True
            )
        from runlab.storage._reader import read_system_metrics  # imports Polars

        return read_system_metrics(self.dir, None if keys is None else list(keys))

    def ranks(self) -> list[RankInfo]:
        """The processes of a shared run (``init(shared=True, label=...)``): the owner first,
        then the other ranks in label order (``rank-2`` before ``rank-10``), each with its
        label, status (a rank whose heartbeat lapsed reads ``crashed``), heartbeat, pid, host,
        config and summary. A failed rank does not fail the run: :attr:`status` is the
        owner's. A plain run gives its one process, labelled ``"owner"``."""
        from runlab.storage._ranks import read_ranks

        return read_ranks(self.dir)

    def files(self) -> list[Path]:
        """Paths of the files under the run's ``files/`` directory, sorted."""
        return _files_under(self.dir / FILES_DIR)

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts the run sent (``run.alert`` and automatic ones), oldest first: dicts with
        ``title``, ``text``, ``level``, ``kind``, ``time`` and the run's ids. A torn last line
        (the process died while writing it) is skipped."""
        import json

        from runlab.sdk._alerts import ALERTS_FILE

        try:
            lines = (self.dir / FILES_DIR / ALERTS_FILE).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"cannot read {ALERTS_FILE} of run {self.id}: {exc}") from exc
        alerts = []
        for line in lines:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                alerts.append(item)
        return alerts

    # -- scenario, episodes and artifacts (see ``runlab.query._episodes``) ------------------

    def _unfinished(self) -> Unfinished:
        return "RUNNING" if self.status in _LIVE else "INTERRUPTED"

    def episodes(self) -> pl.DataFrame:
        """One row per episode: id, index, seed, status, times, parameters, last metrics.

        Episodes that started and did not end read ``RUNNING`` while the run runs and
        ``INTERRUPTED`` once it has stopped. Columns: ``runlab.query._episodes``.

        A shared run's are every process's: the owner's, then each rank's in label order,
        each by its own index, with a ``rank`` column (the process's label); a rank's open
        episodes read ``RUNNING`` while that rank is alive. A run without ranks has no
        ``rank`` column.
        """
        from runlab.query._episodes import episodes_frame

        return episodes_frame(self.episode_records())

    def episode_records(self) -> list[EpisodeRecord]:
        """The episodes as frozen records (with tracebacks), by index; a shared run's in the
        order of :meth:`episodes`, each with its process's label as ``rank``."""
        from runlab.query._episodes import run_episodes

        return run_episodes(self.dir, unfinished=self._unfinished())

    def episode(self, index_or_id: int | str, *, rank: str | None = None) -> EpisodeRecord:
        """The episode with this index (int) or episode id (str).

        Indexes and ids are per process: in a shared run ``rank`` (a label, see
        :meth:`ranks`) names the process that ran it; without it, the owner's episode.

        Raises:
            EpisodeNotFound: that process has no episode with it.
        """
        from runlab.query._episodes import find_episode

        return find_episode(self.episode_records(), index_or_id, rank)

    def episode_history(
        self, index_or_id: int | str, keys: Iterable[str] | None = None, *, rank: str | None = None
    ) -> pl.DataFrame:
        """What one episode logged: ``step``, ``timestamp`` and one column per key.

        ``rank`` names the process that ran it, as in :meth:`episode`.

        Raises:
            EpisodeNotFound: that process has no episode with this index (int) or id (str).
        """
        from runlab.query._episodes import episode_history

        return episode_history(
            self.dir, index_or_id, None if keys is None else list(keys), rank=rank
        )

    def scenario_stats(self, bins: int = 10, outcome: str = "status") -> pl.DataFrame:
        """Outcome counts and success rate per parameter bin or category: where episodes fail.

        A shared run's count every process's episodes. See
        ``runlab.query._episodes.scenario_stats_frame`` for the rows and columns.
        """
        from runlab.query._episodes import scenario_stats

        return scenario_stats(self.dir, bins, outcome, unfinished=self._unfinished())

    @property
    def scenario(self) -> str | None:
        """The run's scenario as YAML text (``artifacts/scenario.yaml``); None without one."""
        try:
            return (self.dir / ARTIFACTS_DIR / SCENARIO_FILE).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read the scenario of run {self.id}: {exc}") from exc

    def artifacts(self) -> list[Path]:
        """Paths of the run's artifacts (scenario, seed, code), sorted."""
        return _files_under(self.dir / ARTIFACTS_DIR)

    def read_artifact(self, name: str) -> str:
        """The text of an artifact, by its path under ``artifacts/`` (``"code/agent"``).

        Raises:
            FileNotFoundError: the run has no such artifact (the message lists those it has).
        """
        base = self.dir / ARTIFACTS_DIR
        path = base / name
        if Path(name).is_absolute() or ".." in Path(name).parts or not path.is_file():
            names = [p.relative_to(base).as_posix() for p in self.artifacts()]
            shown = ", ".join(names) if names else "none"
            raise FileNotFoundError(f"run {self.id} has no artifact {name!r} (it has: {shown})")
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise StorageError(f"cannot read artifact {name!r} of run {self.id}: {exc}") from exc


def _files_under(base: Path) -> list[Path]:
    if not base.is_dir():
        return []
    return sorted(path for path in base.rglob("*") if path.is_file())


class Api:
    """Find and read the runs of a store.

    Args:
        dir: the store directory; defaults to ``RUNLAB_DIR``, then ``./runlab``.

    Example:
        >>> import tempfile
        >>> api = Api(tempfile.mkdtemp())
        >>> api.runs()
        []
    """

    def __init__(self, dir: str | os.PathLike[str] | None = None) -> None:
        root = Settings.resolve(dir=None if dir is None else os.fspath(dir)).dir
        self._store = RunStore(root)

    def __repr__(self) -> str:
        return f"Api({str(self.dir)!r})"

    @property
    def dir(self) -> Path:
        return self._store.root

    @property
    def store(self) -> RunStore:
        return self._store

    def close(self) -> None:
        """Release the catalog connection (reopened on next use)."""
        self._store.close()

    def run(self, key: str) -> RunView:
        """The run with this id, unique id prefix (≥ 3 characters) or name, read fresh from disk.

        Raises:
            RunNotFound: nothing matches ``key``, or several runs do (they are listed).
        """
        store = self._store
        if not store.exists(key):
            matches = store.find(key)
            if not matches:
                raise RunNotFound(
                    f"no run matches {key!r} in {store.root} (tried an exact id, an id prefix "
                    f"of at least {MIN_PREFIX} characters, and a run name)"
                )
            if len(matches) > 1:
                shown = ", ".join(f"{r.id} ({r.name}, {r.project})" for r in matches[:10])
                more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
                raise RunNotFound(
                    f"{key!r} matches {len(matches)} runs in {store.root}: {shown}{more}; "
                    "give a full id or a longer prefix"
                )
            key = matches[0].id
        return RunView(store.read_record(key), store.run_dir(key))

    def runs(
        self,
        project: str | None = None,
        status: StatusFilter = None,
        tags: str | Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[RunView]:
        """Runs matching every filter, newest first.

        Args:
            project: only this project.
            status: one status or several, as readers see them: ``crashed`` selects running
                runs whose heartbeat lapsed (and runs ``runlab watch`` marked crashed),
                ``stalled`` running runs past their ``report_progress`` deadline, ``running``
                only those still beating and on time. HumaLab names (``FINISHED``,
                ``ERRORED``, ...) are accepted.
            tags: a tag, or tags that must all be present.
            limit: at most this many runs.

        Raises:
            ValueError: an unknown status, or a negative limit.
        """
        wanted = _parse_statuses(status)
        if limit is not None and limit < 0:
            raise ValueError(f"limit={limit!r} must be >= 0 or None")
        stored: list[str] | None = None
        derive = False
        if wanted is not None:
            derived = wanted & _DERIVED_FROM_RUNNING
            stored = sorted({*wanted, RunStatus.RUNNING} if derived else wanted)
            # running, crashed and stalled share one stored status: a check tells them apart
            derive = bool(derived) and derived != _DERIVED_FROM_RUNNING
        records = self._store.list_runs(
            project=project,
            status=stored,
            tags=[tags] if isinstance(tags, str) else tags,
            limit=None if derive else limit,
        )
        views = [RunView(record, self._store.run_dir(record.id)) for record in records]
        if derive:
            assert wanted is not None
            views = [view for view in views if view.status in wanted][:limit]
        return views

    def projects(self) -> list[ProjectInfo]:
        """Every project with runs, sorted by name, with its run count and last activity."""
        return self._store.projects()

    def delete(self, ids: str | Iterable[str], *, force: bool = False) -> None:
        """Soft-delete runs by exact id: hidden from listings at once, restorable with
        :meth:`restore` until :meth:`gc`; their ids are never reused.

        Args:
            force: delete runs that are still running too.

        Raises:
            RunNotFound: an id has no run; nothing is deleted then.
            RunActiveError: a run is still running, without ``force``.
        """
        self._store.delete([ids] if isinstance(ids, str) else ids, force=force)

    def restore(self, ids: str | Iterable[str]) -> None:
        """Bring soft-deleted runs back into listings.

        Raises:
            RunNotFound: an id is not in the trash (purged, or never deleted).
        """
        self._store.restore([ids] if isinstance(ids, str) else ids)

    def deleted(self) -> list[DeletedRun]:
        """The soft-deleted runs waiting for :meth:`gc`, most recently deleted first."""
        return self._store.deleted()

    def gc(self, older_than: float = 0.0, ids: str | Iterable[str] | None = None) -> list[str]:
        """Purge soft-deleted runs for good: those deleted at least ``older_than`` seconds ago,
        or exactly ``ids``. Their ids stay retired. Returns the purged ids."""
        chosen = [ids] if isinstance(ids, str) else ids
        return self._store.gc(older_than=older_than, ids=chosen)

    def stop(self, ids: str | Iterable[str]) -> list[str]:
        """Ask running runs to stop (see :meth:`RunStore.request_stop
        <runlab.storage._store.RunStore.request_stop>`). Returns the ids that were running.

        Raises:
            RunNotFound: an id has no run.
        """
        keys = [ids] if isinstance(ids, str) else list(ids)
        return [run_id for run_id in keys if self._store.request_stop(run_id, by=_who())]

    def move(self, ids: str | Iterable[str], project: str) -> list[RunView]:
        """Move runs to another project (an edit beside ``run.json``; a run still running is
        moved too, and keeps logging). Returns the moved runs.

        Raises:
            RunNotFound: an id has no run (the ones before it were moved).
            ValueError: ``project`` is empty.
        """
        _check_project(project)
        keys = [ids] if isinstance(ids, str) else list(ids)
        records = [self._store.edit(run_id, project=project) for run_id in keys]
        return [RunView(r, self._store.run_dir(r.id)) for r in records]


def _who() -> str:
    """``user@host`` of whoever asks (recorded with a stop request)."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment
        user = "?"
    return f"{user}@{socket.gethostname()}"


_LIVE = frozenset({RunStatus.RUNNING, RunStatus.STALLED})
"""States of a run whose process is still at work."""
_DERIVED_FROM_RUNNING = frozenset({RunStatus.RUNNING, RunStatus.CRASHED, RunStatus.STALLED})
"""What a stored ``running`` can read as."""


def _check_project(project: object) -> None:
    if not isinstance(project, str) or not project.strip():
        raise ValueError(f"project={project!r} must be a non-empty string")


def _parse_statuses(status: StatusFilter) -> set[RunStatus] | None:
    if status is None:
        return None
    values = [status] if isinstance(status, str) else list(status)
    parsed = set()
    for value in values:
        try:
            parsed.add(RunStatus(value))
        except ValueError:
            allowed = ", ".join(s.value for s in RunStatus)
            raise ValueError(f"status={value!r} is not one of {allowed}") from None
    return parsed
