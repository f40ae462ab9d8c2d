"""The one Rich console for runlab's deliberate terminal lines, created lazily and replaceable."""

from __future__ import annotations

import os
import sys
import threading
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console

_lock = threading.Lock()
_console: Console | None = None


def get_console() -> Console:
    """The shared console (stderr). Imported on first use: ``import runlab`` stays cheap."""
    global _console
    with _lock:
        if _console is None:
            from rich.console import Console

            _console = Console(file=_original_stderr(), highlight=False, soft_wrap=True)
        return _console


def set_console(console: Console | None) -> None:
    """Replace the shared console (tests, notebooks); ``None`` re-creates it on next use."""
    global _console
    with _lock:
        _console = console


def silenced(quiet: bool = False) -> bool:
    """True when terminal lines are off: ``quiet`` or ``RUNLAB_SILENT`` set to a true value."""
    if quiet:
        return True
    return os.environ.get("RUNLAB_SILENT", "").strip().lower() in {"1", "true", "yes", "on"}


def _original_stderr() -> TextIO:
    # runlab tees stderr into output.log; its own lines go to the real terminal only.
    return sys.__stderr__ if sys.__stderr__ is not None else sys.stderr
