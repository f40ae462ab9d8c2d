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


def _stats(buf: Any) -> list[dict[str, Any]]:
    stats: dict[str, dict[str, Any]] = {}
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
                key_steps = steps
                if col.rows is not None:
                    key_steps = steps[np.frombuffer(zlib.decompress(col.rows), dtype="<u4")]
                if not len(values):
                    continue
                _update(stats, key, key_steps, values)
    return [{"key": key, **entry} for key, entry in stats.items()]


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
