"""Episode draws come from blocks of episodes computed with NumPy: the same laws, bounds and
plain types as single draws, the same values however an episode is asked for."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from scipy import stats

from runlab.scenario import Scenario
from runlab.scenario._batch import BLOCK

N = 3 * BLOCK * 10 + 7  # crosses many blocks, ends mid-block
P_MIN = 1e-3


def episodes(spec: dict[str, Any], seed: int = 5) -> list[dict[str, Any]]:
    scenario = Scenario(spec)
    return [scenario.sample_episode(seed, k) for k in range(N)]


def plain(value: Any) -> bool:
    if isinstance(value, list):
        return all(plain(v) for v in value)
    return type(value) in (float, int, bool, str)


@pytest.mark.parametrize(
    ("text", "law", "args"),
    [
        ("${uniform(2, 5)}", "uniform", (2, 3)),
        ("${gaussian(1, 2)}", "norm", (1, 2)),
        ("${log_uniform(1, 100)}", "loguniform", (1, 100)),
        ("${truncated_gaussian(0, 1, -0.5, 2)}", "truncnorm", (-0.5, 2)),
    ],
)
def test_continuous_laws_across_episodes(text: str, law: str, args: tuple[float, ...]) -> None:
    x = [e["x"] for e in episodes({"x": text})]
    assert plain(x)
    assert stats.kstest(x, law, args=args).pvalue > P_MIN


def test_discrete_laws_and_bounds_across_episodes() -> None:
    spec = {
        "b": "${bernoulli(0.3)}",
        "r": "${randint(-2, 2)}",
        "c": "${categorical(['a', 'b', 'c'], weights=[1, 2, 1])}",
        "d": "${discrete(3, [32, 64, 128], [0.3, 0.5, 0.2])}",
    }
    draws = episodes(spec)
    assert plain([list(e.values()) for e in draws])
    expected = {
        "b": {True: 0.3, False: 0.7},
        "r": dict.fromkeys(range(-2, 3), 0.2),
        "c": {"a": 0.25, "b": 0.5, "c": 0.25},
        "d": {32: 0.3, 64: 0.5, 128: 0.2},
    }
    for key, law in expected.items():
        counts = Counter(e[key] for e in draws)
        assert set(counts) == set(law), key  # both ends of randint, every category
        observed = [counts[v] for v in law]
        pvalue = stats.chisquare(observed, [N * p for p in law.values()]).pvalue
        assert pvalue > P_MIN, key


def test_vectors_per_axis_and_large_sizes() -> None:
    spec = {
        "goal": "${uniform_3d([-5, -5, 0], [5, 5, 10])}",
        "light": "${gaussian(0, 1, size=3)}",
        "cloud": "${uniform(0, 1, size=200)}",  # more than a block's worth: drawn per episode
        "grid": "${randint_2d([0, 10], [1, 11], size=2)}",
    }
    draws = episodes(spec)
    for e in draws:
        assert len(e["goal"]) == 3 and -5 <= e["goal"][0] <= 5 and 0 <= e["goal"][2] <= 10
        assert len(e["light"]) == 3 and len(e["cloud"]) == 200
        assert [len(row) for row in e["grid"]] == [2, 2]
        assert all(0 <= row[0] <= 1 and 10 <= row[1] <= 11 for row in e["grid"])
    z = [v for e in draws for v in e["goal"][2:]]
    assert stats.kstest(z, "uniform", args=(0, 10)).pvalue > P_MIN
    cloud = [v for e in draws[:20] for v in e["cloud"]]
    assert stats.kstest(cloud, "uniform").pvalue > P_MIN
    assert plain([e["cloud"] for e in draws[:5]])


def test_an_episode_alone_equals_its_place_in_a_run_and_is_a_fresh_copy() -> None:
    spec = {"x": "${uniform(0, 1)}", "v": "${gaussian_2d(0, 1)}"}
    loop = episodes(spec, seed=11)
    for k in (0, 1, BLOCK - 1, BLOCK, 5 * BLOCK + 3, N - 1):
        alone = Scenario(spec).sample_episode(11, k)  # a fresh object: no cached blocks
        assert alone == loop[k]
    scenario = Scenario(spec)
    first = scenario.sample_episode(11, 3)
    first["v"].append(99.0)
    assert scenario.sample_episode(11, 3)["v"] == loop[3]["v"]


def test_far_tail_truncation_stays_in_bounds() -> None:
    x = [e["x"] for e in episodes({"x": "${truncated_gaussian(0, 1, 40, 41)}"})[:300]]
    assert all(40 <= v <= 41 for v in x)
    assert len(set(x)) == len(x)
