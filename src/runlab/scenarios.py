"""HumaLab-compatible spelling: ``runlab.scenarios.Scenario().init(scenario={...})``.

>>> from runlab import scenarios
>>> s = scenarios.Scenario().init(scenario={"param": "${uniform(0, 10)}"}, seed=3)
>>> 0 <= s.sample()["param"] <= 10
True
"""

from __future__ import annotations

from runlab.scenario import Distribution, Scenario, ScenarioError

__all__ = ["Distribution", "Scenario", "ScenarioError"]
