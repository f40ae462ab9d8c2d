"""The file-system work of many short runs, done by a helper process.

An in-process sweep starts and ends runs by the thousand, and for a short trial most of a
run's cost is file-system calls: ``mkdir`` of the run directory and of ``files/``, hard links
of the captured environment, ``run.json`` written when the run starts and again when it ends.
A thread cannot take that work off the trial's thread: it needs the GIL back after every
system call, and a busy interpreter hands it over only every switch interval (5 ms). So a
:class:`Spool` hands it to a helper process (``_spool_helper``, standard library only), which
does it on another core while the trials go on:

* the helper keeps run directories made ahead (``runs/<id>/files/``, the id drawn here and
  claimed by an exclusive ``mkdir`` there). A directory without ``run.json`` is not a run to
  readers, so a spare one is invisible until :meth:`take` hands it out;
* :meth:`write` replaces a file atomically, in the order asked. Writes wait here until the
  next :meth:`flush` (a later run's start once :data:`FLUSH_S` has passed, the run's writer
  tick, :meth:`settle` or :meth:`close`), and a newer write of the same path replaces a
  waiting one. A run started here writes no start record (its writer's first tick does, if
  it still runs then), so a trial that ends within its first tick writes ``run.json`` once,
  and frees no inode (on ext4 without a journal every inode freed in the last minutes slows
  each later ``mkdir`` in its group);
* :meth:`link` gives a run a file shared by many runs (the captured environment) as a hard
  link, in the same order.

:meth:`close` waits for everything, removes the unused directories and stops the helper. If
the helper dies, what it had not confirmed is done here. If this process dies, the helper
still does everything it was sent (a run sends its last record as it ends) and removes the
directories holding nothing but what it made; what a live run wrote since its writer's last
tick is lost, as its history since the last flush is.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from pathlib import Path

from runlab._errors import RunlabWarning
from runlab.storage import _spool_helper as helper

Fault = Callable[[str, BaseException], None]

FLUSH_S = 0.005
"""Seconds a write may wait here for the next run's start to send it (then it goes with the
next run's start, the run's writer tick or ``settle``): one pipe write serves many runs."""
FLUSH_FRAMES = 64
"""Waiting operations that are sent at the next run's start whatever their age."""
CLOSE_TIMEOUT_S = 60.0
"""Seconds :meth:`Spool.close` waits for the helper before doing what is left itself."""


class Spool:
    """A helper process doing the file-system work of the runs of one store.

    Args:
        runs_dir: the store's ``runs/`` directory.
        trash_dir: the store's trash (ids of deleted runs are never reused).
        new_id: draws a run id.
        ahead: run directories to keep made ahead.

    Thread-safe. Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        runs_dir: Path,
        trash_dir: Path,
        new_id: Callable[[], str],
        ahead: int = 64,
    ) -> None:
        self.runs_dir = runs_dir
        self._trash_dir = trash_dir
        self._new_id = new_id
        self._ahead = ahead
        self._lock = threading.RLock()
        self._ready: deque[str] = deque()
        self._asked: deque[str] = deque()
        """Directories asked of the helper and not answered yet, in order."""
        self._stale = 0
        """How many of those were asked before a trim removed them: their answers are void."""
        self._pending: dict[tuple[str, str], bytes] = {}
        """Frames waiting for the next flush, in order; a write is keyed by its path."""
        self._pending_since = 0.0
        self._blobs: dict[str, bytes] = {}
        self._faults: dict[str, Fault] = {}
        """Who hears of a failure, per path waiting for the next flush."""
        self._unconfirmed: dict[int, tuple[list[bytes], dict[str, Fault]]] = {}
        """Operations sent in each flush and who hears of their failures, until the helper
        confirms them (redone here if the helper dies first)."""
        self._seq = 0
        self._inbox = bytearray()
        self._local: helper.State | None = None
        """Set when the helper is gone: the work is then done in this process."""
        self._closed = False
        self._pid = os.getpid()
        self._proc: subprocess.Popen[bytes] | None = None
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-S", "-E", helper.__file__, str(runs_dir), str(trash_dir)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                close_fds=True,
                # A session of its own: a terminal's Ctrl-C (sent to the whole foreground group,
                # even while the helper is still starting) is the sweep's to handle; the helper
                # ends when its input does, after doing what it was sent.
                start_new_session=True,
            )
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._out, self._in = self._proc.stdin.fileno(), self._proc.stdout.fileno()
            os.set_blocking(self._out, False)
            os.set_blocking(self._in, False)
        except (OSError, ValueError):  # no interpreter to start (embedded, frozen): do it here
            self._go_local()
        self._ask_ahead()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- callers ---------------------------------------------------------------------------

    def take(self) -> tuple[str, Path] | None:
        """A run directory made ahead, as ``(id, path)``, or ``None`` when none is ready (the
        caller then makes its own). Also sends what waits for a flush: the previous runs'
        last records."""
        with self._lock:
            if self._closed:
                return None
            if len(self._ready) < self._ahead // 4:
                self._receive()
                self._ask_ahead()
            if self._pending and (
                len(self._pending) >= FLUSH_FRAMES
                or time.monotonic() - self._pending_since >= FLUSH_S
            ):
                self.flush()
            if not self._ready:
                return None
            run_id = self._ready.popleft()
        return run_id, self.runs_dir / run_id

    def adopt(self, run_id: str) -> None:
        """Count ``runs/<run_id>``, made by the caller when none was ready, as made ahead: if
        this process dies before its run writes anything, the helper removes it."""
        with self._lock:
            self._queue(("O", run_id), helper.frame(b"O", run_id.encode()))
            self.flush()

    def write(self, path: str | os.PathLike[str], data: bytes, on_fault: Fault) -> None:
        """Replace ``path`` with ``data`` atomically, after everything asked before (at the
        next :meth:`flush`)."""
        key = os.fspath(path)
        with self._lock:
            self._faults[key] = on_fault
            self._pending.pop(("W", key), None)  # a newer record goes after what came since
            self._queue(("W", key), helper.frame(b"W", os.fsencode(key), data))
            if self._closed:
                self.flush()

    def link(
        self, target: str, key: str, data: bytes, on_fault: Fault, copy: str | None = None
    ) -> None:
        """Give ``target`` the file ``data``: a hard link to the last copy of blob ``key``
        (``copy``, a file already holding ``data``, when there is none yet)."""
        with self._lock:
            self._faults[target] = on_fault
            if self._blobs.get(key) is not data:
                if ("B", key) in self._pending:  # the links waiting use the blob it defines
                    self.flush()
                self._blobs[key] = data
                hint = os.fsencode(copy or "")
                self._queue(("B", key), helper.frame(b"B", key.encode(), hint, data))
            self._queue(("L", target), helper.frame(b"L", os.fsencode(target), key.encode()))
            if self._closed:
                self.flush()

    def _queue(self, key: tuple[str, str], frame: bytes) -> None:
        """Add ``frame`` to what waits for the next flush (the caller holds the lock)."""
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending[key] = frame

    def flush(self) -> None:
        """Send everything waiting to the helper (or do it, when there is none)."""
        with self._lock:
            if not self._pending:
                return
            ops = list(self._pending.values())
            faults, self._faults = self._faults, {}
            self._pending.clear()
            if self._local is not None:
                self._apply(ops, faults)
                return
            self._seq += 1
            self._unconfirmed[self._seq] = (ops, faults)
            self._send(b"".join(ops) + helper.frame(b"S", str(self._seq).encode()))

    def settle(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Wait until everything asked so far is done (the runs' records are then on disk)
        and remove the directories made ahead; the helper stays for more."""
        with self._lock:
            self.flush()
            if self._local is None:
                self._receive()
                self._ready.clear()  # the helper removes every unused one
                self._stale = len(self._asked)
                self._queue(("T", ""), helper.frame(b"T"))
                self.flush()
            deadline = time.monotonic() + timeout
            while self._unconfirmed and self._local is None and time.monotonic() < deadline:
                select.select([self._in], [], [], 0.5)
                self._receive()
            if self._unconfirmed:  # it hung: do the rest here
                self._go_local()

    def usable(self) -> bool:
        """Whether this process can go on using the spool (not closed, not a forked copy,
        its helper alive)."""
        return (
            not self._closed
            and self._pid == os.getpid()
            and self._local is None
            and self._proc is not None
            and self._proc.poll() is None
        )

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Wait until everything asked is done, remove the unused run directories and stop
        the helper. Failures went to each operation's ``on_fault``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._pid != os.getpid():  # a forked copy: the helper and its pipes are the parent's
                return
            self.flush()
            if self._local is None:
                self._receive()
                unused = list(self._ready)
                self._ready.clear()
                self._send(helper.frame(b"X"))  # the helper removes the unused ones
                self._wait(timeout)
                if self._local is not None or self._unconfirmed:  # it died or hung
                    self._go_local()
                    self._ready.extend(unused)
            for run_id in self._ready:  # made ahead here, or by a helper that is gone
                shutil.rmtree(self.runs_dir / run_id, ignore_errors=True)
            self._ready.clear()

    # -- the pipes ---------------------------------------------------------------------------

    def _ask_ahead(self) -> None:
        want = self._ahead - len(self._ready) - len(self._asked)
        if want <= 0:
            return
        ids = [self._new_id() for _ in range(want)]
        if self._local is not None:
            state = self._local
            for run_id in ids:
                with contextlib.suppress(OSError):
                    if state.make(run_id):
                        self._ready.append(run_id)
            return
        self._asked.extend(ids)
        self._send(b"".join(helper.frame(b"M", run_id.encode()) for run_id in ids))

    def _send(self, data: bytes) -> None:
        """Write to the helper, reading its answers while its pipe is full (it may be waiting
        for room to answer)."""
        view = memoryview(data)
        try:
            while view and self._local is None:
                try:
                    view = view[os.write(self._out, view) :]
                except BlockingIOError:
                    select.select([self._in], [self._out], [], 1.0)
                    self._receive()
                except OSError:  # BrokenPipeError: the helper is gone
                    self._go_local()
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM) with part of a frame sent: nothing more may follow
            # it down the pipe, or the helper would read the next frames as its rest. The
            # helper is stopped before it completes the frame; what it did not confirm is done
            # here.
            if view and self._local is None:
                self._go_local()
            raise

    def _receive(self) -> None:
        """Read and handle the helper's answers that are there, without waiting."""
        if self._local is None and not self._read_answers():  # the helper is gone
            self._go_local()

    def _read_answers(self) -> bool:
        """Handle the answers there are; ``False`` at the end of the helper's output."""
        alive = True
        while True:
            try:
                chunk = os.read(self._in, 1 << 16)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                alive = False
                break
            self._inbox += chunk
        for op, payload in helper.frames(self._inbox):
            self._answer(chr(op), payload)
        return alive

    def _answer(self, op: str, payload: bytes, faults: dict[str, Fault] | None = None) -> None:
        """Handle one answer of the helper (or of :func:`helper.apply`, run here)."""
        if op in "RE":
            self._asked.popleft()
            if self._stale:
                self._stale -= 1
            elif op == "R":
                self._ready.append(payload.decode())
        elif op == "A":
            self._unconfirmed.pop(int(payload), None)
        elif op == "F":
            what, _, message = payload.partition(b"\0")
            self._fault(os.fsdecode(what), OSError(message.decode(errors="replace")), faults)

    def _wait(self, timeout: float) -> None:
        """Read answers until the helper has confirmed everything and exited."""
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            select.select([self._in], [], [], 0.5)
            if not self._read_answers():  # end of file: the helper has exited
                break
        with contextlib.suppress(Exception):
            self._proc.wait(max(0.0, deadline - time.monotonic()))

    def _go_local(self) -> None:
        """The helper is gone (or never started): redo what it did not confirm, here."""
        if self._local is not None:
            return
        self._local = self._local_state()
        if self._proc is not None:
            with contextlib.suppress(OSError):
                self._proc.kill()
            with contextlib.suppress(Exception):
                self._proc.wait(5)
            for pipe in (self._proc.stdin, self._proc.stdout):
                with contextlib.suppress(OSError):
                    if pipe is not None:
                        pipe.close()
        # what the helper may have made without saying so: removed, unless a run is in it
        self._local.made.update(self._asked)
        self._local.leftovers()
        self._asked.clear()
        self._stale = 0
        unconfirmed, self._unconfirmed = self._unconfirmed, {}
        for ops, faults in unconfirmed.values():
            self._apply(ops, faults)

    def _local_state(self) -> helper.State:
        if self._local is None:
            state = helper.State(os.fspath(self.runs_dir), os.fspath(self._trash_dir))
            state.blobs = {k.encode(): v for k, v in self._blobs.items()}
            return state
        return self._local

    def _apply(self, ops: list[bytes], faults: dict[str, Fault]) -> None:
        """Do ``ops`` in this process (the helper is gone)."""
        state = self._local_state()
        for op, payload in helper.frames(bytearray(b"".join(ops))):
            if chr(op) == "M":  # a directory asked of the helper: no longer wanted
                continue
            if chr(op) == "L":  # redone: the target may have been made already
                target = os.fsdecode(payload.split(b"\0", 1)[0])
                if os.path.lexists(target):
                    continue
            answers = bytearray(b"".join(helper.apply(state, op, payload)))
            for op2, answer in helper.frames(answers):
                self._answer(chr(op2), answer, faults)

    def _fault(self, what: str, exc: BaseException, faults: dict[str, Fault] | None = None) -> None:
        on_fault = (faults or {}).get(what)
        for _, sent in self._unconfirmed.values():
            on_fault = on_fault or sent.get(what)
        if on_fault is not None:
            with contextlib.suppress(Exception):
                on_fault(os.path.basename(what), exc)
        else:
            warnings.warn(f"runlab: {what}: {exc}", RunlabWarning, stacklevel=2)


# -- one spool per store, kept a while between sweeps -------------------------------------------

PARK_S = 30.0
"""Seconds a settled spool (and its helper) waits for the next sweep of the same store."""
MAX_PARKED = 4
"""Spools kept at once (for as many stores); the longest parked is closed first."""

_parked: dict[str, tuple[Spool, threading.Timer]] = {}
_parked_lock = threading.Lock()
_exit_hook: list[bool] = []


def acquire(runs_dir: Path, trash_dir: Path, new_id: Callable[[], str]) -> Spool:
    """The store's parked spool (see :func:`park`), or a new one."""
    with _parked_lock:
        found = _parked.pop(os.fspath(runs_dir), None)
    if found is not None:
        spool, timer = found
        timer.cancel()
        if spool.usable():
            return spool
        spool.close()
    return Spool(runs_dir, trash_dir, new_id)


def park(spool: Spool) -> None:
    """Settle ``spool`` (everything asked is done when this returns) and keep it, with its
    helper and the directories it made ahead, for the next sweep of the store in this process;
    it is closed after :data:`PARK_S` seconds unused, or at exit."""
    spool.settle()
    if not spool.usable():
        spool.close()
        return
    timer = threading.Timer(PARK_S, _expire, (spool,))
    timer.daemon = True
    key = os.fspath(spool.runs_dir)
    with _parked_lock:
        if not _exit_hook:  # registered by the first park, not at import
            _exit_hook.append(True)
            atexit.register(_close_parked)
        retired = [_parked.pop(key)] if key in _parked else []
        while len(_parked) >= MAX_PARKED:
            retired.append(_parked.pop(next(iter(_parked))))
        _parked[key] = (spool, timer)
    timer.start()
    for old, old_timer in retired:
        old_timer.cancel()
        old.close()


def _expire(spool: Spool) -> None:
    key = os.fspath(spool.runs_dir)
    with _parked_lock:
        found = _parked.get(key)
        if found is None or found[0] is not spool:
            return
        del _parked[key]
    spool.close()


def _close_parked() -> None:
    with _parked_lock:
        parked = list(_parked.values())
        _parked.clear()
    for spool, timer in parked:
        timer.cancel()
        if spool._pid == os.getpid():
            spool.close()
