"""Alerts: ``run.alert(...)`` and the automatic ones, rate-limited and sent off the caller's thread.

``run.alert(title, text, level, wait_duration)`` follows W&B's semantics: an alert whose title was
already sent by the same run less than ``wait_duration`` seconds ago (default one minute) is not
sent again. An admitted alert goes to the process's one :class:`Dispatcher`: a daemon thread that
appends it to the run's ``files/alerts.jsonl`` and hands it to every sink whose least level it
reaches (see :mod:`runlab.sdk._sinks`). The caller's thread only validates and queues, so a slow
or dead webhook never holds up training:

- the queue is bounded (:data:`QUEUE_SIZE`); an alert that finds it full is dropped and reported;
- each delivery has a short timeout and is tried at most :data:`ATTEMPTS` times;
- a sink that fails is reported once per run through the run's fault hook (``run.faults`` and
  one ``RunlabWarning``), like a storage fault;
- ``finish()`` waits at most :data:`FINISH_WAIT` seconds for the alerts still queued, so the
  failure alert sent at the end of a run still goes out.

Automatic alerts: the run's own process sends ``failed`` when it ends failed (with the error
message); ``runlab watch`` sends ``crashed`` and ``stalled`` (see :mod:`runlab.cli._watch`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from runlab._settings import Settings
    from runlab.sdk._sinks import Sink

AlertKind = Literal["user", "failed", "crashed", "stalled"]
"""Who raised an alert: ``run.alert`` (``user``) or runlab itself, on an end or a stall."""

DEFAULT_WAIT = 60.0
"""Seconds within which an alert with the same title is not sent again (W&B's one minute)."""
QUEUE_SIZE = 256
ATTEMPTS = 3
FINISH_WAIT = 5.0
"""Seconds ``finish()`` waits at most for queued alerts."""
ALERTS_FILE = "alerts.jsonl"
"""Under a run's ``files/``: one JSON object per alert the run sent."""
_MAX_TITLES = 1024  # titles remembered for rate limiting before expired ones are dropped

FaultHook = Callable[[str, BaseException], None]


class AlertLevel(str, enum.Enum):
    """How severe an alert is; each sink has a least level it passes on.

    Strings are accepted wherever a level is (case-insensitive; ``WARNING`` is ``WARN``).

    Example:
        >>> AlertLevel("warning") is AlertLevel.WARN
        True
        >>> AlertLevel.ERROR.rank > AlertLevel.INFO.rank
        True
    """

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"

    @classmethod
    def _missing_(cls, value: object) -> AlertLevel | None:
        if isinstance(value, str):
            key = value.strip().upper()
            key = {"WARNING": "WARN"}.get(key, key)
            for member in cls:
                if member.value == key:
                    return member
        return None

    @property
    def rank(self) -> int:
        """0, 1, 2 for INFO, WARN, ERROR."""
        return _RANKS[self]

    def __str__(self) -> str:
        return self.value


_RANKS = {AlertLevel.INFO: 0, AlertLevel.WARN: 1, AlertLevel.ERROR: 2}


def check_level(level: AlertLevel | str) -> AlertLevel:
    """``level`` as an :class:`AlertLevel`.

    Raises:
        ValueError: not a level name (the message lists them).
    """
    try:
        return AlertLevel(level)
    except ValueError:
        allowed = ", ".join(m.value for m in AlertLevel)
        raise ValueError(f"alert level={level!r} is not one of {allowed}") from None


def check_wait(wait_duration: float | dt.timedelta | None) -> float:
    """Seconds from a number, a ``timedelta`` or ``None`` (:data:`DEFAULT_WAIT`).

    Raises:
        TypeError: not a number or a ``timedelta``.
        ValueError: negative or not finite.
    """
    if wait_duration is None:
        return DEFAULT_WAIT
    if isinstance(wait_duration, dt.timedelta):
        seconds = wait_duration.total_seconds()
    elif isinstance(wait_duration, (int, float)) and not isinstance(wait_duration, bool):
        seconds = float(wait_duration)
    else:
        raise TypeError(
            f"wait_duration must be seconds (int or float) or a datetime.timedelta, not "
            f"{type(wait_duration).__name__} ({wait_duration!r})"
        )
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"wait_duration={wait_duration!r} must be >= 0 seconds and finite")
    return seconds


def check_alert(
    title: str, text: str, level: AlertLevel | str, wait_duration: float | dt.timedelta | None
) -> tuple[AlertLevel, float]:
    """``run.alert``'s arguments checked: its level and its wait in seconds.

    Raises:
        TypeError: title or text not a str, or a wait that is not a duration.
        ValueError: an empty title, an unknown level or a negative wait.
    """
    if not isinstance(title, str) or not title.strip():
        raise (TypeError if not isinstance(title, str) else ValueError)(
            f"alert title must be a non-empty str, not {title!r}"
        )
    if not isinstance(text, str):
        raise TypeError(f"alert text must be a str, not {type(text).__name__}")
    return check_level(level), check_wait(wait_duration)


@dataclasses.dataclass(frozen=True)
class Alert:
    """One alert as sinks receive it (a snapshot)."""

    title: str
    text: str
    level: AlertLevel
    run_id: str | None
    run_name: str | None
    project: str | None
    time: float
    kind: AlertKind = "user"

    def to_json(self) -> dict[str, Any]:
        """The JSON object a webhook receives and ``alerts.jsonl`` keeps."""
        return {
            "title": self.title,
            "text": self.text,
            "level": self.level.value,
            "kind": self.kind,
            "run_id": self.run_id,
            "run_name": self.run_name,
            "project": self.project,
            "time": self.time,
        }


class RateLimiter:
    """Per-title rate limiting: a title is admitted again once its wait has passed.

    Example:
        >>> limiter = RateLimiter()
        >>> [limiter.admit("t", 60.0, now) for now in (0.0, 30.0, 61.0)]
        [True, False, True]
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}

    def admit(self, title: str, wait: float, now: float) -> bool:
        """Whether an alert titled ``title`` may be sent at ``now``; if so, remember it."""
        with self._lock:
            until = self._until.get(title)
            if until is not None and now < until:
                return False
            if len(self._until) >= _MAX_TITLES:
                self._until = {t: u for t, u in self._until.items() if u > now}
            self._until[title] = now + wait
            return True


@dataclasses.dataclass
class _Job:
    alert: Alert
    sinks: tuple[Sink, ...]
    outbox: Outbox


class Outbox:
    """What one run (or one ``runlab watch``) sends through: its sinks, its rate limiter, where
    its alerts are recorded and how failures are reported (once per sink).

    Args:
        sinks: where alerts go (each filters by its own least level).
        record_dir: the run's ``files/`` (alerts are appended to ``alerts.jsonl`` there), or
            ``None`` to keep no record.
        on_fault: called once per failing sink with ``(what, exception)``.
    """

    def __init__(
        self,
        sinks: Sequence[Sink],
        record_dir: Path | None,
        on_fault: FaultHook,
    ) -> None:
        self.sinks = tuple(sinks)
        self.record_dir = record_dir
        self.limiter = RateLimiter()
        self._on_fault = on_fault
        self._failed: set[str] = set()
        self._lock = threading.Lock()

    def send(self, alert: Alert, *, console: bool = True) -> bool:
        """Queue ``alert`` for every sink (but the console one when ``console`` is False).

        Returns:
            False when the queue was full and the alert was dropped (reported as a fault).
        """
        sinks = self.sinks if console else tuple(s for s in self.sinks if s.kind != "console")
        if dispatcher().submit(_Job(alert, sinks, self)):
            return True
        self.fault("alert queue", OverflowError(f"{QUEUE_SIZE} alerts waiting; dropped one"))
        return False

    def fault(self, what: str, exc: BaseException) -> None:
        with self._lock:
            if what in self._failed:
                return
            self._failed.add(what)
        self._on_fault(what, exc)

    def has_failed(self, what: str) -> bool:
        with self._lock:
            return what in self._failed

    def record(self, alert: Alert) -> None:
        if self.record_dir is None:
            return
        line = json.dumps(alert.to_json(), separators=(",", ":"), ensure_ascii=False) + "\n"
        try:
            self.record_dir.mkdir(parents=True, exist_ok=True)
            with open(self.record_dir / ALERTS_FILE, "a", encoding="utf-8") as f:
                f.write(line)
        except OSError as exc:
            self.fault(f"recording alerts in {ALERTS_FILE}", exc)


def run_outbox(settings: Settings, record_dir: Path, on_fault: FaultHook) -> Outbox:
    """The outbox of a run: the sinks its settings name, its alerts kept in ``record_dir``."""
    from runlab.sdk._sinks import sinks_from_settings

    return Outbox(sinks_from_settings(settings), record_dir, on_fault)


def send_failure(
    outbox: Outbox,
    run_id: str,
    name: str,
    project: str,
    err_msg: str | None,
    exit_code: int | None,
) -> None:
    """The automatic alert of a failed run, sent when a sink beyond the console is set."""
    if all(sink.kind == "console" for sink in outbox.sinks):
        return  # the end-of-run block already tells the terminal
    reason = err_msg or "no error message"
    if exit_code is not None and "exit code" not in reason:
        reason += f" (exit code {exit_code})"
    alert = Alert(
        f"Run {name} failed",
        f"Run {name} ({run_id}) in project {project} failed: {reason}",
        AlertLevel.ERROR,
        run_id,
        name,
        project,
        time.time(),
        kind="failed",
    )
    outbox.send(alert, console=False)


class Dispatcher:
    """One daemon thread per process that records and delivers queued alerts in order."""

    def __init__(self, maxsize: int = QUEUE_SIZE) -> None:
        self._jobs: deque[_Job] = deque()
        self._maxsize = maxsize
        self._cond = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None
        self.pid = os.getpid()

    def submit(self, job: _Job) -> bool:
        """Queue ``job`` without waiting; False when the queue is full."""
        with self._cond:
            if len(self._jobs) >= self._maxsize:
                return False
            self._jobs.append(job)
            self._pending += 1
            thread = None
            if self._thread is None:
                thread = threading.Thread(target=self._loop, name="runlab-alerts", daemon=True)
                self._thread = thread
            self._cond.notify_all()
        if thread is not None:
            try:
                thread.start()
            except RuntimeError:  # interpreter shutdown (Python 3.12+): no new threads
                with self._cond:
                    self._thread = None
                self._deliver_here()
        return True

    def _deliver_here(self) -> None:
        """Deliver what is queued on the calling thread (bounded by the sinks' timeouts)."""
        while True:
            with self._cond:
                if not self._jobs:
                    return
                job = self._jobs.popleft()
            self._handle(job)

    def drain(self, timeout: float) -> bool:
        """Wait until every queued alert was handled, at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._jobs:
                    self._cond.wait()
                job = self._jobs.popleft()
            self._handle(job)

    def _handle(self, job: _Job) -> None:
        try:
            _deliver(job)
        except Exception:  # a failing fault hook (warnings as errors) must not stop the thread
            pass
        finally:
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()


def _deliver(job: _Job) -> None:
    alert, outbox = job.alert, job.outbox
    outbox.record(alert)
    for sink in job.sinks:
        if alert.level.rank < sink.level.rank:
            continue
        what = f"sending alerts to {sink.name}"
        attempts = 1 if outbox.has_failed(what) else ATTEMPTS  # a sink known down: no retries
        for attempt in range(attempts):
            try:
                sink.send(alert)
                break
            except Exception as exc:  # a sink must never take the thread down
                if attempt + 1 == attempts or not getattr(exc, "retry", True):
                    outbox.fault(what, exc)
                    break
                time.sleep(0.2 * (attempt + 1))


_lock = threading.Lock()
_dispatcher: Dispatcher | None = None


def dispatcher() -> Dispatcher:
    """The process's dispatcher, created on first use (and again in a forked child, whose copy
    of the parent's thread does not run)."""
    global _dispatcher
    with _lock:
        if _dispatcher is None or _dispatcher.pid != os.getpid():
            _dispatcher = Dispatcher()
        return _dispatcher


def drain(timeout: float = FINISH_WAIT) -> bool:
    """Wait at most ``timeout`` seconds for the process's queued alerts; True when none is left."""
    with _lock:
        current = _dispatcher
    if current is None or current.pid != os.getpid():
        return True
    return current.drain(timeout)
