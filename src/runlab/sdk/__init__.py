"""The recording side of runlab: ``init``, ``Run``, ``log``, ``finish``."""

from runlab.sdk._api import alert, finish, init, log
from runlab.sdk._config import Config, MetricDefinition, Summary
from runlab.sdk._current import current_run
from runlab.sdk._run import Run

__all__ = [
    "Config",
    "MetricDefinition",
    "Run",
    "Summary",
    "alert",
    "current_run",
    "finish",
    "init",
    "log",
]
