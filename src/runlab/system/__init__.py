"""runlab.system: what a run records about its environment, and the capture of its output.

Importing this package is cheap (standard library only); psutil and nvidia-ml-py are imported
by the functions that need them.
"""

from __future__ import annotations

from runlab.system._env import (
    capture_command,
    capture_git,
    capture_host,
    capture_packages,
    format_requirements,
    strip_credentials,
)
from runlab.system._output import OutputCapture, SinkHandle, output_capture

__all__ = [
    "OutputCapture",
    "SinkHandle",
    "capture_command",
    "capture_git",
    "capture_host",
    "capture_packages",
    "format_requirements",
    "output_capture",
    "strip_credentials",
]
