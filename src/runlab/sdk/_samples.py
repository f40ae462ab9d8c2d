"""A bounded sample of each key's logged values, kept for the sparklines of the end-of-run block.

The writer thread feeds it every drained batch; memory stays bounded however long the run, and
the kept values stay evenly spread over the whole run (see :mod:`runlab.sdk._terminal`).
"""

from __future__ import annotations

from typing import Any

from runlab.storage._format import Columns

SAMPLES = 256
"""Values kept per key: between this and twice this many."""


class Samples:
    """A bounded, evenly thinned sample of each key's values, for sparklines at the end."""

    def __init__(self) -> None:
        self.values: dict[str, list[Any]] = {}
        self.stride: dict[str, int] = {}
        self.skip: dict[str, int] = {}

    def update(self, cols: Columns) -> None:
        for key, (vals, _rows) in cols.items():
            stride = self.stride.setdefault(key, 1)
            start = self.skip.get(key, 0)
            kept = self.values.setdefault(key, [])
            kept.extend(vals[start::stride])
            self.skip[key] = (start - len(vals)) % stride
            if len(kept) > 2 * SAMPLES:
                # Halve what is kept and double the stride: the sample stays even over the run.
                del kept[1::2]
                self.stride[key] = stride * 2
                self.skip[key] = (self.skip[key] * 2) % (stride * 2)
