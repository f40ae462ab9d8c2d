"""Episode parameters drawn for a block of episodes at once, with NumPy.

Episode ``k`` belongs to block ``k // BLOCK``; its values are row ``k % BLOCK`` of that block's
draw. Every way of asking for episode ``k`` (a run creating its episodes in order, or
``Scenario.sample_episode(seed, k)`` on its own) computes the same block the same way, so the
values are identical, and no episode needs the ones before it: the block is a pure function of
(seed, block index). The uniforms are the same SplitMix64 streams as :class:`_seeding.Stream`
(integer arithmetic, bit-exact in NumPy); only the cost differs: one vectorised pass per
parameter per block instead of a Python loop per episode.

A parameter whose single draw needs more than ``BLOCK`` uniforms (``size=`` vectors) is drawn
per episode (a block of one), so a block never holds more than ``BLOCK * BLOCK`` uniforms of it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runlab.scenario._seeding import Stream, path_word, run_roots

if TYPE_CHECKING:
    from runlab.scenario._distributions import Distribution

BLOCK = 256
_GOLDEN = 0x9E3779B97F4A7C15
_UNIT = 2.0**-53


class Block:
    """One block's draws: simulator seeds, parameter keys and each parameter's values.

    ``items`` is ``(path, values by row, whether a row's value must be copied out)`` for the
    blocked parameters; ``alone`` lists the parameters drawn per episode instead.
    """

    __slots__ = ("alone", "items", "keys", "seeds", "values")

    def __init__(
        self,
        seeds: list[int],
        keys: Any,
        values: dict[str, list[Any]],
        parameters: Mapping[str, Distribution],
    ) -> None:
        self.seeds = seeds
        self.keys = keys
        self.values = values
        self.items = [
            (path, rows, bool(rows) and type(rows[0]) in (list, dict))
            for path, rows in values.items()
        ]
        self.alone = [(p, d) for p, d in parameters.items() if p not in values]


def _mix(z: Any) -> Any:
    import numpy as np

    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def episode_words(seed: int, first: int, count: int) -> tuple[list[int], Any]:
    """Simulator seeds (as ints) and parameter keys (uint64 array) of episodes
    ``first .. first + count - 1``: the same as :func:`_seeding.episode_pair`."""
    import numpy as np

    sim_root, key_root = run_roots(seed)
    step = np.arange(first + 1, first + count + 1, dtype=np.uint64) * np.uint64(_GOLDEN)
    seeds = (_mix(np.uint64(sim_root) + step) >> np.uint64(1)).tolist()
    return seeds, _mix(np.uint64(key_root) + step)


def uniforms(keys: Any, path: str, count: int) -> Any:
    """``(len(keys), count)`` uniforms: row i is the first ``count`` draws of
    ``Stream(keys[i], path_word(path))``."""
    import numpy as np

    counter = np.arange(1, count + 1, dtype=np.uint64) * np.uint64(_GOLDEN)
    z = _mix((keys ^ np.uint64(path_word(path)))[:, None] + counter[None, :])
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * _UNIT


def per_draw(dist: Distribution) -> int:
    """Uniforms one draw takes (far-tail rejection may take more, from the stream)."""
    return math.prod(dist.shape)


def draw_block(parameters: Mapping[str, Distribution], seed: int, block: int) -> Block:
    """Every blockable parameter's values for the episodes of ``block``.

    The uniforms of all of them come from one vectorised pass (a column per parameter draw);
    each parameter then transforms its own columns.
    """
    import numpy as np

    seeds, keys = episode_words(seed, block * BLOCK, BLOCK)
    small = [(path, dist, per_draw(dist)) for path, dist in parameters.items()]
    small = [item for item in small if item[2] <= BLOCK]
    if not small:
        return Block(seeds, keys, {}, parameters)
    words = np.repeat(
        np.array([path_word(path) for path, _, _ in small], dtype=np.uint64),
        [count for _, _, count in small],
    )
    counter = np.concatenate([np.arange(1, c + 1, dtype=np.uint64) for _, _, c in small])
    z = _mix((keys[:, None] ^ words[None, :]) + counter[None, :] * np.uint64(_GOLDEN))
    u = ((z >> np.uint64(11)).astype(np.float64) + 0.5) * _UNIT
    # One inverse-CDF pass for the columns of every gaussian parameter together.
    spans, start = [], 0
    for _, _dist, count in small:
        spans.append((start, start + count))
        start += count
    gauss = [i for i, (_, dist, _) in enumerate(small) if dist.family == "gaussian"]
    normal = None
    if gauss:
        from runlab.scenario._normal import ndtri_array

        columns = np.concatenate([np.arange(*spans[i]) for i in gauss])
        normal = np.empty_like(u)
        normal[:, columns] = ndtri_array(u[:, columns])
    values: dict[str, list[Any]] = {}
    for (path, dist, _), (a, b) in zip(small, spans, strict=True):
        z = None if normal is None or dist.family != "gaussian" else normal[:, a:b]
        values[path] = transform(dist, path, keys, u[:, a:b], z)
    return Block(seeds, keys, values, parameters)


def draw_rows(dist: Distribution, path: str, keys: Any) -> list[Any]:
    """One value of ``dist`` per key, as plain Python data."""
    return transform(dist, path, keys, uniforms(keys, path, per_draw(dist)))


def transform(dist: Distribution, path: str, keys: Any, u: Any, normal: Any = None) -> list[Any]:
    """Values of ``dist`` from its uniforms ``u`` (one row per key), as plain Python data;
    ``normal`` is ``ndtri(u)`` when the caller has it (gaussians)."""
    import numpy as np

    count = u.shape[1]
    family, args = dist.family, dist.args
    rows = len(keys)
    if family in ("categorical", "discrete"):
        from runlab.scenario._distributions import cumulative

        choices = args["choices"] if family == "categorical" else args["values"]
        weights = args.get("weights") if family == "categorical" else args.get("probs")
        index = np.minimum(
            np.searchsorted(np.asarray(cumulative(len(choices), weights)), u, side="right"),
            len(choices) - 1,
        )
        mutable = any(isinstance(c, (list, dict)) for c in choices)
        picked = [
            [copy.deepcopy(choices[i]) if mutable else choices[i] for i in row]
            for row in index.tolist()
        ]
        return _shape(picked, dist.shape)
    shape = (rows, *dist.shape)
    u = u.reshape(shape)
    a = {k: np.asarray(v, dtype=np.float64) for k, v in args.items() if k != "size"}
    out: Any
    if family == "uniform":
        out = np.clip(a["low"] + (a["high"] - a["low"]) * u, a["low"], a["high"])
    elif family == "log_uniform":
        lo = np.log(a["low"])
        out = np.clip(np.exp(lo + (np.log(a["high"]) - lo) * u), a["low"], a["high"])
    elif family == "bernoulli":
        out = u < a["p"]
    elif family == "randint":
        low = np.asarray(args["low"], dtype=np.int64)
        span = np.asarray(args["high"], dtype=np.int64) - low + 1
        out = low + np.minimum((u * span).astype(np.int64), span - 1)
    elif family == "gaussian":
        from runlab.scenario._normal import ndtri_array

        z = ndtri_array(u) if normal is None else normal.reshape(shape)
        out = a["mean"] + a["std"] * z
    else:
        out = _truncated(keys, path, u, a, count)
    return out.tolist()  # type: ignore[no-any-return]


def _truncated(keys: Any, path: str, u: Any, a: dict[str, Any], count: int) -> Any:
    import numpy as np

    from runlab.scenario._normal import truncated_normal, truncated_normal_array

    if all(a[k].ndim == 0 for k in _TRUNC):
        out = truncated_normal_array(u, *(float(a[k]) for k in _TRUNC))
        if out is not None:
            return out

    mean, std, low, high = (np.broadcast_to(a[k], u.shape).ravel().tolist() for k in _TRUNC)
    flat = u.ravel().tolist()
    per_row = len(flat) // len(keys)
    word = path_word(path)
    # Far-tail rejection continues each episode's stream after its block of uniforms.
    streams = [_After(key, word, count) for key in keys.tolist()]
    out = [
        truncated_normal(x, mean[i], std[i], low[i], high[i], streams[i // per_row])
        for i, x in enumerate(flat)
    ]
    return np.array(out).reshape(u.shape)


_TRUNC = ("mean", "std", "low", "high")


class _After:
    """The stream of (key, word) from draw ``count + 1`` on, built only if it is used."""

    def __init__(self, key: int, word: int, count: int) -> None:
        self._key, self._word, self._count = key, word, count
        self._stream: Stream | None = None

    def random(self) -> float:
        if self._stream is None:
            self._stream = Stream(self._key, self._word)
            for _ in range(self._count):
                self._stream.random()
        return self._stream.random()


def _shape(rows: list[list[Any]], shape: tuple[int, ...]) -> list[Any]:
    if not shape:
        return [row[0] for row in rows]
    if len(shape) == 1:
        return rows
    return [[row[i : i + shape[1]] for i in range(0, len(row), shape[1])] for row in rows]
