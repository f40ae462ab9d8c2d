"""Process-level exit handling: how open runs end when the interpreter does.

Installed on the first ``init()`` (never at import): an ``atexit`` handler that finishes every
open run, a ``sys.excepthook`` and ``sys.exit`` wrapper that remember why the process is ending,
and a SIGTERM handler (only when SIGTERM still has its default action).

The SIGTERM handler does no work in the frame it interrupts (that frame may hold runlab's own
locks): it raises :class:`Terminated`, so the stack unwinds and releases them. A ``with`` block
or the ``atexit`` handler then ends open runs as ``killed``, and the process finally dies by
SIGTERM as it would have without runlab. While a run is being finished the signal is held back
and raised right after (see :func:`critical`).

How a run ends when an exception leaves its ``with`` block is decided here too
(:func:`block_end`), and a run stopped from outside interrupts the main thread as Ctrl-C does
(:func:`interrupt_main`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from runlab._status import RunStatus

if TYPE_CHECKING:
    from runlab.sdk._run import Run


class _ExitState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.runs: dict[int, Run] = {}
        self.installed = False
        self.exit_code: int | None = None
        self.exc: BaseException | None = None
        self.exc_text: str | None = None
        self.terminated = False
        self.critical = 0
        self.pending_signal: int | None = None


_state = _ExitState()


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


@contextlib.contextmanager
def critical() -> Iterator[None]:
    """Hold SIGTERM back while a run is being finished; raise it right after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _state.critical += 1
    try:
        yield
    finally:
        _state.critical -= 1
        if _state.critical == 0 and _state.pending_signal is not None:
            signum, _state.pending_signal = _state.pending_signal, None
            raise Terminated(signum)


def register(run: Run) -> None:
    with _state.lock:
        _state.runs[id(run)] = run
        if not _state.installed:
            _install()
            _state.installed = True


def unregister(run: Run) -> None:
    with _state.lock:
        _state.runs.pop(id(run), None)


def open_runs() -> list[Run]:
    with _state.lock:
        return list(_state.runs.values())


def _install() -> None:
    atexit.register(_at_exit)
    previous_hook = sys.excepthook

    def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        _state.exc = exc
        _state.exc_text = "".join(traceback.format_exception(kind, exc, tb))
        previous_hook(kind, exc, tb)

    sys.excepthook = excepthook
    previous_exit: Callable[..., NoReturn] = sys.exit

    def exit_(status: Any = None) -> NoReturn:
        _state.exit_code = _exit_code(status)
        previous_exit(status)

    sys.exit = exit_
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork)
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):  # pragma: no cover - embedded interpreters
            pass


def _after_fork() -> None:
    # A forked child (e.g. a data-loader worker) must not become a second writer of its
    # parent's runs: its copies of them go quiet and its exit does not end them.
    with _state.lock:
        runs = list(_state.runs.values())
        _state.runs.clear()
    for run in runs:
        run._detach()


def _exit_code(status: Any) -> int:
    if status is None:
        return 0
    if isinstance(status, int):
        return status
    return 1  # sys.exit("message") exits with 1


def block_end(
    exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
) -> tuple[RunStatus, str | None, int | None, str | None]:
    """How a run ends when its ``with`` block does, given the exception leaving the block.

    Returns:
        ``(status, err_msg, exit_code, traceback)``, as ``Run._end`` takes them.
    """
    if exc is None:
        return RunStatus.FINISHED, None, None, None
    if isinstance(exc, Terminated):
        return RunStatus.KILLED, "terminated by SIGTERM", -exc.signum, None
    if isinstance(exc, KeyboardInterrupt):
        return RunStatus.KILLED, "KeyboardInterrupt", None, None
    if isinstance(exc, SystemExit):
        code = _exit_code(exc.code)
        if code == 0:
            return RunStatus.FINISHED, None, 0, None
        return RunStatus.FAILED, f"exit code {code}", code, None
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    return RunStatus.FAILED, f"{type(exc).__name__}: {exc}", None, text


def interrupt_main() -> None:
    """Interrupt the main thread as Ctrl-C does, so that it raises ``KeyboardInterrupt``."""
    # A real SIGINT to the main thread (not _thread.interrupt_main): it also wakes a main
    # thread blocked in sleep or I/O, exactly like Ctrl-C.
    with contextlib.suppress(OSError, ValueError):
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)


def _on_sigterm(signum: int, _frame: Any) -> None:
    if not _state.critical and not open_runs():
        # No run to end (they all finished): die by SIGTERM exactly as without runlab.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    _state.terminated = True
    if _state.critical:
        _state.pending_signal = signum
        return
    raise Terminated(signum)


def _at_exit() -> None:
    status, err, code, tb = RunStatus.FINISHED, None, _state.exit_code, None
    exc = _state.exc
    if _state.terminated or isinstance(exc, Terminated):
        status, err, code = RunStatus.KILLED, "terminated by SIGTERM", -signal.SIGTERM
    elif isinstance(exc, KeyboardInterrupt):
        status, err = RunStatus.KILLED, "KeyboardInterrupt"
    elif exc is not None:
        status, err, tb = RunStatus.FAILED, f"{type(exc).__name__}: {exc}", _state.exc_text
        code = 1 if code is None else code
    elif code:
        status, err = RunStatus.FAILED, f"exit code {code}"
    for run in open_runs():
        run._end(status, err, code, tb)
    if _state.terminated:
        # End the way SIGTERM ends a process, so schedulers see the real cause.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
