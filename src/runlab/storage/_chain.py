"""Logs that continue other logs: forks and rewinds, read as one history.

A fork's ``history.rlog`` and a rewound run's new ``history.rlog`` start with a ``base`` event
(see ``_format``) naming the log whose points up to a step come first: the parent run's log
(``"run"``: a fork) or one of the run's own archived logs (``"log"``: a rewind). Nothing is
copied; readers follow the chain (a fork of a fork, a rewind of a fork, ...) and cut each link
at its step. :func:`chain` resolves it; :func:`scan_steps` reads only the steps of a chain,
never the values, which is what resuming a run needs.

A base that is gone (the parent run was deleted) is skipped with a :class:`RunlabWarning`:
the run's own points still read back.
"""

from __future__ import annotations

import mmap
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runlab._errors import RunlabWarning
from runlab.storage._format import (
    _FRAME,
    FILE_HEADER,
    FRAME_HEADER_SIZE,
    FRAME_MAGIC,
    KIND_EVENT,
    KIND_HISTORY,
    ScanReport,
    _crc,
    block_steps,
    decode_event,
    decode_steps,
    first_step_range,
    iter_frames,
    steps_of,
)
from runlab.storage._layout import ARCHIVE_DIR, HISTORY_FILE, SYSTEM_PREFIX

MAX_DEPTH = 256
"""Links followed at most (a chain longer than this is cut: it can only be a cycle)."""


@dataclass(frozen=True)
class Segment:
    """One log of a chain and which of its points belong to the history."""

    path: Path
    buf: bytes | mmap.mmap
    upto: int | None
    """Keep points with ``step <= upto`` (all when ``None``)."""
    system: bool
    """Whether its ``system/*`` keys belong to the history (always uncut): only the run's
    own logs, not a fork parent's."""


def read_log_file(path: Path) -> bytes | mmap.mmap:
    """A log file, memory-mapped where possible (``b""`` when it does not exist)."""
    try:
        with open(path, "rb") as f:
            try:
                return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except (ValueError, OSError):  # empty file, or a filesystem without mmap
                return f.read()
    except FileNotFoundError:
        return b""


def base_event(buf: bytes | mmap.mmap) -> dict[str, Any] | None:
    """The log's ``base`` event when its first frame is one (a fork or a rewound run)."""
    start = len(FILE_HEADER)
    if len(buf) < start + FRAME_HEADER_SIZE or buf[:start] != FILE_HEADER:
        return None
    magic, kind, flags, length, crc = _FRAME.unpack_from(buf, start)
    end = start + FRAME_HEADER_SIZE + length
    if magic != FRAME_MAGIC or kind != KIND_EVENT or end > len(buf):
        return None
    payload = memoryview(buf)[start + FRAME_HEADER_SIZE : end]
    if _crc(kind, flags, payload) != crc:
        return None
    try:
        event = decode_event(payload)
    except ValueError:
        return None
    if not isinstance(event, dict) or event.get("type") != "base":
        return None
    step = event.get("step")
    return event if isinstance(step, int) and not isinstance(step, bool) else None


def base_path(run_dir: Path, event: dict[str, Any]) -> tuple[Path, Path, bool]:
    """Where a base event points: (run dir of the base log, the log, same run?)."""
    parent = event.get("run")
    if isinstance(parent, str):
        parent_dir = run_dir.parent / parent
        # ``gen``: how many times the parent had been rewound when forked. A later rewind
        # renames the log the fork continues to ``archive/history-<gen + 1>.rlog``.
        gen = event.get("gen")
        if isinstance(gen, int) and not isinstance(gen, bool):
            moved = parent_dir / archived_name(gen + 1)
            if moved.is_file():
                return parent_dir, moved, False
        return parent_dir, parent_dir / HISTORY_FILE, False
    return run_dir, run_dir / str(event.get("log")), True


def archived_name(k: int) -> str:
    """The path, relative to the run directory, of the log set aside by the k-th rewind."""
    return f"{ARCHIVE_DIR}/history-{k}.rlog"


def generation(run_dir: Path) -> int:
    """How many times the run has been rewound (its highest archive number)."""
    try:
        names = os.listdir(run_dir / ARCHIVE_DIR)
    except OSError:
        return 0
    numbers = [n[len("history-") : -len(".rlog")] for n in names]
    return max((int(n) for n in numbers if n.isdigit()), default=0)


def chain(run_dir: Path, path: Path | None = None, upto: int | None = None) -> list[Segment]:
    """The logs making up the history of ``path`` (the run's log by default), oldest first."""
    run_dir = Path(run_dir)
    path = run_dir / HISTORY_FILE if path is None else path
    out: list[Segment] = []
    system = True
    for _ in range(MAX_DEPTH):
        buf = read_log_file(path)
        out.append(Segment(path, buf, upto, system))
        event = base_event(buf)
        if event is None:
            break
        cut = event["step"] if upto is None else min(event["step"], upto)
        next_dir, next_path, same_run = base_path(run_dir, event)
        if not next_path.is_file():
            what = (
                f"its parent run {event.get('run')!r}"
                if not same_run
                else f"its archived log {event.get('log')!r}"
            )
            warnings.warn(
                f"runlab: {path} continues {what} up to step {event['step']}, which is gone "
                f"from {next_path.parent}; reading the run's own points only",
                RunlabWarning,
                stacklevel=3,
            )
            break
        run_dir, path, upto, system = next_dir, next_path, cut, system and same_run
    out.reverse()
    return out


@dataclass
class StepScan:
    """The steps of a run's history, read without decoding any value."""

    last_step: int = -1
    """The highest step of any user key (``-1`` when nothing was logged)."""
    key_last_step: dict[str, int] = field(default_factory=dict)
    """Each user key's last step (steps never go back per key)."""
    system_samples: int = 0
    """How many system-metric samples the run's own logs hold (the next sample index)."""
    last_frames: dict[str, tuple[memoryview, int | None]] = field(default_factory=dict)
    """For each user key, the payload of the last block holding its last point, and the cut
    that applies to that block (see :func:`last_values`)."""
    report: ScanReport = field(default_factory=ScanReport)
    """The scan of the current log (``valid_end``: where a resumed writer may append)."""


def scan_steps(run_dir: Path) -> StepScan:
    """Read the steps of the run's history (its whole chain) and nothing else.

    Example:
        >>> import tempfile
        >>> scan_steps(Path(tempfile.mkdtemp())).last_step
        -1
    """
    segments = chain(run_dir)
    out = StepScan()
    own = segments[-1]
    for segment in segments:
        report = out.report if segment is own else None
        for fr in iter_frames(segment.buf, report):
            if fr.kind == KIND_HISTORY:
                _fold_block(out, fr.payload, segment)
    return out


def last_values(frames: dict[str, tuple[memoryview, int | None]]) -> dict[str, Any]:
    """Each key's last value, from :attr:`StepScan.last_frames` (one column decoded per key)."""
    import zlib

    import numpy as np

    from runlab.storage._format import decode_history

    by_block: dict[int, tuple[memoryview, int | None, list[str]]] = {}
    for key, (payload, upto) in frames.items():
        by_block.setdefault(id(payload), (payload, upto, []))[2].append(key)
    out: dict[str, Any] = {}
    for payload, upto, keys in by_block.values():
        block = decode_history(payload, frozenset(keys))
        steps = None if upto is None else block_steps(block)
        for key, col in block.keys.items():
            raw = zlib.decompress(col.values) if col.compressed else col.values
            values = np.frombuffer(raw, dtype=_NP_DTYPES[col.dtype])
            index = len(values) - 1
            if steps is not None and upto is not None:
                mine = steps if col.rows is None else steps[_rows(col.rows)]
                index = int(np.searchsorted(mine, upto, side="right")) - 1
            if index >= 0:
                out[key] = values[index].item()
    return out


_NP_DTYPES = {"d": "<f8", "q": "<i8", "?": "?"}


def _fold_block(out: StepScan, payload: memoryview, segment: Segment) -> None:
    n, flags, steps_raw, keys = decode_steps(payload)
    first = first_step_range(flags, steps_raw)
    steps: Any = None
    upto = segment.upto
    for name, rows in keys:
        if name.startswith(SYSTEM_PREFIX):
            if segment.system:
                if first is not None and rows is None:
                    last = first + n - 1
                else:
                    last = int(_key_steps(n, flags, steps_raw, rows)[-1])
                out.system_samples = max(out.system_samples, last + 1)
            continue
        if upto is None and rows is None and first is not None:
            last = first + n - 1
        else:
            if steps is None:
                steps = steps_of(n, flags, steps_raw)
            mine = steps if rows is None else steps[_rows(rows)]
            if upto is not None:
                mine = mine[mine <= upto]
                if not len(mine):
                    continue
            last = int(mine[-1])
        if last >= out.key_last_step.get(name, -1):
            out.key_last_step[name] = last
            out.last_frames[name] = (payload, upto)
        out.last_step = max(out.last_step, last)


def _rows(rows: bytes) -> Any:
    import zlib

    import numpy as np

    return np.frombuffer(zlib.decompress(rows), dtype="<u4")


def _key_steps(n: int, flags: int, steps_raw: bytes, rows: bytes | None) -> Any:
    steps = steps_of(n, flags, steps_raw)
    return steps if rows is None else steps[_rows(rows)]
