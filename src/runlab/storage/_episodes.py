"""Read a run's episodes back from its log: one record per episode, and each one's history.

An episode leaves an ``episode_start`` event when it is created and, when it ends, an
``episode_end`` event (after one ``KIND_EPISODE`` frame with its own metric history, when it
logged anything); see ``_format``. Records are built from those events alone:

- an episode with a start and an end has the end's status (``SUCCESS``, ``FAILED``,
  ``ERRORED`` or ``CANCELED``; ``FINISHED`` and ``CANCELLED`` read as their HumaLab twins);
- an episode with a start and no end reads ``RUNNING`` while its run is running, and
  ``INTERRUPTED`` otherwise (the run was killed, crashed or ended without closing it): the
  episode's outcome is unknown, which is different from any status it could have ended with;
- an end whose start was lost (a corrupt frame) still gives a record, with empty ``params``
  and ``seed``/``start`` of ``None``.

Like every reader of the log, a torn or corrupt tail loses only the frames inside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from runlab._errors import RunlabError
from runlab.storage._format import (
    KIND_EPISODE,
    KIND_EVENT,
    decode_event,
    iter_frames,
    split_episode,
    unpack_params,
)
from runlab.storage._layout import RUN_JSON, RunRecord, read_json
from runlab.storage._reader import _read_log, history_frame, series_from_payloads

if TYPE_CHECKING:
    import polars as pl

ENDED_STATUSES = ("SUCCESS", "FAILED", "ERRORED", "CANCELED")
"""The statuses an episode can end with, in the order tables show them."""
Unfinished = Literal["RUNNING", "INTERRUPTED"]
RUNNING: Unfinished = "RUNNING"
INTERRUPTED: Unfinished = "INTERRUPTED"
ALL_STATUSES = (*ENDED_STATUSES, RUNNING, INTERRUPTED)

_ALIASES = {"FINISHED": "SUCCESS", "CANCELLED": "CANCELED", "ERROR": "ERRORED"}


class EpisodeNotFound(RunlabError, LookupError):
    """No episode of a run has the given index or id."""


@dataclass(frozen=True)
class EpisodeRecord:
    """A snapshot of one episode as its run's log tells it.

    ``params`` maps each dotted parameter path to its sampled value (vectors are lists);
    ``metrics`` holds the last value the episode logged for each key. Times are seconds since
    the epoch; ``end`` is ``None`` until the episode ends. ``rank`` is the label of the
    process that ran the episode when its run has ranks (see ``_ranks.merged_episodes``),
    else ``None``.
    """

    index: int
    episode_id: str
    seed: int | None
    status: str
    err_msg: str | None = None
    traceback: str | None = None
    start: float | None = None
    end: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    rank: str | None = None

    @property
    def is_finished(self) -> bool:
        return self.status in ENDED_STATUSES

    @property
    def duration(self) -> float | None:
        """Seconds from start to end; ``None`` while unfinished or when either is unknown."""
        if self.start is None or self.end is None:
            return None
        return self.end - self.start


def read_episodes(run_dir: Path, *, unfinished: Unfinished | None = None) -> list[EpisodeRecord]:
    """Every episode recorded in the run's log, by index.

    Args:
        run_dir: the run's directory.
        unfinished: the status of episodes that started and did not end; when ``None`` it is
            ``RUNNING`` if ``run.json`` says the run is running (with a live heartbeat) and
            ``INTERRUPTED`` otherwise.
    """
    starts: dict[int, dict[str, Any]] = {}
    ends: dict[int, dict[str, Any]] = {}
    schema: list[Any] | None = None
    for fr in iter_frames(_read_log(Path(run_dir))):
        if fr.kind != KIND_EVENT:
            continue
        try:
            event = decode_event(fr.payload)
            kind = event.get("type")
            index = event.get("index")
        except (ValueError, AttributeError):  # an intact frame that is not an event object
            continue
        if not isinstance(index, int) or isinstance(index, bool):
            continue
        if schema is None and isinstance(event.get("param_keys"), list):
            schema = event["param_keys"]
        if kind == "episode_start":
            starts[index] = event
        elif kind == "episode_end":
            ends[index] = event
    if not starts and not ends:
        return []
    if unfinished is None and any(i not in ends for i in starts):
        unfinished = RUNNING if _run_is_running(Path(run_dir)) else INTERRUPTED
    # An episode that ended before it was announced has one event carrying both halves.
    return [
        _record(
            i, starts.get(i) or ends.get(i) or {}, ends.get(i), unfinished or INTERRUPTED, schema
        )
        for i in sorted(starts.keys() | ends.keys())
    ]


def _record(
    index: int,
    start: dict[str, Any],
    end: dict[str, Any] | None,
    unfinished: str,
    schema: list[Any] | None = None,
) -> EpisodeRecord:
    end_ = end or {}
    episode_id = end_.get("episode_id") or start.get("episode_id")
    status = unfinished if end is None else _status(end.get("status"))
    return EpisodeRecord(
        index=index,
        episode_id=str(episode_id) if episode_id is not None else f"{index:06d}",
        seed=_int_or_none(start.get("seed")),
        status=status,
        err_msg=_str_or_none(end_.get("err_msg")),
        traceback=_str_or_none(end_.get("traceback")),
        start=_float_or_none(start.get("start")),
        end=_float_or_none(end_.get("end")),
        params=unpack_params(start, schema),
        metrics=_dict(end_.get("metrics")),
    )


def _status(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        return INTERRUPTED  # an end event without a status: the outcome is unknown
    key = value.strip().upper()
    return _ALIASES.get(key, key)


def _run_is_running(run_dir: Path) -> bool:
    from runlab._status import RunStatus, derive_status

    try:
        record = RunRecord.from_json(read_json(run_dir / RUN_JSON))
    except (OSError, ValueError, TypeError):
        return False
    status = derive_status(record.status, record.heartbeat_at, record.heartbeat_interval)
    return status is RunStatus.RUNNING


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float_or_none(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def read_episode_history(
    run_dir: Path, index: int, keys: Sequence[str] | None = None
) -> pl.DataFrame:
    """One episode's own metric history: ``step``, ``timestamp`` and one column per key.

    Steps count from the episode's start (its first ``episode.log`` is step 0). An episode
    that logged nothing, has not ended yet, or does not exist gives an empty frame (with
    all-null columns for ``keys``). Same rules as ``read_history`` otherwise.
    """
    payloads = []
    for fr in iter_frames(_read_log(Path(run_dir))):
        if fr.kind != KIND_EPISODE:
            continue
        frame_index, payload = split_episode(fr.payload)
        if frame_index == index:
            payloads.append(payload)
    return history_frame(series_from_payloads(payloads, keys), keys)
