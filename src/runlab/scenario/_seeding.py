"""Seeds: one stream per (seed, episode, parameter path), derived, never replayed.

A run seed is pooled once by ``SeedSequence(seed)`` into two root words; episode ``k``'s seed
for the user's simulator (63 bits) and its parameter key are output ``k + 1`` of a SplitMix64
stream from each root (O(1) for any k; a SeedSequence per episode would cost ~8 µs). Each
parameter draws from its own :class:`Stream`: SplitMix64 seeded with that key XOR a BLAKE2b
hash of the parameter's path, giving uniforms in (0, 1). So a parameter's value depends only
on the seed, the episode, its path and its own distribution: adding, removing or reordering
other parameters leaves it unchanged, and episode k needs no replay of episodes 0..k-1.
:meth:`Scenario.sample` (no episode) uses ``SeedSequence(seed, spawn_key=(PARAMETER_STREAM,))``.
"""

from __future__ import annotations

import functools
import hashlib
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runlab._errors import ScenarioError

if TYPE_CHECKING:
    from runlab.scenario._distributions import Distribution

# A fixed word that keeps parameter streams apart from spawn keys users derive themselves.
PARAMETER_STREAM = 0x72756E6C  # "runl"


def check_count(value: Any, what: str) -> int:
    """``value`` as a non-negative int (seeds and episode indexes)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ScenarioError(f"{what} must be a non-negative integer, got {value!r}")
    return int(value)


def episode_words(entropy: Any, spawn_key: tuple[int, ...]) -> tuple[int, int]:
    """(simulator seed, parameter key) of one SeedSequence node."""
    import numpy as np

    state = np.random.SeedSequence(entropy, spawn_key=spawn_key).generate_state(2, np.uint64)
    return int(state[0]) >> 1, int(state[1])


@functools.lru_cache(maxsize=256)
def run_roots(seed: int) -> tuple[int, int]:
    """Two 64-bit root words of a run seed, pooled by NumPy's SeedSequence (once per seed)."""
    import numpy as np

    state = np.random.SeedSequence(seed).generate_state(2, np.uint64)
    return int(state[0]), int(state[1])


def episode_pair(seed: int, k: int) -> tuple[int, int]:
    """(simulator seed, parameter key) of episode ``k``: output ``k + 1`` of a SplitMix64
    stream from each root word, so any episode is had in O(1), from (seed, k) alone."""
    sim_root, key_root = run_roots(seed)
    step = (k + 1) * _GOLDEN
    return _mix((sim_root + step) & _M64) >> 1, _mix((key_root + step) & _M64)


def episode_seed(seed: int, k: int) -> int:
    """A 63-bit integer for episode ``k``, for seeding a simulator."""
    return episode_pair(seed, k)[0]


_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_UNIT = 2.0**-53


def _mix(z: int) -> int:
    """SplitMix64's finaliser: a bijection of 64-bit words with full avalanche."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


class Stream:
    """Uniforms in the open interval (0, 1) for one parameter of one episode: SplitMix64 seeded
    with ``episode key ^ path hash`` (the i-th output is ``mix(seed + i * golden)``). Pure
    Python: a NumPy generator per parameter would cost ~15 µs, a draw here under one."""

    __slots__ = ("_count", "_key")

    def __init__(self, key: int, word: int) -> None:
        self._key = key ^ word
        self._count = 0

    def random(self) -> float:
        self._count += 1
        z = _mix((self._key + self._count * _GOLDEN) & _M64)
        return ((z >> 11) + 0.5) * _UNIT


class Plan:
    """Each parameter's path hash and compiled sampler, computed once per scenario."""

    def __init__(self, parameters: Mapping[str, Distribution]) -> None:
        self.items = [(path, path_word(path), dist.sampler) for path, dist in parameters.items()]


def draw(plan: Plan, key: int) -> dict[str, Any]:
    """Sample every parameter from its own stream under the parameter ``key``."""
    return {path: sampler(Stream(key, word)) for path, word, sampler in plan.items}


@functools.lru_cache(maxsize=4096)
def path_word(path: str) -> int:
    """A stable 64-bit hash of a parameter path."""
    return int.from_bytes(hashlib.blake2b(path.encode(), digest_size=8).digest(), "little")
