"""The one writer of a run's ``history.rlog``, serviced by the process's writer thread.

The caller's thread only appends ``(step, time, {key: scalar})`` tuples to a deque; the
writer thread drains it at least every ``flush_interval`` seconds, encodes the batch
column-wise and appends one checksummed frame. One thread per process (a
:class:`runlab._ticker.Ticker`) services every open run, each on its own cadence of half its
flush interval (not "interval after the last flush ended"): a point waits at most half an
interval to be drained, leaving the other half for encoding and writing while the training
loop competes for the GIL.

Storage faults never reach the caller: they are reported once
through ``on_fault`` and the unwritten frames are kept (up to ``max_pending_bytes``) and
retried on every flush.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runlab._ticker import Ticker, ticker
from runlab.storage._format import (
    FILE_HEADER,
    KIND_EVENT,
    KIND_HISTORY,
    Columns,
    Record,
    encode_event,
    encode_history,
    frame,
    transpose,
)

MAX_RECORDS_PER_FRAME = 50_000
MAX_KEYS_PER_FRAME = 65_535  # the frame's key count is a u16
MAX_PENDING_BYTES = 64 << 20

BatchHook = Callable[[list[Record], Columns], None]
FaultHook = Callable[[str, BaseException], None]


class HistoryWriter:
    """Appends frames to one run log from the process's writer thread.

    ``write_through()`` flushes in the caller's thread instead (the run calls it after every
    ``log()`` in write-through mode); ``flush()`` and ``wait_for_room()`` wait for the thread.

    Args:
        path: the ``history.rlog`` to append to (created with its header if missing).
        flush_interval: seconds between flushes; bounds what a SIGKILL can lose.
        fsync: ``os.fsync`` after each flush.
        on_batch: called on the writer thread with each drained batch (summaries, samples).
        on_tick: called on the writer thread after every flush (heartbeat, run.json).
        on_fault: called once per distinct storage fault.
    """

    def __init__(
        self,
        path: Path,
        *,
        flush_interval: float = 0.1,
        fsync: bool = False,
        on_batch: BatchHook | None = None,
        on_tick: Callable[[], None] | None = None,
        on_fault: FaultHook | None = None,
        max_pending_bytes: int = MAX_PENDING_BYTES,
    ) -> None:
        self.path = path
        self.queue: deque[Record] = deque()
        self.key_last_step: dict[str, int] = {}
        """Last step written or drained per key (guarded by ``lock``)."""
        self.lock = threading.RLock()
        self.dropped_frames = 0
        self._flush_interval = flush_interval
        self._fsync = fsync
        self._on_batch = on_batch
        self._on_tick = on_tick
        self._on_fault = on_fault
        self._max_pending = max_pending_bytes
        self._events: deque[bytes | dict[str, Any]] = deque()
        self._aside: deque[Record] = deque()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._file: Any = None
        self._faults: set[str] = set()
        self._flush_lock = threading.RLock()
        self._cond = threading.Condition()
        self._started = 0
        self._done = 0
        self._period = flush_interval / 2
        self.deadline = 0.0
        self.wanted = False
        self._registered = False
        self._closing = False
        self._closed = False

    # -- caller side -------------------------------------------------------------------

    def start(self) -> None:
        """Hand the writer to the process's writer thread."""
        self._registered = True
        self.deadline = time.monotonic() + self._period
        _pump().add(self)

    def submit_event(self, event: dict[str, Any]) -> None:
        """Queue a JSON event (encoded on the writer thread; do not mutate it afterwards)."""
        self._events.append(event)

    def submit_aside(self, record: Record) -> None:
        """Queue a record on a step axis of its own (system metrics' sample index).

        Written in frames of its own with the next flush; never passed to ``on_batch`` nor
        counted in ``key_last_step``, so it moves neither the summaries nor the step order.
        """
        self._aside.append(record)

    def submit_frame(self, kind: int, payload: bytes) -> None:
        """Queue an already encoded payload to be written with the next flush."""
        self._events.append(frame(kind, payload))

    def wake(self) -> None:
        """Ask the writer thread to flush and tick soon, without waiting."""
        self.wanted = True
        if self._registered:
            _pump().wake()

    def wait_for_room(self) -> None:
        """Block until the writer has drained the queue (the caller found it over capacity)."""
        self.flush(wait=True)

    def flush(self, wait: bool = True, timeout: float | None = 30.0) -> None:
        """Write everything queued so far; with ``wait``, return once it is written."""
        pump = _pump()
        if not self._registered or not pump.alive() or pump.is_current():
            self._flush_once()
            return
        with self._cond:
            ticket = self._started + 1
            self.wanted = True
            pump.wake()
            if wait:
                self._cond.wait_for(lambda: self._done >= ticket, timeout)

    def write_through(self) -> None:
        """Flush in the caller's thread (write-through mode)."""
        self._flush_once()

    def close(self, timeout: float = 30.0) -> None:
        """Flush everything (and fsync, with ``fsync=True``), leave the writer thread, close
        the file. ``timeout`` is kept for callers; the final flush runs in the caller's thread."""
        self._closing = True
        if self._registered:
            _pump().remove(self)
            self._registered = False
        with self._flush_lock:  # waits for a flush or tick the writer thread is in
            self._flush_once()
            self._closed = True
            if self._file is not None:
                with contextlib.suppress(OSError):
                    self._file.close()
                self._file = None

    @property
    def faulted(self) -> bool:
        return bool(self._faults)

    # -- writer thread -------------------------------------------------------------------

    def turn(self, now: float) -> None:
        """The writer thread's turn (see :mod:`runlab._ticker`): flush, then the tick."""
        self.deadline = max(self.deadline + self._period, now)
        try:
            self._service()
        except Exception as exc:  # one run's trouble must not stop the others
            self._fault("writer", exc)

    def _service(self) -> None:
        """Flush, then the tick (heartbeat, run.json), unless closed."""
        with self._flush_lock:
            if self._closed:
                return
            self._flush_once()
            if self._on_tick is not None and not self._closing:
                try:
                    self._on_tick()
                except Exception as exc:  # a tick must never kill the writer
                    self._fault("tick", exc)

    def _flush_once(self) -> None:
        with self._flush_lock:
            with self._cond:
                self._started += 1
                ticket = self._started
            try:
                self._drain_and_write()
            finally:
                with self._cond:
                    self._done = max(self._done, ticket)
                    self._cond.notify_all()

    def _drain_and_write(self) -> None:
        q = self.queue
        popleft = q.popleft
        batches: list[tuple[list[Record], Columns]] = []
        with self.lock:  # a caller checking step order sees either the queue or this map
            n = len(q)
            records = [popleft() for _ in range(n)]
            last = self.key_last_step
            for i in range(0, n, MAX_RECORDS_PER_FRAME):
                chunk = records[i : i + MAX_RECORDS_PER_FRAME]
                cols = transpose(chunk)
                for key, (_values, ranges) in cols.items():
                    last[key] = chunk[ranges[-1][1] - 1][0]
                batches.append((chunk, cols))
        frames: list[bytes] = []
        for chunk, cols in batches:
            keys = list(cols)
            for k in range(0, len(keys), MAX_KEYS_PER_FRAME):
                part = (
                    cols
                    if len(keys) <= MAX_KEYS_PER_FRAME
                    else {key: cols[key] for key in keys[k : k + MAX_KEYS_PER_FRAME]}
                )
                try:
                    frames.append(frame(KIND_HISTORY, encode_history(chunk, part)))
                except Exception as exc:  # reported; the writer goes on with the next batch
                    self._fault("encode", exc)
            if self._on_batch is not None:
                try:
                    self._on_batch(chunk, cols)
                except Exception as exc:
                    self._fault("summary", exc)
        if self._aside:
            aside = [self._aside.popleft() for _ in range(len(self._aside))]
            try:
                frames.append(frame(KIND_HISTORY, encode_history(aside, transpose(aside))))
            except Exception as exc:
                self._fault("encode", exc)
        while self._events:
            item = self._events.popleft()
            frames.append(
                item if isinstance(item, bytes) else frame(KIND_EVENT, encode_event(item))
            )
        if frames or self._pending:
            self._write(frames, sync=self._fsync)

    def _write(self, frames: list[bytes], sync: bool) -> None:
        self._pending.extend(frames)
        self._pending_bytes += sum(map(len, frames))
        try:
            f = self._open()
            f.write(b"".join(self._pending))
            f.flush()
            if sync:
                os.fsync(f.fileno())
        except OSError as exc:
            self._fault("write", exc)
            self._close_quietly()
            self._trim_pending()
            return
        self._pending.clear()
        self._pending_bytes = 0

    def _open(self) -> Any:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)  # it may have failed at init
            f = open(self.path, "ab")  # noqa: SIM115 - held open for the run's lifetime
            if f.tell() == 0:
                f.write(FILE_HEADER)
            self._file = f
        return self._file

    def _close_quietly(self) -> None:
        # A failed write may leave a partial frame; readers resynchronise past it.
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def _trim_pending(self) -> None:
        while self._pending_bytes > self._max_pending and len(self._pending) > 1:
            dropped = self._pending.pop(0)
            self._pending_bytes -= len(dropped)
            self.dropped_frames += 1
        if self.dropped_frames:
            self._fault(
                "overflow",
                OSError(f"{self.dropped_frames} frame(s) dropped: store unwritable for too long"),
            )

    def _fault(self, kind: str, exc: BaseException) -> None:
        key = f"{kind}:{type(exc).__name__}:{getattr(exc, 'errno', '')}"
        if key in self._faults:
            return
        self._faults.add(key)
        if self._on_fault is not None:
            with contextlib.suppress(Exception):
                self._on_fault(kind, exc)


def _pump() -> Ticker:
    """This process's writer thread."""
    return ticker("runlab-writer")
