"""Every distribution draws from the law it names: KS tests for continuous, chi-square for discrete.

Seeds are fixed, so each test is deterministic; the thresholds (p > 0.001) only say how far from
the named law a correct sampler's fixed-seed sample may look before we call it wrong.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from scipy import stats

from runlab.scenario import Scenario

N = 20_000
P_MIN = 1e-3


def draws(text: str, seed: int = 1) -> Any:
    return Scenario({"x": text}).sample(seed)["x"]


def assert_plain(value: Any) -> None:
    """No NumPy types anywhere in a sampled value."""
    if isinstance(value, list):
        for v in value:
            assert_plain(v)
    else:
        assert type(value) in (float, int, bool, str, type(None)), type(value)


def chi_square(samples: list[Any], expected: dict[Any, float]) -> float:
    counts = Counter(samples)
    assert set(counts) <= set(expected), set(counts) - set(expected)
    keys = [k for k, p in expected.items() if p > 0]
    observed = [counts[k] for k in keys]
    total = sum(expected[k] for k in keys)
    exp = [len(samples) * expected[k] / total for k in keys]
    return float(stats.chisquare(observed, exp).pvalue)


# -- continuous -----------------------------------------------------------------------------------


def test_uniform_follows_uniform_law() -> None:
    x = draws(f"${{uniform(2, 5, size={N})}}")
    assert_plain(x)
    assert min(x) >= 2 and max(x) <= 5
    assert stats.kstest(x, "uniform", args=(2, 3)).pvalue > P_MIN


def test_uniform_with_equal_bounds_is_constant() -> None:
    assert draws("${uniform(3, 3, size=10)}") == [3.0] * 10


def test_log_uniform_has_uniform_log() -> None:
    x = draws(f"${{log_uniform(1e-4, 1e-1, size={N})}}")
    assert min(x) >= 1e-4 and max(x) <= 1e-1
    assert stats.kstest(x, stats.loguniform(1e-4, 1e-1).cdf).pvalue > P_MIN


def test_gaussian_follows_normal_law() -> None:
    x = draws(f"${{gaussian(1.5, 2, size={N})}}")
    assert_plain(x)
    assert stats.kstest(x, "norm", args=(1.5, 2)).pvalue > P_MIN


def test_gaussian_with_zero_std_is_its_mean() -> None:
    assert draws("${gaussian(-2, 0)}") == -2.0


@pytest.mark.parametrize(
    ("mean", "std", "low", "high"),
    [
        (0.0, 1.0, -1.0, 2.0),  # around the mean
        (5.0, 2.0, 0.0, 4.0),  # mean outside, above
        (0.0, 1.0, 3.0, 5.0),  # upper tail
        (0.0, 1.0, -6.0, -4.5),  # lower tail
        (2.0, 0.5, 2.0, 1e6),  # half-truncated, huge upper bound
        (0.0, 1.0, 40.0, 41.0),  # far tail: CDF underflows, rejection path
        (0.0, 1.0, -41.0, -40.0),  # mirrored far tail
        (0.0, 1.0, -1e-9, 1e-9),  # tiny interval at the mean
    ],
)
def test_truncated_gaussian_is_exact_and_bounded(
    mean: float, std: float, low: float, high: float
) -> None:
    x = draws(f"${{truncated_gaussian({mean}, {std}, {low}, {high}, size={N})}}")
    assert_plain(x)
    assert min(x) >= low and max(x) <= high
    law = stats.truncnorm((low - mean) / std, (high - mean) / std, loc=mean, scale=std)
    assert stats.kstest(x, law.cdf).pvalue > P_MIN


def test_truncated_gaussian_degenerate_forms() -> None:
    assert draws("${truncated_gaussian(10, 0, 0, 1)}") == 1.0  # std 0: the mean, clipped
    assert draws("${truncated_gaussian(0, 1, 0.5, 0.5)}") == 0.5  # low == high


# -- discrete -------------------------------------------------------------------------------------


def test_bernoulli_is_true_with_probability_p() -> None:
    x = draws(f"${{bernoulli(0.3, size={N})}}")
    assert_plain(x)
    assert chi_square(x, {True: 0.3, False: 0.7}) > P_MIN
    assert draws("${bernoulli(0, size=100)}") == [False] * 100
    assert draws("${bernoulli(1, size=100)}") == [True] * 100


def test_categorical_weights_are_relative() -> None:
    x = draws(f"${{categorical(['a', 'b', 'c'], weights=[1, 2, 7], size={N})}}")
    assert chi_square(x, {"a": 0.1, "b": 0.2, "c": 0.7}) > P_MIN


def test_categorical_without_weights_is_uniform() -> None:
    x = draws(f"${{categorical([1, 'two', null, [3]], size={N})}}")
    counts = Counter(repr(v) for v in x)
    assert set(counts) == {"1", "'two'", "None", "[3]"}
    assert stats.chisquare(list(counts.values())).pvalue > P_MIN


def test_categorical_zero_weight_is_never_drawn() -> None:
    x = draws(f"${{categorical(['a', 'b', 'c'], weights=[0.5, 0, 0.5], size={N})}}")
    assert "b" not in x
    x = draws(f"${{categorical(['a', 'b', 'c'], weights=[1, 1, 0], size={N})}}")
    assert "c" not in x


def test_categorical_choices_are_copies() -> None:
    s = Scenario({"x": "${categorical([[1, 2]])}"})
    first = s.sample(0)["x"]
    first.append(3)
    assert s.sample(0)["x"] == [1, 2]


def test_discrete_uses_its_probabilities() -> None:
    x = draws(f"${{discrete(3, [32, 64, 128], [0.3, 0.5, 0.2], size={N})}}")
    assert_plain(x)
    assert set(x) == {32, 64, 128}
    assert all(type(v) is int for v in x)
    assert chi_square(x, {32: 0.3, 64: 0.5, 128: 0.2}) > P_MIN


def test_discrete_without_probabilities_is_uniform() -> None:
    x = draws(f"${{discrete(2, ['left', 'right'], size={N})}}")
    assert chi_square(x, {"left": 0.5, "right": 0.5}) > P_MIN


def test_randint_includes_both_ends() -> None:
    x = draws(f"${{randint(-2, 3, size={N})}}")
    assert_plain(x)
    assert set(x) == {-2, -1, 0, 1, 2, 3}
    assert chi_square(x, {v: 1 / 6 for v in range(-2, 4)}) > P_MIN
    assert draws("${randint(7, 7, size=5)}") == [7] * 5


# -- vectors and size= ----------------------------------------------------------------------------


def test_uniform_3d_has_per_axis_bounds() -> None:
    x = np.array(draws(f"${{uniform_3d([-5, -5, 0], [5, 5, 10], size={N})}}"))
    assert x.shape == (N, 3)
    for axis, (low, high) in enumerate([(-5, 5), (-5, 5), (0, 10)]):
        column = x[:, axis]
        assert column.min() >= low and column.max() <= high
        assert stats.kstest(column, "uniform", args=(low, high - low)).pvalue > P_MIN


def test_scalar_arguments_apply_to_every_axis() -> None:
    x = np.array(draws(f"${{gaussian_2d([0, 10], 1, size={N})}}"))
    assert x.shape == (N, 2)
    assert stats.kstest(x[:, 0], "norm", args=(0, 1)).pvalue > P_MIN
    assert stats.kstest(x[:, 1], "norm", args=(10, 1)).pvalue > P_MIN


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("${uniform_1d(0, 1)}", (1,)),
        ("${uniform_2d([0, 1], [1, 2])}", (2,)),
        ("${uniform_3d([-5, -5, 0], [5, 5, 10])}", (3,)),
        ("${gaussian(0, 1, size=4)}", (4,)),
        ("${log_uniform_2d(1, 2, size=3)}", (3, 2)),
        ("${truncated_gaussian_3d(0, 1, -1, [1, 2, 3])}", (3,)),
        ("${bernoulli_2d([0.1, 0.9])}", (2,)),
        ("${randint_3d(0, [1, 2, 3], size=2)}", (2, 3)),
        ("${categorical(['a', 'b'], size=5)}", (5,)),
        ("${discrete(2, [1, 2], [0.5, 0.5], size=1)}", (1,)),
    ],
)
def test_vector_shapes(text: str, shape: tuple[int, ...]) -> None:
    value = draws(text)
    assert isinstance(value, list)
    assert np.array(value).shape == shape
    assert_plain(value)
    assert Scenario({"x": text}).parameters["x"].shape == shape
    assert Scenario({"x": text}).parameters["x"].kind == "vector"


def test_vector_bounds_hold_per_axis() -> None:
    x = np.array(draws(f"${{randint_3d([0, 10, -3], [1, 12, -3], size={N})}}"))
    assert set(x[:, 0]) == {0, 1} and set(x[:, 1]) == {10, 11, 12} and set(x[:, 2]) == {-3}
    t = np.array(draws(f"${{truncated_gaussian_2d(0, 1, [-1, 2], [1, 3], size={N})}}"))
    assert t[:, 0].min() >= -1 and t[:, 0].max() <= 1
    assert t[:, 1].min() >= 2 and t[:, 1].max() <= 3
    b = np.array(draws(f"${{bernoulli_2d([0.1, 0.9], size={N})}}"))
    assert chi_square(b[:, 0].tolist(), {True: 0.1, False: 0.9}) > P_MIN
    assert chi_square(b[:, 1].tolist(), {True: 0.9, False: 0.1}) > P_MIN


# -- scalar draws, types and kinds ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "python_type"),
    [
        ("${uniform(0, 1)}", "numeric", float),
        ("${uniform(0, 10)}", "numeric", float),  # int bounds still give floats
        ("${log_uniform(1, 2)}", "numeric", float),
        ("${gaussian(0, 1)}", "numeric", float),
        ("${truncated_gaussian(0, 1, -1, 1)}", "numeric", float),
        ("${randint(0, 9)}", "numeric", int),
        ("${bernoulli(0.5)}", "categorical", bool),
        ("${categorical(['a', 'b'])}", "categorical", str),
        ("${discrete(2, [1, 2], [0.5, 0.5])}", "numeric", int),
        ("${discrete(2, ['a', 'b'], [0.5, 0.5])}", "categorical", str),
    ],
)
def test_scalar_draws_are_plain_python(text: str, kind: str, python_type: type) -> None:
    s = Scenario({"x": text})
    assert s.parameters["x"].kind == kind
    for seed in range(5):
        assert type(s.sample(seed)["x"]) is python_type


def test_draws_across_episodes_follow_the_law() -> None:
    s = Scenario({"u": "${uniform(0, 1)}", "c": "${categorical(['a', 'b', 'c'])}"})
    episodes = [s.sample_episode(99, k) for k in range(1500)]
    assert stats.kstest([e["u"] for e in episodes], "uniform").pvalue > P_MIN
    assert chi_square([e["c"] for e in episodes], {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}) > P_MIN


def test_truncated_gaussian_with_vanishing_std_sits_at_the_nearest_bound() -> None:
    # (bound - mean) / std overflows to the same infinity for both bounds.
    assert draws("${truncated_gaussian(-1, 2.2e-311, 0, 1)}") == 0.0
    assert draws("${truncated_gaussian(2, 2.2e-311, 0, 1)}") == 1.0
    assert draws("${truncated_gaussian(0.5, 2.2e-311, 0, 1)}") == 0.5
