"""Validation and normalisation of what ``log()`` accepts: scalar values under string keys.

The fast path (keys seen before, plain ``float``/``int``/``bool`` values) is two C-level set
checks; everything else goes through :func:`normalize`, which flattens nested dicts to
``a/b`` keys, turns NumPy scalars and 0-d arrays/tensors into Python scalars with ``.item()``,
and rejects the rest with an error naming the key and the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runlab._errors import LogKeyError, LogTypeError
from runlab.storage._layout import SYSTEM_PREFIX

FAST_TYPES = frozenset({float, int, bool})
MAX_KEY_LENGTH = 256
RESERVED_KEYS = frozenset({"step", "timestamp"})
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def check_key(key: object, reserved: bool = True) -> str:
    """Return ``key`` if it may name a metric, else raise an error stating the rule.

    ``reserved=False`` checks one part of a nested key, which may be ``step`` (``a/step``).
    """
    if not isinstance(key, str):
        raise LogKeyError(f"metric key {key!r} must be a str, not {type(key).__name__}")
    if not key:
        raise LogKeyError("metric key must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise LogKeyError(
            f"metric key {key[:40]!r}... is {len(key)} characters; the limit is {MAX_KEY_LENGTH}"
        )
    if any(c < " " or c == "\x7f" for c in key):
        raise LogKeyError(f"metric key {key!r} contains a control character")
    if not key.isascii():
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise LogKeyError(
                f"metric key {key!r} is not valid Unicode text (it holds a lone surrogate)"
            ) from None
    if key.startswith("/") or key.endswith("/") or "//" in key:
        raise LogKeyError(f"metric key {key!r} has an empty '/'-separated part")
    if reserved and key.startswith(SYSTEM_PREFIX):
        raise LogKeyError(
            f"metric key {key!r} is reserved: keys under {SYSTEM_PREFIX!r} hold the run's "
            "system metrics (settings.system_metrics_interval); use another prefix"
        )
    if reserved and key in RESERVED_KEYS:
        raise LogKeyError(
            f"metric key {key!r} is reserved (history columns are "
            f"{', '.join(sorted(RESERVED_KEYS))}); pass the step as log(..., step=N) "
            "or use another name"
        )
    return key


def to_scalar(key: str, value: Any) -> float | int | bool:
    """Turn one logged value into a Python scalar or raise ``LogTypeError`` naming ``key``."""
    kind = type(value)
    if kind in FAST_TYPES:
        return value  # type: ignore[no-any-return]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, float):  # numpy.float64 and other float subclasses
        return float(value)
    if isinstance(value, int) and not isinstance(value, Mapping):
        return int(value)
    if isinstance(value, (str, bytes)):
        raise LogTypeError(
            f"cannot log {key!r}: {kind.__name__} values are not scalars "
            "(log numbers; text and media are not supported yet)"
        )
    item = getattr(value, "item", None)
    if callable(item):
        size = getattr(value, "size", None)
        size = size() if callable(size) else size  # torch: .size() is a method
        try:
            scalar = item()
        except (ValueError, RuntimeError) as exc:
            shape = getattr(value, "shape", None)
            raise LogTypeError(
                f"cannot log {key!r}: {kind.__name__} of shape {tuple(shape or ())} is not a "
                "single number (log a 0-d array/tensor, or one key per element)"
            ) from exc
        if type(scalar) in FAST_TYPES:
            return scalar  # type: ignore[no-any-return]
        if isinstance(scalar, (bool, int, float)):
            return to_scalar(key, scalar)
        raise LogTypeError(
            f"cannot log {key!r}: {kind.__name__}.item() gave {type(scalar).__name__}, not a number"
        )
    raise LogTypeError(
        f"cannot log {key!r}: values must be int, float, bool or a 0-d array/tensor, "
        f"not {kind.__name__}"
    )


def normalize(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings into ``a/b`` keys and convert every value to a Python scalar."""
    if not isinstance(data, Mapping):
        raise LogTypeError(f"log() takes a dict of metrics, not {type(data).__name__}")
    out: dict[str, Any] = {}
    for key, value in data.items():
        check_key(key, reserved=False)
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(normalize(value, f"{full}/"))
            continue
        check_key(full)
        out[full] = to_scalar(full, value)
    return out
