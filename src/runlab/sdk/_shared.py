"""One run written by several processes: ``init(id=..., shared=True, label="rank-3")``.

Every rank of a job (DDP, Slurm, MPI) opens the same run id with ``shared=True``. Each process
writes through its own :class:`~runlab.storage._writer.HistoryWriter` into files only it
writes; there is no writer shared between processes and no lock (DESIGN.md, principle 2).
Readers merge the logs (see :mod:`runlab.storage._ranks` for the layout and the merge rule).

- The **owner** (``label=None``, or ``"0"``/``"rank-0"``/``"rank0"``/``"rank_0"``) is the run
  as a plain run would be: ``run.json``, ``history.rlog``, config, summary, heartbeat and the
  final state. Exactly one process of the job must be the owner; a second one gets
  ``RunExistsError``.
- Every **other rank** writes only under ``runs/<id>/ranks/<label>/``: its ``history.rlog``
  (its system metrics too), its ``rank.json`` (label, pid, host, heartbeat, status, config,
  summary) and its ``files/``. ``run.dir`` of such a process is that directory. Its
  ``finish()`` (or its exception) ends that rank only: the run's state stays the owner's.
  A stop request for the run (``runlab stop``) reaches every rank.
- Processes may start in any order: nothing a rank does depends on the owner having started.
- **Resume** (``resume="allow"``, ``"must"``, ``True``/``"auto"``, or ``RUNLAB_RESUME``): each
  process resumes its own part of the run, the owner its ``run.json`` and log, a rank its
  ``ranks/<label>/``, and goes on after its own last durable step (:meth:`Role.plan`). A part
  whose previous writer is alive is refused (the rule of a plain resume: pid on this host, else
  heartbeat age). A requeued job relaunches every rank with the same id and labels, in any
  order. ``fork_from`` and ``resume_from`` stay refused: a shared run's history is several logs,
  and a fork or rewind of one of them would not be the run's.

A plain run does not even import this module (one test in ``init()``), and ``log()`` is the
same code for every run.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runlab._errors import RunExistsError, RunNotFound
from runlab.sdk._ids import check_id
from runlab.sdk._resume import Plan, ResumeMode, liveness, read_prior
from runlab.storage._layout import (
    FILES_DIR,
    FORMAT_VERSION,
    RANK_JSON,
    RANKS_DIR,
    RUN_JSON,
    RUNS_DIR,
    STOP_JSON,
    TRASH_DIR,
)


@dataclasses.dataclass(frozen=True)
class Role:
    """What one process of a shared run is: its label and whether it owns the run."""

    run_id: str
    label: str | None
    owner: bool

    @property
    def fields(self) -> dict[str, Any]:
        """Added to the process's state file (``run.json`` or ``rank.json``)."""
        return {"shared": {"label": self.label, "owner": self.owner}}

    def home(self, root: Path) -> Path:
        """The directory this process writes in: the run's for the owner, else
        ``runs/<id>/ranks/<label>/``."""
        run_dir = root / RUNS_DIR / self.run_id
        return run_dir if self.owner else run_dir / RANKS_DIR / str(self.label)

    def plan(self, root: Path, resume: ResumeMode | None, heartbeat_interval: float) -> Plan:
        """What this process starts from: its own part of the run to resume, or a new start.

        The owner's part is ``run.json`` (with ``history.rlog``), a rank's is
        ``ranks/<label>/``. With ``"allow"`` or ``"auto"`` (an id is always given, so
        ``"auto"`` is ``"allow"``) a part that exists is resumed and a missing one started;
        ``"must"`` requires it. ``"never"`` and ``None`` start it, and :meth:`open` refuses
        one that exists. Ranks may restart before their owner: a rank's resume reads and
        writes only its own directory.

        Raises:
            RunNotFound: ``resume="must"`` and this process's part does not exist.
            RunExistsError: the part's previous writer is still alive.
        """
        if resume in (None, "never"):
            return Plan("new", self.run_id)
        home = self.home(root)
        runs = root / RUNS_DIR
        exists = (home / RUN_JSON).exists() if self.owner else home.is_dir()
        part = "the run" if self.owner else f"rank {self.label!r}"
        if not exists:
            if resume == "must":
                where = RUN_JSON if self.owner else f"{RANKS_DIR}/{self.label}/"
                raise RunNotFound(
                    f"resume='must': shared run {self.run_id!r} in {root} has no {where} for "
                    f"{part} to resume (use resume='allow' to start it when it does not exist)"
                )
            return Plan("new", self.run_id)
        if self.owner:
            prior = read_prior(runs, self.run_id, f"cannot resume shared run {self.run_id!r}")
        else:
            prior = _rank_prior(home, heartbeat_interval)
        reason = liveness(prior)
        if reason is not None:
            raise RunExistsError(
                f"cannot resume {part} of shared run {self.run_id!r} in {root}: it is still "
                f"running ({reason}); one process writes each part of a run at a time: give "
                "this process its own label, or resume after that process ends"
            )
        return Plan("resume", self.run_id, prior)

    def files(self, home: Path) -> tuple[Path, Path]:
        """The state file this process rewrites on every heartbeat (``run.json`` for the
        owner, ``rank.json`` for a rank), and where a stop request for the whole run is
        written (beside ``run.json``, which every rank watches)."""
        if self.owner:
            return home / RUN_JSON, home / STOP_JSON
        return home / RANK_JSON, home.parent.parent / STOP_JSON

    def open(
        self,
        root: Path,
        on_fault: Callable[[str, BaseException], None],
        *,
        project: str,
        name: str,
        created_at: float,
        heartbeat_interval: float,
        resumes: bool = False,
    ) -> Path:
        """Create (or join) the run directory and claim this process's place in it.

        A store that cannot be written is reported through ``on_fault`` (training goes on,
        as for a plain run); only a conflict with another process raises. When ``resumes``
        (:meth:`plan` found the place and its writer gone), the place is taken over as is.

        Returns:
            The directory this process writes in: the run's for the owner, else
            ``runs/<id>/ranks/<label>/``.

        Raises:
            RunExistsError: the id belonged to a deleted run, the run already has an owner
                (for the owner), or the label is taken (for a rank).
        """
        run_id = self.run_id
        run_dir = root / RUNS_DIR / run_id
        home = self.home(root)
        if os.path.lexists(root / TRASH_DIR / run_id):
            raise RunExistsError(
                f"run id {run_id!r} belonged to a deleted run in {root} (ids are never "
                "reused); choose another id"
            )
        try:
            # exist_ok: every process creates the run directory; none waits for another.
            os.makedirs(home.parent if not self.owner else home, exist_ok=True)
            # Resuming, plan() found this place and its writer gone: it is taken over as is.
            if self.owner and not resumes:
                from runlab.storage._ranks import claim_json

                record = {
                    "id": run_id,
                    "project": project,
                    "name": name,
                    "status": "running",
                    "created_at": created_at,
                    "heartbeat_at": created_at,
                    "heartbeat_interval": heartbeat_interval,
                    "config": {},
                    "summary": {},
                    "format": FORMAT_VERSION,
                    **self.fields,
                }
                claim_json(run_dir / RUN_JSON, record)
            elif not resumes:
                os.mkdir(home)
        except FileExistsError:
            if self.owner:
                raise RunExistsError(
                    f"shared run {run_id!r} in {root} already has an owner (its run.json "
                    "exists): exactly one process may start it with label=None or 'rank-0'; "
                    "give this one another label, or use a new id (a relaunched job resumes "
                    "it with resume='allow')"
                ) from None
            raise RunExistsError(
                f"rank label {self.label!r} is already taken in shared run {run_id!r} "
                f"(ranks/{self.label}/ exists in {run_dir}): give every process of the job "
                "its own label (a relaunched job resumes it with resume='allow')"
            ) from None
        except OSError as exc:
            on_fault("mkdir", exc)
            return home
        try:
            os.mkdir(home / FILES_DIR)
        except FileExistsError:
            pass
        except OSError as exc:
            on_fault("mkdir", exc)
        return home


def _rank_prior(home: Path, heartbeat_interval: float) -> dict[str, Any]:
    """A rank's ``rank.json``, what a resume checks and goes on from.

    A rank writes its ``rank.json`` right after claiming its directory; a directory without
    one is a rank that died in between, or one starting right now: the directory's age
    stands in for its heartbeat, so only a recent one is refused.
    """
    from runlab.storage._layout import read_json

    try:
        data = read_json(home / RANK_JSON)
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict):
        return data
    try:
        beat = os.stat(home).st_mtime
    except OSError:
        beat = None
    return {"status": "running", "heartbeat_at": beat, "heartbeat_interval": heartbeat_interval}


def role(
    shared: bool,
    label: str | None,
    run_id: str | None,
    continues: bool,
) -> Role | None:
    """Check ``init``'s shared-run arguments; the process's role, or None for a plain run.

    ``continues``: ``fork_from`` or ``resume_from`` was given (``resume`` is checked later,
    by :meth:`Role.plan`).

    Raises:
        ValueError: ``shared=True`` without an id, ``label`` without ``shared=True``, an
            invalid label, or shared with fork/rewind.
    """
    if not shared:
        if label is not None:
            raise ValueError(
                f"label={label!r} needs shared=True: a label names one process of a run "
                "that several processes write (init(id=..., shared=True, label=...))"
            )
        return None
    from runlab.storage._ranks import check_label, is_owner  # only for shared runs

    if shared is not True:
        raise TypeError(f"shared must be a bool, not {type(shared).__name__} ({shared!r})")
    if run_id is None:
        raise ValueError(
            "shared=True needs the run id every process of the job agrees on: pass "
            "id=os.environ['RUNLAB_RUN_ID'] (or set RUNLAB_RUN_ID), or an id your launcher "
            "provides (e.g. the Slurm job id)"
        )
    run_id = check_id(run_id)
    if continues:
        raise ValueError(
            "shared=True cannot be combined with fork_from or resume_from: a shared run's "
            "history is one log per process, which is resumed (resume='allow') but not "
            "forked or rewound; fork or rewind a plain run, or start the shared run with a "
            "new id"
        )
    if label is not None:
        check_label(label)
    return Role(run_id, label, is_owner(label))
