"""Episode k is re-created from (seed, k) alone; parameters draw from independent streams."""

from __future__ import annotations

import numpy as np
import pytest

from runlab.scenario import Scenario

SPEC = {
    "lr": "${log_uniform(1e-4, 1e-1)}",
    "batch_size": "${discrete(3, [32, 64, 128], [0.3, 0.5, 0.2])}",
    "robot": {
        "mass": "${gaussian(10, 1)}",
        "start": "${uniform_3d([-5, -5, 0], [5, 5, 10])}",
        "links": [{"length": "${uniform(0.1, 0.5)}"}, {"length": "${uniform(0.1, 0.5)}"}],
    },
    "terrain": "${categorical(['flat', 'hills', 'stairs'])}",
}


def test_episode_k_alone_equals_episode_k_of_a_loop() -> None:
    s = Scenario(SPEC)
    sequential = [s.sample_episode(1234, k) for k in range(20)]
    for k in (0, 7, 19):
        assert Scenario(SPEC).sample_episode(1234, k) == sequential[k]
        assert Scenario(SPEC).episode_seed(1234, k) == s.episode_seed(1234, k)


def test_same_seed_same_values_different_seed_different_values() -> None:
    assert Scenario(SPEC).sample(5) == Scenario(SPEC).sample(5)
    assert Scenario(SPEC).sample_episode(5, 3) == Scenario(SPEC).sample_episode(5, 3)
    assert Scenario(SPEC).sample(5)["lr"] != Scenario(SPEC).sample(6)["lr"]
    assert Scenario(SPEC).sample_episode(5, 3)["lr"] != Scenario(SPEC).sample_episode(6, 3)["lr"]


def test_different_episodes_differ() -> None:
    s = Scenario(SPEC)
    masses = [s.sample_episode(0, k)["robot"]["mass"] for k in range(50)]
    assert len(set(masses)) == 50
    seeds = [s.episode_seed(0, k) for k in range(50)]
    assert len(set(seeds)) == 50


def test_episode_seed_is_63_bit_splitmix_from_the_seed_sequence_root() -> None:
    s = Scenario(SPEC)
    for k in range(10):
        seed = s.episode_seed(42, k)
        assert isinstance(seed, int) and 0 <= seed < 2**63
        root = int(np.random.SeedSequence(42).generate_state(2, dtype=np.uint64)[0])
        z = (root + (k + 1) * 0x9E3779B97F4A7C15) % 2**64  # SplitMix64 output k + 1
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
        assert seed == (z ^ (z >> 31)) >> 1
    assert Scenario().episode_seed(42, 3) == s.episode_seed(42, 3)  # independent of the spec


def test_adding_a_parameter_leaves_the_others_unchanged() -> None:
    before = Scenario(SPEC)
    bigger = {"aaa": "${uniform(0, 1)}", **SPEC, "zzz": {"k": "${gaussian(0, 1, size=3)}"}}
    after = Scenario(bigger)
    for k in range(5):
        old, new = before.sample_episode(9, k), after.sample_episode(9, k)
        del new["aaa"], new["zzz"]
        assert new == old
    old_run, new_run = before.sample(9), after.sample(9)
    del new_run["aaa"], new_run["zzz"]
    assert new_run == old_run


def test_key_order_does_not_matter() -> None:
    reordered = dict(reversed(list(SPEC.items())))
    assert Scenario(reordered).sample_episode(3, 4) == Scenario(SPEC).sample_episode(3, 4)


def test_identical_distributions_at_different_paths_draw_independently() -> None:
    values = Scenario(SPEC).sample(11)
    first, second = (link["length"] for link in values["robot"]["links"])
    assert first != second


def test_sample_is_not_episode_zero() -> None:
    s = Scenario(SPEC)
    assert s.sample(8) != s.sample_episode(8, 0)


def test_default_seed_from_constructor_and_init() -> None:
    s = Scenario(SPEC, seed=77)
    assert s.seed == 77
    assert s.sample() == Scenario(SPEC).sample(77)
    assert s.sample_episode(None, 2) == Scenario(SPEC).sample_episode(77, 2)
    s.init(SPEC, seed=78)
    assert s.sample() == Scenario(SPEC).sample(78)


def test_without_a_seed_sample_is_fresh_each_time() -> None:
    s = Scenario({"x": "${uniform(0, 1)}"})
    assert s.sample()["x"] != s.sample()["x"]


@pytest.mark.parametrize("seed", [0, 2**64 + 5, np.int64(3)])
def test_seed_types(seed: int) -> None:
    assert Scenario(SPEC).sample_episode(seed, 1) == Scenario(SPEC).sample_episode(int(seed), 1)
