"""runlab: local-first experiment tracking for machine-learning and robotics research.

>>> import runlab, tempfile
>>> with runlab.init(project="demo", dir=tempfile.mkdtemp(),
...                  settings={"quiet": True, "capture_output": False}) as run:
...     run.log({"loss": 0.3})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runlab._errors import (
    ConfigMismatchError,
    CorruptRecord,
    ExperimentError,
    FilterSyntaxError,
    InvalidRunId,
    LogKeyError,
    LogTypeError,
    MultipleMatchError,
    NoMatchError,
    RunActiveError,
    RunExistsError,
    RunFinishedError,
    RunlabError,
    RunlabWarning,
    RunNotFound,
    ScenarioError,
    SettingsError,
    StepOrderError,
    StorageError,
)
from runlab._settings import Settings
from runlab._status import RunStatus
from runlab.sdk import Config, Run, Summary, alert, finish, init, log
from runlab.sdk._episode import Episode, EpisodeFinishedError, EpisodeStatus

if TYPE_CHECKING:
    from runlab import metrics, scenarios, sweep
    from runlab.query import Api, RunCollection, RunView, runs
    from runlab.query._mlflow import iter_run_dirs
    from runlab.scenario import Scenario
    from runlab.sdk._alerts import AlertLevel
    from runlab.sweep import ExperimentGrid, SweepError, call_experiment, setup_logger_kwargs

__version__ = "0.1.0"

__all__ = [
    "AlertLevel",
    "Api",
    "Config",
    "ConfigMismatchError",
    "CorruptRecord",
    "Episode",
    "EpisodeFinishedError",
    "EpisodeStatus",
    "ExperimentError",
    "ExperimentGrid",
    "FilterSyntaxError",
    "InvalidRunId",
    "LogKeyError",
    "LogTypeError",
    "MultipleMatchError",
    "NoMatchError",
    "Run",
    "RunActiveError",
    "RunCollection",
    "RunExistsError",
    "RunFinishedError",
    "RunNotFound",
    "RunStatus",
    "RunView",
    "RunlabError",
    "RunlabWarning",
    "Scenario",
    "ScenarioError",
    "Settings",
    "SettingsError",
    "StepOrderError",
    "StorageError",
    "Summary",
    "SweepError",
    "__version__",
    "alert",
    "call_experiment",
    "config",
    "finish",
    "init",
    "iter_run_dirs",
    "log",
    "metrics",
    "run",
    "runs",
    "scenarios",
    "setup_logger_kwargs",
    "summary",
    "sweep",
]

_LAZY = {
    "AlertLevel": "runlab.sdk._alerts",
    "Api": "runlab.query",
    "ExperimentGrid": "runlab.sweep",
    "RunCollection": "runlab.query",
    "RunView": "runlab.query",
    "Scenario": "runlab.scenario",
    "call_experiment": "runlab.sweep",
    "iter_run_dirs": "runlab.query._mlflow",
    "runs": "runlab.query",
    "setup_logger_kwargs": "runlab.sweep",
    "SweepError": "runlab.sweep",
}
_LAZY_MODULES = ("metrics", "scenarios", "sweep")


def __getattr__(name: str) -> Any:
    # ``runlab.run`` / ``runlab.config`` / ``runlab.summary`` follow the current run.
    if name in ("run", "config", "summary"):
        from runlab.sdk._current import current_run

        current = current_run()
        if name == "run" or current is None:
            return current
        return getattr(current, name)
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f"runlab.{name}")
    module = _LAZY.get(name)
    if module is not None:
        import importlib

        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module 'runlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
