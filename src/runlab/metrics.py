"""Run-level metrics with display hints (HumaLab's ``metrics`` module under runlab's names).

>>> import runlab, tempfile
>>> run = runlab.init(dir=tempfile.mkdtemp(), settings={"quiet": True, "capture_output": False})
>>> run.add_metric("overall_score", runlab.metrics.Metrics(graph="bar"))
>>> run.add_metric("best_reward", runlab.metrics.Summary(kind="max"))
>>> run.log({"overall_score": 0.5, "best_reward": 3.0}); run.log({"best_reward": 1.0})
>>> run.summary["best_reward"]
3.0
>>> run.finish()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Graph = Literal["line", "bar", "scatter", "histogram", "gaussian", "3d"]
GRAPHS: tuple[str, ...] = get_args(Graph)
SummaryKindName = Literal["min", "max", "mean", "first", "last"]
SUMMARY_KINDS: tuple[str, ...] = get_args(SummaryKindName)


@dataclass(frozen=True)
class Metrics:
    """A metric logged over the run, drawn as ``graph`` (a display hint kept with the run)."""

    graph: Graph = "line"

    def __post_init__(self) -> None:
        if self.graph not in GRAPHS:
            raise ValueError(f"Metrics(graph={self.graph!r}): graph must be one of {GRAPHS}")


@dataclass(frozen=True)
class Summary(Metrics):
    """A metric reduced to one value: ``kind`` is ``min``, ``max``, ``mean``, ``first`` or
    ``last``."""

    kind: SummaryKindName = "last"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kind not in SUMMARY_KINDS:
            raise ValueError(f"Summary(kind={self.kind!r}): kind must be one of {SUMMARY_KINDS}")


__all__ = ["GRAPHS", "SUMMARY_KINDS", "Metrics", "Summary"]
