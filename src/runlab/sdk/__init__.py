"""The recording side of runlab: ``init``, ``Run``, ``log``, ``finish``."""

from runlab.sdk._api import finish, init, log
from runlab.sdk._config import Config, MetricDefinition, Summary
from runlab.sdk._run import Run, current_run

__all__ = ["Config", "MetricDefinition", "Run", "Summary", "current_run", "finish", "init", "log"]
