"""The spool's helper process: the file-system work of a sweep's runs (see ``_spool``).

Run as ``python -S -E _spool_helper.py RUNS_DIR TRASH_DIR``, it reads frames from stdin and
answers on stdout. It imports the standard library only, so it starts in milliseconds (which
is why :meth:`State.write` repeats ``runlab.storage._layout.write_bytes_atomic`` rather than
import runlab: tens of milliseconds per sweep), and :func:`apply` is also what the parent runs
itself when the helper is gone.

A frame is ``<u32 payload length><u8 op><payload>``; fields inside a payload are separated by
NUL. Parent to helper:

* ``M id``: make ``RUNS_DIR/id/files`` (an exclusive ``mkdir``; an id of a deleted run, one in
  ``TRASH_DIR``, is refused); answered ``R id`` (ready) or ``E id`` (taken or failed).
* ``W path data``: replace ``path`` with ``data`` atomically.
* ``B key path data``: remember ``data`` as blob ``key``, of which ``path`` (if not empty) is
  a copy already.
* ``L target key``: give ``target`` blob ``key``: a hard link to the last file written with it,
  or a fresh copy when there is none (or it is gone).
* ``O id``: treat ``RUNS_DIR/id`` as made here (the parent made it, none being ready).
* ``S seq``: answered ``A seq`` once everything before it is done.
* ``T``: remove the run directories made ahead and never used (holding only what was made
  here).
* ``X``: ``T``, then exit. The end of input does the same.

Helper to parent, besides ``R``/``E``/``A``: ``F what message`` for a failed operation.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import sys
from typing import Any

HEADER = struct.Struct("<IB")
FILES_DIR = "files"


def frame(op: bytes, *fields: bytes) -> bytes:
    """One frame of ``op`` with its NUL-separated ``fields``."""
    payload = b"\0".join(fields)
    return HEADER.pack(len(payload), op[0]) + payload


def frames(buffer: bytearray) -> list[tuple[int, bytes]]:
    """The complete frames at the start of ``buffer`` (removed from it)."""
    out = []
    at = 0
    while len(buffer) - at >= HEADER.size:
        size, op = HEADER.unpack_from(buffer, at)
        end = at + HEADER.size + size
        if end > len(buffer):
            break
        out.append((op, bytes(buffer[at + HEADER.size : end])))
        at = end
    del buffer[:at]
    return out


class State:
    """What the file-system side remembers between operations."""

    def __init__(self, runs_dir: str, trash_dir: str) -> None:
        self.runs_dir = runs_dir
        self.trash_dir = trash_dir
        self.blobs: dict[bytes, bytes] = {}
        self.last: dict[bytes, str] = {}
        """The last path each blob was written or linked to."""
        self.made: set[str] = set()
        self._count = 0

    def write(self, path: str, data: bytes) -> None:
        head, name = os.path.split(path)
        self._count += 1
        tmp = os.path.join(head, f".{name}.{os.getpid()}.s{self._count}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def make(self, run_id: str) -> bool:
        path = os.path.join(self.runs_dir, run_id)
        try:
            os.mkdir(path)
        except FileNotFoundError:
            os.makedirs(self.runs_dir, exist_ok=True)
            os.mkdir(path)
        if os.path.lexists(os.path.join(self.trash_dir, run_id)):
            os.rmdir(path)
            return False
        self.made.add(run_id)  # from here on, left over unless a run uses it
        os.mkdir(os.path.join(path, FILES_DIR))
        return True

    def link(self, target: str, key: bytes) -> None:
        source = self.last.get(key)
        if source is not None:
            try:
                os.link(source, target)
                return
            except OSError:  # the source was deleted, or no hard links here: write a copy
                pass
        self.write(target, self.blobs[key])
        self.last[key] = target

    def leftovers(self) -> None:
        """Remove the directories made here that hold nothing but what was made here (the
        ``files/`` directory and the captured environment): made ahead and never used, or
        used by a run that ended with its process before it wrote anything."""
        for run_id in self.made:
            path = os.path.join(self.runs_dir, run_id)
            try:
                names = set(os.listdir(path))
                inside = os.listdir(os.path.join(path, FILES_DIR)) if FILES_DIR in names else []
            except OSError:  # gone already, or not ours to judge
                continue
            if names <= _MADE and set(inside) <= _MADE_FILES:
                shutil.rmtree(path, ignore_errors=True)
        self.made.clear()


_MADE = {FILES_DIR, "metadata.json"}
_MADE_FILES = {"requirements.txt", "diff.patch"}


def apply(state: State, op: int, payload: bytes) -> list[bytes]:
    """Do one operation; the frames to answer with."""
    name = chr(op)
    if name == "M":
        run_id = payload.decode()
        try:
            ok = state.make(run_id)
        except OSError as exc:
            return [frame(b"E", payload), frame(b"F", b"mkdir", str(exc).encode())]
        return [frame(b"R" if ok else b"E", payload)]
    if name == "B":
        key, path, data = payload.split(b"\0", 2)
        state.blobs[key] = data
        state.last.pop(key, None)  # new contents: no earlier copy to link to, unless given
        if path:
            state.last[key] = os.fsdecode(path)
        return []
    try:
        if name == "W":
            path, data = payload.split(b"\0", 1)
            state.write(os.fsdecode(path), data)
        elif name == "L":
            target, key = payload.split(b"\0", 1)
            state.link(os.fsdecode(target), key)
        elif name == "S":
            return [frame(b"A", payload)]
        elif name in "TX":
            state.leftovers()
        elif name == "O":
            state.made.add(payload.decode())
    except OSError as exc:
        what = payload.split(b"\0", 1)[0]
        return [frame(b"F", what, str(exc).encode())]
    return []


def main(argv: list[str]) -> int:
    state = State(argv[1], argv[2])
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    buffer = bytearray()
    answering = True
    while True:
        chunk = os.read(stdin, 1 << 20)
        if not chunk:  # the parent is gone (closed pipes after X end the loop below)
            state.leftovers()
            return 0
        buffer += chunk
        out: list[bytes] = []
        done = False
        for op, payload in frames(buffer):
            out += apply(state, op, payload)
            done = done or op == ord("X")
        if out and answering:
            try:
                _write_all(stdout, b"".join(out))
            except OSError:  # the parent is gone: do what it sent all the same
                answering = False
        if done:
            return 0


def _write_all(fd: int, data: Any) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
