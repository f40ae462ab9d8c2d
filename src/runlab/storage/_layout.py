"""Where things live in a run store, and the ``run.json`` record.

A store is a directory (``./runlab`` by default)::

    runlab/
      catalog.sqlite            derived index of all runs (rebuild: ``runlab reindex``)
      runs/<run_id>/            one directory per run; copying it moves the run
        run.json                mutable state: identity, config, summary, status, heartbeat
        metadata.json           captured once: command, git, host, OS, Python, hardware, packages
        history.rlog            append-only, checksummed metric log (see ``_format``)
        files/                  output.log, diff.patch, requirements.txt, run.save() copies
        artifacts/              scenario.yaml, seed.json, code/<key> (log_code),
                                episodes/<index>/code/<key>
        archive/history-<k>.rlog  the log as it was before the run's k-th rewind
        edits.json              tags, notes, project set from outside (UI, ``runlab mv``)
        stop.json               a stop request (``runlab stop``); see ``Run.on_stop``
        ranks/<label>/          a shared run's other processes (``init(shared=True,
                                label=...)``), each writing only its own directory:
          rank.json             that rank's state (label, pid, host, heartbeat, status,
                                summary); never a ``run.json`` (see ``_ranks``)
          history.rlog          that rank's own log, merged with the owner's by readers
          files/, metadata.json that rank's output.log, ``run.save`` copies, environment
      runs/.resumed/<run_id>    empty marker: the run was resumed (readers re-check it)
      runs/.auto/<key>          the run id last started with ``resume="auto"`` from one
                                script and working directory (``key`` hashes both)
      trash/<run_id>/           a soft-deleted run; ``trash/<run_id>`` as a file: the
                                tombstone of a purged one (see ``_trash``)

``run.json`` is only ever replaced whole (write to a temporary file, then ``os.replace``), so a
reader sees the old or the new version, never a mix. While a run runs, only its own process
writes ``run.json`` and its logs; others only add ``edits.json`` and ``stop.json`` beside them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
from pathlib import Path
from typing import Any

RUNS_DIR = "runs"
CATALOG_FILE = "catalog.sqlite"
RUN_JSON = "run.json"
METADATA_JSON = "metadata.json"
HISTORY_FILE = "history.rlog"
FILES_DIR = "files"
ARTIFACTS_DIR = "artifacts"
RANKS_DIR = "ranks"
"""A shared run's non-owner processes, one ``ranks/<label>/`` each (see ``_ranks``)."""
RANK_JSON = "rank.json"
"""A rank's state file in ``ranks/<label>/`` (the owner alone writes ``run.json``)."""
SYSTEM_PREFIX = "system/"
"""History keys the system-metrics sampler writes (on their own step axis); users may not log
them."""
STOP_JSON = "stop.json"
"""A request to stop the run (``runlab stop``), written beside ``run.json`` by whoever asks."""
TRASH_DIR = "trash"
"""Deleted runs (and tombstones of purged ones), beside ``runs/``; see ``_trash``."""
OUTPUT_LOG = "output.log"
ARCHIVE_DIR = "archive"
"""Logs set aside by rewinds (``history-<k>.rlog``), still readable."""
RESUMED_DIR = ".resumed"
"""Under ``runs/``: one empty file per resumed run, so readers re-check runs they hold as ended."""
AUTO_DIR = ".auto"
"""Under ``runs/``: pointers from (script, working directory) to the run ``resume="auto"`` may
resume."""
SCENARIO_FILE = "scenario.yaml"
"""The scenario as YAML, under ``artifacts/``."""
SEED_FILE = "seed.json"
"""``{"seed": int}``, under ``artifacts/``."""
FORMAT_VERSION = 1
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """A snapshot of one run's ``run.json``: what the catalog indexes.

    ``status`` is the stored state (``crashed`` only when ``runlab watch`` found the run's
    process gone; never ``stalled``); use ``runlab._status.derive_status`` with the heartbeat
    fields and ``progress_deadline`` to get what readers show.
    """

    id: str
    project: str
    name: str
    status: str
    created_at: float
    ended_at: float | None = None
    heartbeat_at: float | None = None
    heartbeat_interval: float = 10.0
    group: str | None = None
    job_type: str | None = None
    tags: tuple[str, ...] = ()
    notes: str | None = None
    description: str | None = None
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    summary: dict[str, Any] = dataclasses.field(default_factory=dict)
    exit_code: int | None = None
    err_msg: str | None = None
    seed: int | None = None
    progress_deadline: float | None = None
    """Epoch seconds by which the run promised its next ``report_progress`` (stalled after)."""

    def to_json(self) -> dict[str, Any]:
        # A shallow copy: ``dataclasses.asdict`` deep-copies config and summary, which costs
        # more than the rest of writing run.json for runs that start and end by the thousand.
        data = {f.name: getattr(self, f.name) for f in _FIELDS}
        data["tags"] = list(self.tags)
        data["format"] = FORMAT_VERSION
        return data

    @classmethod
    def trusted(cls, fields: dict[str, Any]) -> RunRecord:
        """A record from every field, already of the right types, without the dataclass
        ``__init__`` (a frozen one sets each field through ``object.__setattr__``): for bulk
        reads of 10,000s of catalog rows. ``fields`` must hold exactly the dataclass fields."""
        record = object.__new__(cls)
        record.__dict__.update(fields)
        return record

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["tags"] = tuple(kwargs.get("tags") or ())
        return cls(**kwargs)


_FIELDS = dataclasses.fields(RunRecord)


def runs_dir(root: str | os.PathLike[str]) -> Path:
    return Path(root) / RUNS_DIR


def run_dir(root: str | os.PathLike[str], run_id: str) -> Path:
    return Path(root) / RUNS_DIR / run_id


def encode_json(data: Any) -> bytes:
    """``data`` as compact UTF-8 JSON (NumPy scalars, sets and paths as :func:`json_default`)."""
    # dumps uses the C encoder; dump(fp) streams through the Python one.
    return json.dumps(data, separators=(",", ":"), default=json_default).encode("utf-8")


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace ``path`` with ``data`` as JSON so readers never see a partial file."""
    write_bytes_atomic(path, encode_json(data))


_tmp_names = itertools.count()


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers never see a partial file.

    The temporary file's name is unique to this process (pid and a counter), so no random
    name has to be drawn and retried: only this process writes inside its run directory.
    """
    path = os.fspath(path)
    head, name = os.path.split(path)
    tmp = os.path.join(head, f".{name}.{os.getpid()}.{next(_tmp_names)}.tmp")
    try:
        write_new(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_new(path: str | os.PathLike[str], data: bytes) -> None:
    """Create ``path`` holding ``data``; ``FileExistsError`` when it exists. A failed write
    leaves the partial file for the caller to remove."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def end_dead_run(run_dir: Path, status: str, err_msg: str, ended_at: float | None = None) -> bool:
    """Store ``status`` (``crashed``, ``killed``) in the ``run.json`` of a run whose process is
    known to be dead, if it still reads ``running``; whether it did. Only for a run no process
    writes any more: its own process would overwrite the record."""
    path = run_dir / RUN_JSON
    try:
        data = read_json(path)
        if not isinstance(data, dict) or data.get("status") != "running":
            return False
        data["status"] = status
        data["err_msg"] = err_msg
        if ended_at is not None:
            data["ended_at"] = ended_at
        write_json_atomic(path, data)
    except (OSError, ValueError):
        return False
    return True


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def json_default(obj: Any) -> Any:
    """Encode NumPy scalars, sets, tuples and paths; anything else as its ``repr``."""
    item = getattr(obj, "item", None)
    if callable(item):
        return item()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return repr(obj)
