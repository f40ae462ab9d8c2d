"""``runlab watch``'s engine: mark crashed runs promptly, alert on crashes and stalls.

One pass (:meth:`Watcher.scan`) looks at every run stored as ``running`` (and ``crashed``):

- **Process gone.** When ``run.json``'s ``writer`` (else ``metadata.json``) names this host and a
  pid that is verifiably not the run's process any more — no such process, a zombie, or a
  process created after the run's last heartbeat (the pid was reused) — the run is recorded as
  ``crashed`` in its ``run.json`` at once, without waiting for three missed heartbeats. That is
  the only write into a run directory by another process, and it is safe because the one writer
  is dead; ``crashed`` is then a stored, terminal state (resuming the run makes it ``running``).
  A run on another host, or without a pid, is left to heartbeat derivation.
- **Crashed** (so marked, stored, or heartbeat lapsed): one ``ERROR`` alert per run. Crashes
  whose last heartbeat predates the first watch of the store (minus the crash window) are old
  history and not announced.
- **Stalled** (running, beating, past its ``report_progress`` deadline): one ``WARN`` alert per
  missed deadline; a run that recovers and stalls again is announced again.

What was announced is remembered in ``<store>/.watch-state.json`` (one watcher per store), so
another pass or a restarted watch does not repeat it. Alerts go to the sinks configured by the
watch process's settings and environment (see :mod:`runlab.sdk._sinks`); crash alerts of a run
marked crashed are also appended to its ``files/alerts.jsonl``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runlab._settings import Settings
from runlab._status import CRASH_AFTER_BEATS, RunStatus, derive_status
from runlab.sdk._alerts import Alert, AlertLevel, Outbox, drain
from runlab.sdk._sinks import Sink, sinks_from_settings
from runlab.storage._layout import (
    FILES_DIR,
    METADATA_JSON,
    RUN_JSON,
    RunRecord,
    end_dead_run,
    read_json,
    write_json_atomic,
)
from runlab.storage._store import RunStore

STATE_FILE = ".watch-state.json"
"""Under the store: what ``runlab watch`` has announced, and since when it watches."""
PID_REUSE_SLACK = 2.0
"""Seconds a process's start may follow the run's last heartbeat before its pid counts as
reused (clocks and ``create_time`` rounding)."""


@dataclasses.dataclass(frozen=True)
class WatchEvent:
    """Something one pass found: a run marked crashed, or an alert sent."""

    run_id: str
    run_name: str
    kind: str
    """``marked crashed``, ``crashed`` or ``stalled``."""
    detail: str


class Watcher:
    """Scans one store for crashed and stalled runs.

    Args:
        root: the store directory.
        settings: where alerts go (the watch process's settings and environment by default).
        sinks: override the sinks (tests); the console sink is never used, the CLI prints.
        on_fault: called once per failing sink with ``(what, exception)``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        settings: Settings | None = None,
        *,
        sinks: tuple[Sink, ...] | None = None,
        on_fault: Callable[[str, BaseException], None] | None = None,
    ) -> None:
        self.root = Path(root)
        self.store = RunStore(self.root)
        settings = settings if settings is not None else Settings.resolve(dir=str(root))
        self.sinks = sinks if sinks is not None else sinks_from_settings(settings, console=False)
        self._on_fault = on_fault if on_fault is not None else _ignore
        self._outbox = Outbox(self.sinks, None, self._on_fault)
        self._host = _host()

    def close(self) -> None:
        self.store.close()

    def scan(self, now: float | None = None) -> list[WatchEvent]:
        """One pass over the store; returns what it did. Alerts are queued, not awaited
        (:func:`runlab.sdk._alerts.drain` waits for them)."""
        now = time.time() if now is None else now
        state = self._load_state(now)
        sent: dict[str, dict[str, Any]] = state["sent"]
        events: list[WatchEvent] = []
        self.store.sync(force=True)
        seen: set[str] = set()
        for record in self.store.list_runs(status=["running", "crashed"]):
            seen.add(record.id)
            events.extend(self._check(record, sent.setdefault(record.id, {}), state, now))
        state["sent"] = {k: v for k, v in sent.items() if k in seen and v}
        self._save_state(state)
        return events

    def _check(
        self, record: RunRecord, sent: dict[str, Any], state: dict[str, Any], now: float
    ) -> list[WatchEvent]:
        events: list[WatchEvent] = []
        outbox = self._outbox
        reason: str | None = None
        status = derive_status(
            record.status,
            record.heartbeat_at,
            record.heartbeat_interval,
            now,
            progress_deadline=record.progress_deadline,
        )
        if status in (RunStatus.RUNNING, RunStatus.STALLED):
            gone = self._process_gone(record)
            if gone is not None and self._mark_crashed(record, gone):
                events.append(WatchEvent(record.id, record.name, "marked crashed", gone))
                status, reason = RunStatus.CRASHED, gone
                files = self.store.run_dir(record.id) / FILES_DIR
                outbox = Outbox(self.sinks, files, self._on_fault)
        if status is RunStatus.RUNNING:
            sent.clear()  # a resumed run may crash again, a recovered one stall again
            return events
        if status is RunStatus.STALLED:
            deadline = record.progress_deadline
            assert deadline is not None
            if sent.get("stalled") != deadline:
                sent["stalled"] = deadline
                late = now - deadline
                text = (
                    f"Run {record.name} ({record.id}) in project {record.project} promised "
                    f"progress by {_clock(deadline)} and is {late:.0f} s late (its process is "
                    "still beating)"
                )
                self._send(outbox, record, "stalled", AlertLevel.WARN, text, now)
                events.append(WatchEvent(record.id, record.name, "stalled", text))
            return events
        # crashed: marked now, stored by an earlier pass or another tool, or heartbeat lapsed
        if sent.get("crashed"):
            return events
        sent["crashed"] = True
        last = record.heartbeat_at if record.heartbeat_at is not None else record.created_at
        window = (CRASH_AFTER_BEATS + 1) * record.heartbeat_interval
        if last + window < state["since"]:
            return events  # crashed before this store was first watched: history, not news
        if reason is None:
            stored = record.err_msg if record.status == "crashed" else None
            reason = stored or f"no heartbeat for {now - last:.0f} s"
        text = f"Run {record.name} ({record.id}) in project {record.project} crashed: {reason}"
        self._send(outbox, record, "crashed", AlertLevel.ERROR, text, now)
        events.append(WatchEvent(record.id, record.name, "crashed", text))
        return events

    def _send(
        self,
        outbox: Outbox,
        record: RunRecord,
        kind: str,
        level: AlertLevel,
        text: str,
        now: float,
    ) -> None:
        alert = Alert(
            f"Run {record.name} {kind}",
            text,
            level,
            record.id,
            record.name,
            record.project,
            now,
            kind="crashed" if kind == "crashed" else "stalled",
        )
        outbox.send(alert, console=False)

    # -- the process behind a run ----------------------------------------------------------------

    def _process_gone(self, record: RunRecord) -> str | None:
        """Why the run's process is verifiably gone, or ``None`` when it may be alive."""
        directory = self.store.run_dir(record.id)
        writer = _writer(directory)
        if writer is None:
            return None
        host, pid = writer
        if host != self._host:
            return None
        import psutil

        try:
            process = psutil.Process(pid)
            if process.status() == psutil.STATUS_ZOMBIE:
                return f"its process {pid} on {host} has exited"
            started = process.create_time()
        except psutil.NoSuchProcess:
            return f"its process {pid} on {host} is gone"
        except psutil.Error:
            return None  # exists but cannot be inspected: assume it is the run
        beat = record.heartbeat_at if record.heartbeat_at is not None else record.created_at
        if started > beat + PID_REUSE_SLACK:
            return f"its process {pid} on {host} is gone (the pid now belongs to another process)"
        return None

    def _mark_crashed(self, record: RunRecord, reason: str) -> bool:
        """Write ``crashed`` into the dead run's ``run.json`` (if it still reads ``running``)."""
        return end_dead_run(
            self.store.run_dir(record.id),
            RunStatus.CRASHED.value,
            f"{reason} (found by runlab watch)",
        )

    # -- state ------------------------------------------------------------------------------------

    def _load_state(self, now: float) -> dict[str, Any]:
        try:
            data = read_json(self.root / STATE_FILE)
        except (OSError, ValueError):
            data = None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("since"), (int, float))
            or not isinstance(data.get("sent"), dict)
        ):
            data = {"since": now, "sent": {}}
        return data

    def _save_state(self, state: dict[str, Any]) -> None:
        try:
            write_json_atomic(self.root / STATE_FILE, state)
        except OSError as exc:
            self._on_fault(f"saving {STATE_FILE}", exc)


def wait_for_alerts(timeout: float) -> bool:
    """Wait at most ``timeout`` seconds for queued alerts to go out."""
    return drain(timeout)


def _writer(directory: Path) -> tuple[str, int] | None:
    """``(host, pid)`` of the process writing a run: ``run.json``'s ``writer``, else
    ``metadata.json``'s ``host`` and ``pid``."""
    for name, key in ((RUN_JSON, "writer"), (METADATA_JSON, None)):
        try:
            data = read_json(directory / name)
        except (OSError, ValueError):
            continue
        info = data.get(key) if key is not None and isinstance(data, dict) else data
        if isinstance(info, dict):
            host, pid = info.get("host"), info.get("pid")
            if isinstance(host, str) and isinstance(pid, int) and not isinstance(pid, bool):
                return host, pid
    return None


def _host() -> str:
    from runlab.sdk._resume import host_name

    return host_name()


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def _ignore(what: str, exc: BaseException) -> None:
    return None
