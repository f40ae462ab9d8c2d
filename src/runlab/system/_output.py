"""Process-wide tee of ``sys.stdout`` and ``sys.stderr`` into per-run log files.

While at least one sink is attached, ``sys.stdout`` and ``sys.stderr`` are wrapped: every write
still goes straight to the original stream (the terminal shows everything, at once), and each
completed line is also appended to every sink file. Lines are stored as a terminal would leave
them after carriage returns: a progress bar redrawn with ``\\r`` is stored as its last state, so
``"10%\\r20%\\r100%\\n"`` is stored as ``"100%\\n"``. stdout and stderr keep separate partial
lines and share the files, in the order their lines complete.

Writing to a sink never raises into the program: the first ``OSError`` (disk full, read-only
file system, file size limit) is kept in :attr:`SinkHandle.error`, the sink stops writing and its
``on_error`` callback is called once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

_STDOUT, _STDERR = 0, 1
# A line longer than this (a program writing dots without ever ending the line) is written out
# unfinished rather than held in memory.
_MAX_PARTIAL_CHARS = 1 << 20


@dataclasses.dataclass(eq=False)
class SinkHandle:
    """A log file attached to the output capture; returned by :meth:`OutputCapture.add_sink`."""

    path: Path
    error: OSError | None = None
    """The first write (or open) error; once set, the sink writes nothing more."""
    closed: bool = False
    _fd: int = dataclasses.field(default=-1, repr=False)
    _on_error: Callable[[OSError], object] | None = dataclasses.field(default=None, repr=False)

    def _write(self, data: bytes) -> bool:
        """Append ``data``; return False if this write failed (the first failure)."""
        if self.error is not None or self.closed:
            return True
        try:
            written = os.write(self._fd, data)
            if written < len(data):  # a short write: the disk or a size limit is nearly reached
                view = memoryview(data)[written:]
                while view:
                    written = os.write(self._fd, view)
                    if written <= 0:
                        raise OSError(errno.ENOSPC, "write wrote nothing")
                    view = view[written:]
        except OSError as exc:
            self.error = exc
            return False
        return True

    def _report(self) -> None:
        callback, self._on_error = self._on_error, None
        if callback is not None and self.error is not None:
            # The program must not fail because a warning could not be shown.
            with contextlib.suppress(Exception):
                callback(self.error)


class _Line:
    """The unfinished line of one stream, with terminal carriage-return semantics.

    ``parts`` joined is the segment being written (after the last ``\\r``) and ``prev`` the last
    non-empty segment that a ``\\r`` ended. When the line ends, the segment being written is what
    a terminal shows, or ``prev`` if it is empty (``"abc\\r\\n"`` leaves ``abc`` on screen).
    """

    __slots__ = ("parts", "prev", "size")

    def __init__(self) -> None:
        self.parts: list[str] = []  # appended to, not concatenated: many small writes stay O(n)
        self.size = 0
        self.prev = ""

    def feed(self, text: str) -> str:
        """Take ``text`` and return the lines it completes (with newlines), as stored."""
        end = text.rfind("\n")
        if end < 0:
            if "\r" in text:
                self._carriage(text)
            else:
                self.parts.append(text)
                self.size += len(text)
            if self.size > _MAX_PARTIAL_CHARS:
                return self._overflow()
            return ""
        head = "".join(self.parts) + text[:end] if self.parts else text[:end]
        if not self.prev and "\r" not in head:  # plain lines: the common, cheap case
            out = head + "\n"
        else:
            lines = head.split("\n")
            lines[0] = _last_segment(lines[0], self.prev)
            out = "\n".join([lines[0], *(_last_segment(ln, "") for ln in lines[1:])]) + "\n"
        self.clear()
        if end + 1 < len(text):
            out += self.feed(text[end + 1 :])
        return out

    def pending(self) -> str:
        """The unfinished line as it would be stored, with a newline; ``""`` if there is none."""
        line = "".join(self.parts) or self.prev
        return line + "\n" if line else ""

    def clear(self) -> None:
        self.parts = []
        self.size = 0
        self.prev = ""

    def _carriage(self, text: str) -> None:
        segments = "".join([*self.parts, text]).split("\r")
        for segment in reversed(segments[:-1]):
            if segment:
                self.prev = segment
                break
        last = segments[-1]
        self.parts = [last] if last else []
        self.size = len(last)

    def _overflow(self) -> str:
        out = "".join(self.parts)
        self.clear()
        return out


def _last_segment(line: str, fallback: str) -> str:
    if "\r" not in line:
        return line or fallback
    for segment in reversed(line.split("\r")):
        if segment:
            return segment
    return fallback


class _TeeStream:
    """Stands in for ``sys.stdout`` / ``sys.stderr``: passes writes through and records them.

    Everything but writing (``isatty``, ``fileno``, ``encoding``, ``errors``, ``buffer``, ...) is
    delegated to the original stream, so code that inspects the stream sees the original.
    """

    def __init__(self, original: TextIO, capture: OutputCapture, index: int) -> None:
        self._original = original
        self._capture: OutputCapture | None = capture
        self._index = index

    def write(self, s: str) -> int:
        try:
            return self._original.write(s)
        finally:
            # Recorded even if the terminal write failed (a closed pipe), so the log keeps it.
            capture = self._capture
            if capture is not None:
                capture._record(self._index, s)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._original.flush()

    def __getattr__(self, name: str) -> Any:
        if name == "_original":  # not set yet (a copy being built): do not recurse
            raise AttributeError(name)
        return getattr(self._original, name)

    def __repr__(self) -> str:
        return f"<runlab tee of {self._original!r}>"


class OutputCapture:
    """Tees ``sys.stdout`` and ``sys.stderr`` into sink files; one per process.

    Use :func:`output_capture` to get the process's instance. It is thread-safe; the wrappers are
    installed when the first sink is added and removed with the last one.

    Example:
        >>> import tempfile
        >>> capture = output_capture()
        >>> with tempfile.TemporaryDirectory() as d:
        ...     sink = capture.add_sink(Path(d, "output.log"))
        ...     _ = sys.stdout.write("loss 0.5\\n")
        ...     capture.remove_sink(sink)
        ...     Path(d, "output.log").read_text()
        loss 0.5
        'loss 0.5\\n'
    """

    def __init__(self) -> None:
        # Re-entrant: a signal handler that prints while the main thread is inside a write must
        # not deadlock.
        self._lock = threading.RLock()
        self._sinks: tuple[SinkHandle, ...] = ()
        self._lines = (_Line(), _Line())
        self._wrappers: tuple[_TeeStream | None, _TeeStream | None] = (None, None)
        _reset_after_fork(self)

    def add_sink(
        self, path: Path, on_error: Callable[[OSError], object] | None = None
    ) -> SinkHandle:
        """Start appending this process's output to ``path`` (created if missing).

        Args:
            path: the log file; its directory must exist.
            on_error: called once, with the exception, when the file cannot be opened or
                written. Exceptions it raises are ignored.

        Returns:
            The sink, to pass to :meth:`remove_sink`. If the file cannot be opened, the sink is
            returned already failed (``error`` set, ``on_error`` called) and nothing is
            captured for it: a read-only run directory must not stop the program.
        """
        sink = SinkHandle(Path(path), _on_error=on_error)
        try:
            sink._fd = os.open(sink.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as exc:
            sink.error = exc
            sink.closed = True
            sink._report()
            return sink
        with self._lock:
            self._sinks = (*self._sinks, sink)
            if len(self._sinks) == 1:
                self._install()
        return sink

    def remove_sink(self, handle: SinkHandle) -> None:
        """Write the sink's unfinished lines, close its file and detach it.

        Removing the last sink puts back the original ``sys.stdout`` and ``sys.stderr``, unless
        something else has replaced them since. Removing a sink twice does nothing.
        """
        failed = False
        with self._lock:
            if handle not in self._sinks:
                return
            tail = self._lines[_STDOUT].pending() + self._lines[_STDERR].pending()
            if tail:
                failed = not handle._write(_encode(tail))
            self._sinks = tuple(s for s in self._sinks if s is not handle)
            if not self._sinks:
                self._uninstall()
                for line in self._lines:
                    line.clear()
            handle.closed = True
            with contextlib.suppress(OSError):
                os.close(handle._fd)
        if failed:
            handle._report()

    def flush_sinks(self) -> None:
        """Write every unfinished line to the sinks now, ending it with a newline.

        For the end of a run or before a crash report; text that continues such a line later
        starts a new line in the files.
        """
        with self._lock:
            tail = self._lines[_STDOUT].pending() + self._lines[_STDERR].pending()
            for line in self._lines:
                line.clear()
            failed = self._write_all(tail) if tail else ()
        for sink in failed:
            sink._report()

    @property
    def sinks(self) -> tuple[SinkHandle, ...]:
        """The sinks attached now."""
        return self._sinks

    def _record(self, index: int, text: str) -> None:
        if not self._sinks or not isinstance(text, str):
            return
        with self._lock:
            if not self._sinks:  # the last sink went away since the check above
                return
            out = self._lines[index].feed(text)
            failed = self._write_all(out) if out else ()
        for sink in failed:
            sink._report()

    def _write_all(self, text: str) -> tuple[SinkHandle, ...]:
        data = _encode(text)
        failed: tuple[SinkHandle, ...] = ()
        for sink in self._sinks:
            if not sink._write(data):
                failed = (*failed, sink)
        return failed

    def _install(self) -> None:
        out = _TeeStream(sys.stdout, self, _STDOUT) if sys.stdout is not None else None
        err = _TeeStream(sys.stderr, self, _STDERR) if sys.stderr is not None else None
        self._wrappers = (out, err)
        if out is not None:
            sys.stdout = out
        if err is not None:
            sys.stderr = err

    def _uninstall(self) -> None:
        out, err = self._wrappers
        self._wrappers = (None, None)
        if out is not None:
            out._capture = None  # a wrapper someone else still holds becomes a plain pass-through
            if sys.stdout is out:
                sys.stdout = out._original
        if err is not None:
            err._capture = None
            if sys.stderr is err:
                sys.stderr = err._original


def _encode(text: str) -> bytes:
    # backslashreplace: lone surrogates from odd input must not make a write fail.
    return text.encode("utf-8", "backslashreplace")


def _reset_after_fork(capture: OutputCapture) -> None:
    # A forked child (a DataLoader worker, say) must not inherit a lock held by another thread of
    # the parent, nor the parent's unfinished lines, which it would otherwise write a second time.
    ref = weakref.ref(capture)

    def after_in_child() -> None:
        child = ref()
        if child is not None:
            child._lock = threading.RLock()
            child._lines = (_Line(), _Line())

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=after_in_child)


_default: OutputCapture | None = None
_default_lock = threading.Lock()


def output_capture() -> OutputCapture:
    """Return this process's :class:`OutputCapture`, creating it on first use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = OutputCapture()
    return _default
