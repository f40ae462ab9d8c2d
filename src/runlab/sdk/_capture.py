"""The environment captured with each run, taken once per process and shared by its runs.

Host, hardware and installed packages do not change within a process, and git state rarely
changes within seconds, but each capture costs tens of milliseconds (subprocesses, metadata
of every installed distribution). A sweep of many short runs in one process would otherwise
spend most of its time capturing the same facts: ``finish()`` waits for the capture so the
run directory is complete when the run reads as ended.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

GIT_TTL = 30.0
"""Seconds a git capture is reused for runs started from the same directory."""

_lock = threading.Lock()
_host: tuple[int, dict[str, Any]] | None = None
_packages: tuple[int, dict[str, str], str] | None = None
_git: dict[str, tuple[float, tuple[dict[str, Any] | None, str | None]]] = {}


def host() -> dict[str, Any]:
    """``capture_host()``, once per process (``pid`` is this process's)."""
    global _host
    from runlab.system import _env

    with _lock:
        if _host is None or _host[0] != os.getpid():  # a forked child captures afresh
            _host = (os.getpid(), _env.capture_host())
        return dict(_host[1])


def packages() -> tuple[dict[str, str], str]:
    """``capture_packages()`` and its requirements text, once per process."""
    global _packages
    from runlab.system import _env

    with _lock:
        if _packages is None or _packages[0] != os.getpid():
            found = _env.capture_packages()
            _packages = (os.getpid(), found, _env.format_requirements(found))
        return dict(_packages[1]), _packages[2]


def git(cwd: str) -> tuple[dict[str, Any] | None, str | None]:
    """``capture_git(cwd)``, reused for :data:`GIT_TTL` seconds per directory."""
    from runlab.system import _env

    with _lock:
        hit = _git.get(cwd)
        now = time.monotonic()
        if hit is None or now - hit[0] > GIT_TTL:
            hit = _git[cwd] = (now, _env.capture_git(cwd))
        info, diff = hit[1]
        return (None if info is None else dict(info)), diff
