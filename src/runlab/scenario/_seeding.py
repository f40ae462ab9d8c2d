"""Seeds: one NumPy stream per (seed, episode, parameter path), derived, never replayed.

Episode ``k`` of a run seeded with ``seed`` is ``SeedSequence(seed, spawn_key=(k,))``. Each
parameter draws from its own child of that sequence, ``spawn_key=(k, PARAMETER_STREAM, h)`` with
``h`` a stable 64-bit hash (BLAKE2b) of the parameter's key path. So a parameter's value depends
only on the seed, the episode, its path and its own distribution: adding, removing or reordering
other parameters leaves it unchanged, and episode k needs no replay of episodes 0..k-1.
:meth:`Scenario.sample` (no episode) uses ``spawn_key=(PARAMETER_STREAM, h)``.
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runlab._errors import ScenarioError

if TYPE_CHECKING:
    import numpy as np

    from runlab.scenario._distributions import Distribution

# A fixed word that keeps parameter streams apart from spawn keys users derive themselves.
PARAMETER_STREAM = 0x72756E6C  # "runl"


def check_count(value: Any, what: str) -> int:
    """``value`` as a non-negative int (seeds and episode indexes)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ScenarioError(f"{what} must be a non-negative integer, got {value!r}")
    return int(value)


def episode_sequence(seed: int, k: int) -> np.random.SeedSequence:
    """The SeedSequence of episode ``k``: it depends on (seed, k) alone."""
    import numpy as np

    return np.random.SeedSequence(seed, spawn_key=(k,))


def episode_seed(seed: int, k: int) -> int:
    """A 63-bit integer for episode ``k``, for seeding a simulator."""
    import numpy as np

    return int(episode_sequence(seed, k).generate_state(1, dtype=np.uint64)[0]) >> 1


def draw(
    parameters: Mapping[str, Distribution], entropy: Any, spawn_key: tuple[int, ...]
) -> dict[str, Any]:
    """Sample every parameter from its own stream under (entropy, spawn_key)."""
    import numpy as np

    values: dict[str, Any] = {}
    for path, dist in parameters.items():
        sequence = np.random.SeedSequence(
            entropy, spawn_key=(*spawn_key, PARAMETER_STREAM, _path_word(path))
        )
        values[path] = dist.sample(np.random.Generator(np.random.PCG64(sequence)))
    return values


def _path_word(path: str) -> int:
    return int.from_bytes(hashlib.blake2b(path.encode(), digest_size=8).digest(), "little")
