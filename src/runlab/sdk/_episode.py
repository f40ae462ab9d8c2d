"""Episodes: one execution of a scenario with its own sampled parameters, seed and metrics."""

from __future__ import annotations

import enum
import threading
import time
import traceback as tb_module
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from runlab._errors import RunlabError, StepOrderError
from runlab.sdk._values import FAST_TYPES, normalize

if TYPE_CHECKING:
    from runlab.sdk._run import Run


class EpisodeFinishedError(RunlabError):
    """An episode was finished (or logged to) after it had already finished."""


class EpisodeStatus(str, enum.Enum):
    """The outcome of an episode. ``FINISHED`` is accepted as ``SUCCESS`` (HumaLab).

    Example:
        >>> EpisodeStatus("FINISHED") is EpisodeStatus.SUCCESS
        True
    """

    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    ERRORED = "ERRORED"
    CANCELED = "CANCELED"

    FINISHED = "SUCCESS"
    CANCELLED = "CANCELED"

    @classmethod
    def _missing_(cls, value: object) -> EpisodeStatus | None:
        if isinstance(value, str):
            key = value.strip().upper()
            key = {"FINISHED": "SUCCESS", "CANCELLED": "CANCELED", "ERROR": "ERRORED"}.get(key, key)
            for member in cls:
                if member.value == key:
                    return member
        return None

    def __str__(self) -> str:
        return self.value


class Params(Mapping[str, Any]):
    """Read-only view of sampled parameters: ``p.robot.mass``, ``p["robot.mass"]``."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", data)

    def __getitem__(self, key: str) -> Any:
        node: Any = self._data
        for part in key.split(".") if isinstance(key, str) and key not in node else [key]:
            if not isinstance(node, Mapping) or part not in node:
                raise KeyError(key)
            node = node[part]
        return Params(node) if isinstance(node, Mapping) else node

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no parameter {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("sampled parameters are read-only")

    def to_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __repr__(self) -> str:
        return f"Params({dict(self._data)!r})"


def flatten_params(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"robot": {"mass": 1}}`` → ``{"robot.mass": 1}`` (lists are values)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if type(value) is dict and value:  # resolved scenarios are plain dicts
            out.update(flatten_params(value, f"{path}."))
        else:
            out[path] = value
    return out


class Episode:
    """One episode of a run: parameters sampled from the run's scenario for this episode.

    Parameters are attributes (``episode.friction``, ``episode.robot.mass``) and items
    (``episode["robot.mass"]``). Leaving its ``with`` block ends it ``SUCCESS`` (unless already
    ended), or ``ERRORED`` with the traceback when an exception escapes (re-raised).
    """

    def __init__(
        self, run: Run, index: int, episode_id: str, seed: int, params: dict[str, Any]
    ) -> None:
        self._run = run
        self.index = index
        self.episode_id = episode_id
        self.seed = seed
        self._params = params
        self._status = EpisodeStatus.RUNNING
        self._lock = threading.Lock()
        self._records: list[tuple[int, float, dict[str, Any]]] = []
        self._known: set[str] = set()
        self._step = 0
        self._last_step: dict[str, int] = {}
        self._last: dict[str, Any] = {}
        self.start_time = time.time()
        self.end_time: float | None = None
        self.err_msg: str | None = None
        self._announced = False

    # -- parameters ----------------------------------------------------------------------

    @property
    def config(self) -> Params:
        """The sampled parameters of this episode (nested, read-only)."""
        return Params(self._params)

    scenario = config

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return Params(self._params)[name]
        except KeyError:
            raise AttributeError(
                f"episode {self.episode_id!r} has no attribute or parameter {name!r}"
            ) from None

    def __getitem__(self, path: str) -> Any:
        return Params(self._params)[path]

    # -- state ---------------------------------------------------------------------------

    @property
    def status(self) -> EpisodeStatus:
        return self._status

    @property
    def is_finished(self) -> bool:
        return self._status is not EpisodeStatus.RUNNING

    def log(self, data: Mapping[str, Any], step: int | None = None) -> None:
        """Record scalar metrics inside the episode (same rules as ``Run.log``)."""
        if (
            type(data) is dict
            and self._known.issuperset(data)
            and FAST_TYPES.issuperset(map(type, data.values()))
        ):
            flat = dict(data)
        else:
            flat = normalize(data)
            self._known.update(flat)
        with self._lock:
            if self.is_finished:
                raise EpisodeFinishedError(
                    f"episode {self.episode_id!r} has ended ({self._status}); it takes no more logs"
                )
            if step is None:
                step = self._step
            elif isinstance(step, bool) or not isinstance(step, int) or step < 0:
                raise StepOrderError(f"episode step must be an int >= 0, got {step!r}")
            for key in flat:
                prev = self._last_step.get(key)
                if prev is not None and step < prev:
                    raise StepOrderError(
                        f"cannot log {key!r} at step {step} in episode {self.episode_id!r}: "
                        f"it was already logged at step {prev}"
                    )
            self._last_step.update(dict.fromkeys(flat, step))
            self._last.update(flat)
            self._step = max(self._step, step + 1)
            self._records.append((step, time.time(), flat))

    def finish(
        self, status: EpisodeStatus | str = EpisodeStatus.SUCCESS, err_msg: str | None = None
    ) -> None:
        """End the episode (``SUCCESS`` by default; ``FINISHED`` means the same).

        Raises:
            EpisodeFinishedError: the episode has already ended.
        """
        final = EpisodeStatus(status)
        if final is EpisodeStatus.RUNNING:
            raise ValueError("finish(status='RUNNING'): an episode ends SUCCESS, FAILED, ...")
        self._end(final, err_msg, None)

    def success(self) -> None:
        self.finish(EpisodeStatus.SUCCESS)

    def fail(self, msg: str | None = None) -> None:
        self.finish(EpisodeStatus.FAILED, msg)

    def cancel(self) -> None:
        self.finish(EpisodeStatus.CANCELED)

    def log_code(self, key: str, code_content: str) -> None:
        """Save a code artifact with this episode (``artifacts/episodes/<index>/code/<key>``)."""
        self._run._save_code(key, code_content, f"episodes/{self.index}/")

    def _end(self, status: EpisodeStatus, err_msg: str | None, traceback: str | None) -> None:
        with self._lock:
            if self.is_finished:
                raise EpisodeFinishedError(
                    f"episode {self.episode_id!r} already ended with {self._status}"
                )
            self._status = status
            self.err_msg = err_msg
            self.end_time = time.time()
            records, self._records = self._records, []
            announced = self._announced
        self._run._episode_ended(self, records, traceback, announced)

    def _announce(self) -> bool:
        """Mark the episode's start as written; False if it has ended or was announced."""
        with self._lock:
            if self._announced or self._status is not EpisodeStatus.RUNNING:
                return False
            self._announced = True
            return True

    def __enter__(self) -> Episode:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.is_finished:
            return
        if exc is None:
            self._end(EpisodeStatus.SUCCESS, None, None)
        elif isinstance(exc, (KeyboardInterrupt, SystemExit)):
            self._end(EpisodeStatus.CANCELED, f"{type(exc).__name__}", None)
        else:
            text = "".join(tb_module.format_exception(exc_type, exc, tb))
            self._end(EpisodeStatus.ERRORED, f"{type(exc).__name__}: {exc}", text)

    def __repr__(self) -> str:
        return f"<runlab.Episode {self.index} {self.episode_id!r} {self._status}>"
