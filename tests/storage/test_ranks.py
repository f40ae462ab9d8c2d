"""The merge rule of shared runs: per key and step, the first process's point wins."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from runlab.storage._ranks import _merge, is_owner
from runlab.storage._reader import KeySeries

# Each process: a set of steps it logged the key at (steps are strictly increasing per process
# once a reader kept the last point of each step).
processes = st.lists(st.sets(st.integers(0, 60), max_size=30), min_size=1, max_size=5)


def series(index: int, steps: set[int]) -> KeySeries:
    ordered = np.array(sorted(steps), dtype=np.int64)
    values = ordered * 10 + index  # the value says which process logged it
    return KeySeries("k", ordered, ordered.astype(np.float64), values)


@given(processes)
def test_every_step_once_with_the_first_process_value(steps_per_process: list[set[int]]) -> None:
    merged = _merge("k", [series(i, s) for i, s in enumerate(steps_per_process)])
    expected: dict[int, int] = {}
    for index, steps in enumerate(steps_per_process):
        for step in steps:
            expected.setdefault(step, step * 10 + index)
    assert merged.steps.tolist() == sorted(expected)
    assert merged.values.tolist() == [expected[s] for s in sorted(expected)]
    assert merged.timestamps.tolist() == [float(s) for s in sorted(expected)]


def test_mixed_value_types_widen() -> None:
    ints = KeySeries("k", np.array([0, 1]), np.zeros(2), np.array([1, 2], dtype=np.int64))
    floats = KeySeries("k", np.array([1, 2]), np.zeros(2), np.array([0.5, 1.5]))
    merged = _merge("k", [ints, floats])
    assert merged.values.dtype == np.float64
    assert merged.values.tolist() == [1.0, 2.0, 1.5]


def test_owner_labels() -> None:
    assert all(is_owner(label) for label in (None, "0", "rank-0", "rank0", "rank_0"))
    assert not any(is_owner(label) for label in ("rank-1", "00", "main", "rank-00"))
