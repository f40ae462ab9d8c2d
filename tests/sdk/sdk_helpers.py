"""What the SDK tests share: fast settings (no capture, no sampler) and a run started with them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import runlab

FAST: dict[str, Any] = {
    "quiet": True,
    "capture_output": False,
    "capture_git": False,
    "capture_env": False,
    "capture_packages": False,
    "capture_command": False,
    "system_metrics_interval": 0,
}


def start(tmp_path: Path, **kwargs: Any) -> runlab.Run:
    """``runlab.init`` into ``tmp_path`` with :data:`FAST` settings unless others are given."""
    kwargs.setdefault("settings", FAST)
    return runlab.init(dir=tmp_path, **kwargs)
