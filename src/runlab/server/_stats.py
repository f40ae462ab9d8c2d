"""Per-key statistics of a run's history, read one block at a time (bounded memory)."""

from __future__ import annotations

import math
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from runlab.server._series import _DTYPES, _frames, _map, _plain, _unmap
from runlab.storage._format import block_steps, decode_history
from runlab.storage._layout import HISTORY_FILE
from runlab.storage._ranks import merged_series


def key_stats(run_dir: Path) -> list[dict[str, Any]]:
    """``[{"key", "count", "first_step", "last_step", "min", "max", "last"}]`` in first-logged
    order; ``min``/``max`` over finite values, ``None`` for non-finite or non-numeric ones."""
    if not _plain(Path(run_dir)):  # a fork, a rewound run, a multi-process run
        stats: dict[str, dict[str, Any]] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for key, series in merged_series(Path(run_dir)).items():
                if len(series.values) and series.values.dtype.kind in "fiub":
                    _update(stats, key, series.steps, series.values)
        return [{"key": key, **entry} for key, entry in stats.items()]
    try:
        with open(Path(run_dir) / HISTORY_FILE, "rb") as f:
            buf, _ = _map(f)
    except FileNotFoundError:
        return []
    try:
        return _stats(buf)
    finally:
        _unmap(buf)


FOLD_POINTS = 1 << 20
"""Points of one key gathered before they are reduced (bounds memory on huge logs)."""


def _stats(buf: Any) -> list[dict[str, Any]]:
    # A slow training loop writes one small frame per flush: thousands of frames of a few
    # points. Reducing per frame would cost several NumPy calls per key per frame, so each
    # key's points are gathered and reduced in batches of up to FOLD_POINTS.
    stats: dict[str, dict[str, Any]] = {}
    pending: dict[str, tuple[list[Any], list[Any], list[int]]] = {}
    first_seen: dict[str, int] = {}

    def fold(key: str) -> None:
        step_chunks, value_chunks, _ = pending.pop(key)
        _update(stats, key, np.concatenate(step_chunks), np.concatenate(value_chunks))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for payload, _end in _frames(buf, 0):
            block = decode_history(payload, None)
            if not block.keys:
                continue
            steps = block_steps(block)
            for key, col in block.keys.items():
                raw = zlib.decompress(col.values) if col.compressed else col.values
                values = np.frombuffer(raw, dtype=_DTYPES[col.dtype])
                if not len(values):
                    continue
                key_steps = steps
                if col.rows is not None:
                    key_steps = steps[np.frombuffer(zlib.decompress(col.rows), dtype="<u4")]
                first_seen.setdefault(key, len(first_seen))
                got = pending.setdefault(key, ([], [], [0]))
                if got[1] and got[1][0].dtype != values.dtype:
                    fold(key)  # a key whose type changed: reduce what it had first
                    got = pending.setdefault(key, ([], [], [0]))
                got[0].append(key_steps)
                got[1].append(values)
                got[2][0] += len(values)
                if got[2][0] >= FOLD_POINTS:
                    fold(key)
        for key in list(pending):
            fold(key)
    return [{"key": key, **stats[key]} for key in sorted(stats, key=first_seen.__getitem__)]


def _update(stats: dict[str, dict[str, Any]], key: str, steps: Any, values: Any) -> None:
    numbers = values.astype(np.float64) if values.dtype.kind == "b" else values
    lo = float(np.nanmin(numbers)) if numbers.dtype.kind == "f" else float(numbers.min())
    hi = float(np.nanmax(numbers)) if numbers.dtype.kind == "f" else float(numbers.max())
    if not math.isfinite(lo) or not math.isfinite(hi):
        finite = numbers[np.isfinite(numbers)]
        lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (math.nan, math.nan)
    last = float(numbers[-1])
    entry = stats.get(key)
    if entry is None:
        stats[key] = {
            "count": len(values),
            "first_step": int(steps[0]),
            "last_step": int(steps[-1]),
            "min": _finite(lo),
            "max": _finite(hi),
            "last": _finite(last),
        }
        return
    entry["count"] += len(values)
    entry["last_step"] = int(steps[-1])
    entry["last"] = _finite(last)
    if math.isfinite(lo):
        entry["min"] = lo if entry["min"] is None else min(entry["min"], lo)
        entry["max"] = hi if entry["max"] is None else max(entry["max"], hi)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
