"""Shared (multi-process) runs on disk: every rank of a job writes its own log; readers merge.

A run started with ``init(id=..., shared=True)`` by several processes (the ranks of a DDP or
Slurm job) keeps principle 2, one writer per file, without any lock between the processes::

    runs/<run_id>/
      run.json                  written only by the owner (the run's identity and final state)
      history.rlog              the owner's own log
      stop.json                 a stop request: every rank of the run sees it
      ranks/<label>/            one directory per other rank, written only by that rank
        rank.json               the rank's state: label, pid, host, heartbeat, status, summary
        history.rlog            the rank's own log (its system metrics too)
        files/, metadata.json   the rank's output.log, captured environment, ``run.save`` copies

**The owner** is the process whose ``label`` is ``None``, or ``"0"``, ``"rank-0"``, ``"rank0"``
or ``"rank_0"`` (:data:`OWNER_LABELS`): exactly one process of the job must be it. It writes
``run.json`` and ``history.rlog`` as a plain run does, and owns the run's status, config,
summary and heartbeat (crash detection stays the owner's heartbeat). A rank's failure is
recorded in its ``rank.json`` only: it does not end the run.

**Start in any order, without locks.** Every process creates ``runs/<run_id>/`` with
``exist_ok`` semantics. A rank then claims ``ranks/<label>/`` with one ``mkdir`` (a second
process with the same label gets ``RunExistsError``; with ``resume`` it takes the directory
over once its previous writer is gone, see :mod:`runlab.sdk._shared`) and never writes
``run.json``. The owner
claims ``run.json`` by hard-linking a complete provisional record into place
(:func:`claim_json`): exclusive like ``O_EXCL`` yet atomic, so a second owner gets
``RunExistsError`` and a reader never sees a partial file. Until the owner has started, the
run directory has no ``run.json``: the catalog skips it (it indexes ``run.json`` only) and the
run is not listed; ranks change listings only through the owner.

**Merging.** A run's history is the owner's history (forks and rewinds included) plus every
rank's log. Per key and step one point is kept: the owner's when it logged that key at that
step, else the rank that comes first in label order (natural order: ``rank-2`` before
``rank-10``). Ranks that log distinct keys (``rank-3/loss``) never collide. ``system/*`` keys
stay per process (each has its own sample axis): the run's system metrics are the owner's, a
rank's are read with ``rank=<label>``. The run's config and summary are the owner's (what the
catalog indexes and filters on); each rank's summary and config are in :func:`read_ranks`.

**Episodes** are per process: each process numbers its own from 0 and samples them from its own
scenario and seed (``init(scenario=..., seed=...)`` of that process; a rank given no scenario
runs episodes without parameters, and ranks given the same seed sample the same parameters
for the same index). :func:`merged_episodes` lists them all, the owner's first, then each
rank's in label order, each process's by its own index, every record tagged with its
process's label; an episode is named by (label, index) or (label, episode id). A process's
open episodes read ``RUNNING`` while that process is alive by its own state file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlab._status import RunStatus, derive_status
from runlab.storage._format import KIND_HISTORY, decode_history, iter_frames
from runlab.storage._layout import (
    HISTORY_FILE,
    RANK_JSON,
    RANKS_DIR,
    RUN_JSON,
    SYSTEM_PREFIX,
    json_default,
    read_json,
    write_new,
)

if TYPE_CHECKING:
    import polars as pl

    from runlab.storage._episodes import EpisodeRecord, Unfinished
    from runlab.storage._reader import KeySeries

OWNER_LABELS = frozenset({"0", "rank-0", "rank0", "rank_0"})
"""Labels that make a process the owner of a shared run (as does ``label=None``)."""
OWNER = "owner"
"""How readers name the owner's own points when it has no label (``history(rank="owner")``);
reserved: no other rank may use it."""
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DIGITS = re.compile(r"(\d+)")


def check_label(label: object) -> str:
    """Return ``label`` if it is a valid rank label, else raise ``ValueError`` stating the rule.

    Example:
        >>> check_label("rank-3")
        'rank-3'
    """
    if not isinstance(label, str) or not _LABEL.fullmatch(label):
        raise ValueError(
            f"label {label!r} is invalid: a rank label names a directory, so use 1-64 "
            "characters from A-Z a-z 0-9 . _ -, starting with a letter or digit"
        )
    if label == OWNER:
        raise ValueError(
            f"label {OWNER!r} is reserved for the owner process of a shared run: leave the "
            "owner's label unset (or use 'rank-0'), and give other ranks other labels"
        )
    return label


def is_owner(label: str | None) -> bool:
    """Whether a process with this label owns its shared run (see :data:`OWNER_LABELS`)."""
    return label is None or label in OWNER_LABELS


def names_owner(label: str | None) -> bool:
    """Whether readers take ``label`` for the owner: an owner's label or :data:`OWNER`."""
    return label == OWNER or is_owner(label)


def label_key(label: str) -> tuple[Any, ...]:
    """Natural sort key of a label: ``rank-2`` before ``rank-10``."""
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(label))


def rank_labels(run_dir: Path) -> list[str]:
    """The labels of the run's non-owner ranks (``ranks/<label>/``), in natural order."""
    try:
        with os.scandir(Path(run_dir) / RANKS_DIR) as entries:
            names = [e.name for e in entries if not e.name.startswith(".") and e.is_dir()]
    except OSError:
        return []
    return sorted(names, key=label_key)


def has_ranks(run_dir: Path) -> bool:
    """Whether other processes write into the run (it has a ``ranks/`` directory)."""
    return os.path.isdir(Path(run_dir) / RANKS_DIR)


def rank_dir(run_dir: Path, label: str) -> Path:
    return Path(run_dir) / RANKS_DIR / label


def claim_json(path: Path, data: dict[str, Any]) -> None:
    """Create ``path`` holding ``data`` only if it does not exist yet, atomically.

    The complete file is written under a temporary name and hard-linked into place: the link
    fails with ``FileExistsError`` when ``path`` exists (like ``O_EXCL``), and readers never
    see it half written. Without hard links (some network filesystems) ``O_EXCL`` is used.

    Raises:
        FileExistsError: ``path`` already exists.
    """
    text = json.dumps(data, separators=(",", ":"), default=json_default).encode("utf-8")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.claim")
    write_new(tmp, text)
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:  # no hard links here: exclusive create, then write
        write_new(path, text)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


# -- rank states -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RankInfo:
    """One process of a shared run, as its own state file last described it.

    ``status`` is what readers show (a rank whose heartbeat lapsed reads ``crashed``);
    ``stored_status`` is what the rank last wrote.
    """

    label: str
    """The rank's label (the owner's, or ``"owner"`` for an owner without one)."""
    owner: bool
    status: RunStatus
    stored_status: RunStatus
    heartbeat_at: float | None
    created_at: float | None
    ended_at: float | None
    pid: int | None
    host: str | None
    err_msg: str | None
    exit_code: int | None
    summary: dict[str, Any]
    config: dict[str, Any]


def owner_label(run_json: dict[str, Any]) -> str:
    """The name readers give the owner: its label, or :data:`OWNER`."""
    shared = run_json.get("shared")
    label = shared.get("label") if isinstance(shared, dict) else None
    return label if isinstance(label, str) else OWNER


def read_ranks(run_dir: Path) -> list[RankInfo]:
    """The owner (first, once it has written ``run.json``), then every rank that has written
    its ``rank.json``, in natural label order. A state file that cannot be read is skipped:
    it is rewritten whole on every heartbeat."""
    out: list[RankInfo] = []
    owner = _read_state(Path(run_dir) / RUN_JSON)
    if owner is not None:
        out.append(_info(owner, owner_label(owner), True))
    for label in rank_labels(run_dir):
        state = _read_state(rank_dir(run_dir, label) / RANK_JSON)
        if state is not None:
            out.append(_info(state, label, False))
    return out


def _read_state(path: Path) -> dict[str, Any] | None:
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _info(data: dict[str, Any], label: str, owner: bool) -> RankInfo:
    def num(name: str) -> float | None:
        value = data.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return None

    def text(name: str) -> str | None:
        value = data.get(name)
        return value if isinstance(value, str) else None

    try:
        stored = RunStatus(data.get("status"))
    except ValueError:
        stored = RunStatus.RUNNING
    interval = num("heartbeat_interval") or 10.0
    heartbeat = num("heartbeat_at")
    writer = data.get("writer")
    if not isinstance(writer, dict):
        writer = {}
    pid = writer.get("pid")
    host = writer.get("host")
    exit_code = data.get("exit_code")
    return RankInfo(
        label=label,
        owner=owner,
        status=derive_status(stored.value, heartbeat, interval),
        stored_status=stored,
        heartbeat_at=heartbeat,
        created_at=num("created_at"),
        ended_at=num("ended_at"),
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        host=host if isinstance(host, str) else None,
        err_msg=text("err_msg"),
        exit_code=exit_code if isinstance(exit_code, int) else None,
        summary=data["summary"] if isinstance(data.get("summary"), dict) else {},
        config=data["config"] if isinstance(data.get("config"), dict) else {},
    )


# -- histories ---------------------------------------------------------------------------------


def _is_system(key: str) -> bool:
    return key.startswith(SYSTEM_PREFIX)


def _rank_series(run_dir: Path, label: str, keys: Sequence[str] | None) -> dict[str, KeySeries]:
    from runlab.storage._chain import read_log_file
    from runlab.storage._reader import series_from_payloads

    buf = read_log_file(rank_dir(run_dir, label) / HISTORY_FILE)
    payloads = (fr.payload for fr in iter_frames(buf) if fr.kind == KIND_HISTORY)
    return series_from_payloads(payloads, keys)


def process_series(
    run_dir: Path, label: str, keys: Sequence[str] | None = None
) -> dict[str, KeySeries]:
    """One process's own points: the owner's (by its label or :data:`OWNER`) or a rank's.

    Raises:
        ValueError: no process of the run has this label (the message lists those it has).
    """
    from runlab.storage._reader import read_series

    run_dir = Path(run_dir)
    if _process_dir(run_dir, label) == run_dir:
        return read_series(run_dir, keys)
    return _rank_series(run_dir, label, keys)


def _process_dir(run_dir: Path, label: str) -> Path:
    """The directory of the process with this label: the run's for the owner, else its
    ``ranks/<label>/``.

    Raises:
        ValueError: no process of the run has this label (the message lists those it has).
    """
    if label in OWNER_LABELS or label == OWNER:
        owner = _read_state(run_dir / RUN_JSON) or {}
        if label in (OWNER, owner_label(owner)):
            return run_dir
    if (rank_dir(run_dir, label)).is_dir():
        return rank_dir(run_dir, label)
    owner = _read_state(run_dir / RUN_JSON) or {}
    known = [owner_label(owner), *rank_labels(run_dir)]
    raise ValueError(
        f"run {run_dir.name} has no rank {label!r} (it has: {', '.join(map(repr, known))})"
    )


def merged_series(run_dir: Path, keys: Sequence[str] | None = None) -> dict[str, KeySeries]:
    """The run's history with every rank's points merged in (see the module docstring).

    Keys come in first-logged order: the owner's, then each rank's new keys in label order.
    A rank's ``system/*`` keys are left out (they are per process).
    """
    from runlab.storage._reader import read_series

    run_dir = Path(run_dir)
    parts: dict[str, list[KeySeries]] = {}
    for key, s in read_series(run_dir, keys).items():
        parts[key] = [s]
    for label in rank_labels(run_dir):
        for key, s in _rank_series(run_dir, label, keys).items():
            if not _is_system(key) and len(s.steps):
                parts.setdefault(key, []).append(s)
    return {key: _merge(key, got) for key, got in parts.items()}


def _merge(key: str, got: list[KeySeries]) -> KeySeries:
    """One key's points from several processes: per step, the first process's (owner, then
    ranks in label order) point wins."""
    if len(got) == 1:
        return got[0]
    import numpy as np

    from runlab.storage._reader import KeySeries, _concat_values

    steps = np.concatenate([s.steps for s in got])
    ts = np.concatenate([s.timestamps for s in got])
    values = _concat_values([s.values for s in got])
    rank = np.concatenate([np.full(len(s.steps), i, dtype=np.int64) for i, s in enumerate(got)])
    order = np.lexsort((rank, steps))  # by step, then by process precedence
    steps, ts, values = steps[order], ts[order], values[order]
    keep = np.ones(len(steps), dtype=bool)
    np.not_equal(steps[1:], steps[:-1], out=keep[1:])
    return KeySeries(key, steps[keep], ts[keep], values[keep])


def merged_keys(run_dir: Path) -> list[str]:
    """Every key the run's processes logged (``system/*`` left out), first-logged order."""
    from runlab.storage._chain import read_log_file
    from runlab.storage._reader import history_keys

    seen = dict.fromkeys(k for k in history_keys(run_dir) if not _is_system(k))
    for label in rank_labels(run_dir):
        buf = read_log_file(rank_dir(run_dir, label) / HISTORY_FILE)
        for fr in iter_frames(buf):
            if fr.kind == KIND_HISTORY:  # names only: no column is decoded
                names = decode_history(fr.payload, frozenset()).names
                seen.update(dict.fromkeys(k for k in names if not _is_system(k)))
    return list(seen)


def merged_history(run_dir: Path, keys: Sequence[str] | None = None) -> pl.DataFrame:
    """:func:`merged_series` as a frame, with ``read_history``'s rules (``system/*`` keys only
    when named)."""
    from runlab.storage._reader import history_frame

    if keys is None:
        series = merged_series(run_dir)
        return history_frame({k: v for k, v in series.items() if not _is_system(k)})
    return history_frame(merged_series(run_dir, keys), keys)


def process_history(
    run_dir: Path, label: str, keys: Sequence[str] | None = None, *, system: bool = False
) -> pl.DataFrame:
    """One process's own history (``system``: its system metrics instead) as a frame.

    Raises:
        ValueError: no process of the run has this label.
    """
    from runlab.storage._reader import history_frame

    if keys is not None:
        return history_frame(process_series(run_dir, label, keys), keys)
    series = process_series(run_dir, label)
    return history_frame({k: v for k, v in series.items() if _is_system(k) == system})


# -- episodes ----------------------------------------------------------------------------------


def merged_episodes(run_dir: Path, *, unfinished: Unfinished | None = None) -> list[EpisodeRecord]:
    """Every process's episodes (see the module docstring), each record's ``rank`` the label
    of its process: the owner's first, then each rank's in label order, each by its index.

    Args:
        run_dir: the run's directory.
        unfinished: the status of the owner's started, unended episodes (default: from
            ``run.json``, as ``read_episodes``). A rank's read ``RUNNING`` while its
            ``rank.json`` shows it alive (a live heartbeat), else ``INTERRUPTED``.
    """
    from runlab.storage._episodes import read_episodes

    run_dir = Path(run_dir)
    owner = owner_label(_read_state(run_dir / RUN_JSON) or {})
    out = _tagged(read_episodes(run_dir, unfinished=unfinished), owner)
    for label in rank_labels(run_dir):
        home = rank_dir(run_dir, label)
        state = _read_state(home / RANK_JSON)
        alive = state is not None and _info(state, label, False).status is RunStatus.RUNNING
        out += _tagged(read_episodes(home, unfinished="RUNNING" if alive else "INTERRUPTED"), label)
    return out


def _tagged(records: list[EpisodeRecord], label: str) -> list[EpisodeRecord]:
    return [dataclasses.replace(r, rank=label) for r in records]


def process_episode_history(
    run_dir: Path, label: str, index: int, keys: Sequence[str] | None = None
) -> pl.DataFrame:
    """The history of episode ``index`` of one process (the owner's by its label or
    :data:`OWNER`, or a rank's), as ``read_episode_history`` reads it.

    Raises:
        ValueError: no process of the run has this label.
    """
    from runlab.storage._episodes import read_episode_history

    return read_episode_history(_process_dir(Path(run_dir), label), index, keys)
