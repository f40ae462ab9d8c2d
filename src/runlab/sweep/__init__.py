"""Launch many runs: ``ExperimentGrid`` (Spinning Up's naming), ``setup_logger_kwargs``,
``call_experiment`` (each variant in a fresh process, as a runlab run) and ``sweep``.

``runlab.sweep`` is this package and also callable as ``runlab.sweep(fn, space, ...)``: the
issue's spelling of the search function, which would otherwise be shadowed by the package.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from runlab.sweep._grid import setup_logger_kwargs
from runlab.sweep._launch import ExperimentGrid, call_experiment
from runlab.sweep._search import SweepError, Trial, sweep

__all__ = [
    "ExperimentGrid",
    "SweepError",
    "Trial",
    "call_experiment",
    "setup_logger_kwargs",
    "sweep",
]


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
