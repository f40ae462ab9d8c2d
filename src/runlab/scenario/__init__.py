"""Scenarios: the ``${...}`` parameter language, its distributions, seeding and YAML I/O.

A scenario is nested keys whose string values may be ``${distribution(args)}`` (sampled),
``${uniform: 0, 10}`` (the same, in OmegaConf resolver form) or ``${other.key}`` (a reference).
Everything else is a constant.

>>> from runlab.scenario import Scenario
>>> s = Scenario({
...     "friction": "${uniform(0.5, 1.5)}",
...     "start": "${uniform_3d([-5, -5, 0], [5, 5, 10])}",
... })
>>> values = s.sample_episode(seed=42, k=0)
>>> 0.5 <= values["friction"] <= 1.5, len(values["start"])
(True, 3)

Importing this package is cheap: NumPy and PyYAML are imported when first needed.
"""

from __future__ import annotations

from runlab._errors import ScenarioError
from runlab.scenario._distributions import PROBABILITY_TOLERANCE, Distribution, Kind, names
from runlab.scenario._scenario import Scenario, ScenarioSource

DISTRIBUTIONS: tuple[str, ...] = names()
"""Every distribution name a ``${...}`` value may use, vector forms included."""

__all__ = [
    "DISTRIBUTIONS",
    "PROBABILITY_TOLERANCE",
    "Distribution",
    "Kind",
    "Scenario",
    "ScenarioError",
    "ScenarioSource",
]
