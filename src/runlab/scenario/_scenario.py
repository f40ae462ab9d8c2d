"""``Scenario``: a parameter space to sample runs and episodes from."""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Mapping
from typing import Any, Union

from runlab._errors import ScenarioError
from runlab.scenario import _batch, _seeding
from runlab.scenario._distributions import Distribution
from runlab.scenario._tree import Compiled, ParamNode, Resolver, compile_spec
from runlab.scenario._yaml import dump_yaml, is_path, read_source

ScenarioSource = Union[Mapping[str, Any], str, "os.PathLike[str]", "Scenario", None]


class Scenario:
    """A parameter space: nested keys whose values are constants, distributions or references.

    Args:
        spec: a mapping; YAML text; a path to a YAML file (a ``Path``, or a one-line ``str``
            ending in ``.yaml``/``.yml``); another ``Scenario`` (copied); or None (empty).
        seed: the default seed of :meth:`sample` and :meth:`sample_episode`.

    Raises:
        ScenarioError: at once, for any malformed value, naming its key path and the rule.

    Example:
        >>> s = Scenario({
        ...     "lr": "${log_uniform(1e-4, 1e-1)}",
        ...     "batch_size": "${discrete(3, [32, 64, 128], [0.3, 0.5, 0.2])}",
        ...     "robot": {"mass": "${uniform(1, 2)}", "payload": "${robot.mass}"},
        ... })
        >>> list(s.parameters)
        ['lr', 'batch_size', 'robot.mass']
        >>> episode = s.sample_episode(seed=7, k=3)
        >>> episode["batch_size"] in (32, 64, 128)
        True
        >>> episode["robot"]["payload"] == episode["robot"]["mass"]
        True
        >>> episode == Scenario(s.to_yaml()).sample_episode(7, 3)
        True
    """

    __slots__ = ("_blocks", "_compiled", "_flat", "_plan", "_seed")

    def __init__(self, spec: ScenarioSource = None, *, seed: int | None = None) -> None:
        self._compiled = Compiled({}, {})
        self._seed: int | None = None
        self.init(spec, seed)

    def init(self, scenario: ScenarioSource = None, seed: int | None = None) -> Scenario:
        """(Re)initialise in place from a new spec, as HumaLab's ``Scenario().init(...)``.

        On error the scenario is left as it was. Returns ``self``.
        """
        if isinstance(scenario, Scenario):
            seed = scenario._seed if seed is None else seed
            data: Any = scenario._compiled.spec
        elif isinstance(scenario, (str, os.PathLike)):
            data = read_source(scenario)
        else:
            data = scenario
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            hint = ""
            if isinstance(scenario, str) and not is_path(scenario) and "\n" not in scenario:
                hint = " (only a one-line name ending in .yaml or .yml is read as a file)"
            raise ScenarioError(
                "a scenario must be a mapping of keys to values, got "
                f"{type(data).__name__} {data!r}"[:300]
                + hint
            )
        compiled = compile_spec(data)
        checked = None if seed is None else _seeding.check_count(seed, "seed")
        self._compiled, self._seed = compiled, checked
        self._plan: _seeding.Plan | None = None
        self._blocks: dict[tuple[int, int], _batch.Block] = {}
        self._flat = all(type(node) is ParamNode for node in compiled.root.values())
        return self

    # -- sampling -----------------------------------------------------------------------------

    def sample(self, seed: int | None = None) -> dict[str, Any]:
        """One draw of every value, fully resolved, as plain Python data.

        ``seed`` defaults to the scenario's seed; with neither, the draw is not reproducible.
        """
        import numpy as np

        seed = self._seed if seed is None else _seeding.check_count(seed, "seed")
        entropy = np.random.SeedSequence(seed).entropy
        _, key = _seeding.episode_words(entropy, (_seeding.PARAMETER_STREAM,))
        return self._resolve(_seeding.draw(self._draw_plan(), key))

    def _draw_plan(self) -> _seeding.Plan:
        if self._plan is None:
            self._plan = _seeding.Plan(self._compiled.parameters)
        return self._plan

    def sample_episode(self, seed: int | None, k: int) -> dict[str, Any]:
        """Episode ``k``'s values: derived from (seed, k) alone, never by replaying episodes.

        ``seed=None`` uses the scenario's seed, which must then be set.
        """
        return self.sample_episode_and_seed(seed, k)[0]

    def sample_episode_and_seed(self, seed: int | None, k: int) -> tuple[dict[str, Any], int]:
        """``(sample_episode(seed, k), episode_seed(seed, k))`` from one seed derivation."""
        seed, k = self._episode_args(seed, k)
        number, row = divmod(k, _batch.BLOCK)
        block = self._block(seed, number)
        values: dict[str, Any] = {}
        for path, rows, copied in block.items:
            values[path] = _fresh(rows[row]) if copied else rows[row]
        for path, dist in block.alone:  # large draws: computed for this episode alone
            values[path] = _batch.draw_rows(dist, path, block.keys[row : row + 1])[0]
        if self._flat:  # every top-level value is a distribution: the draw is the result
            return {key: values[key] for key in self._compiled.root}, block.seeds[row]
        return self._resolve(values), block.seeds[row]

    def _block(self, seed: int, number: int) -> _batch.Block:
        found = self._blocks.get((seed, number))
        if found is None:
            found = _batch.draw_block(self._compiled.parameters, seed, number)
            with _BLOCKS_LOCK:  # episodes may be created from many threads
                if len(self._blocks) >= 8:  # runs move through blocks in order: keep a few
                    self._blocks.pop(next(iter(self._blocks)))
                self._blocks[seed, number] = found
        return found

    def episode_seed(self, seed: int | None, k: int) -> int:
        """A 63-bit integer for episode ``k`` (for the simulator), from (seed, k) alone."""
        return _seeding.episode_seed(*self._episode_args(seed, k))

    def _episode_args(self, seed: int | None, k: int) -> tuple[int, int]:
        if seed is None:
            if self._seed is None:
                raise ScenarioError("sample_episode needs a seed: pass one or set Scenario(seed=)")
            seed = self._seed
        return _seeding.check_count(seed, "seed"), _seeding.check_count(k, "episode index k")

    def _resolve(self, values: dict[str, Any]) -> dict[str, Any]:
        return Resolver(self._compiled.root, values).resolve()

    # -- inspection and I/O -------------------------------------------------------------------

    @property
    def seed(self) -> int | None:
        """The default seed given to the constructor or :meth:`init`, if any."""
        return self._seed

    @property
    def parameters(self) -> dict[str, Distribution]:
        """Every distribution by its key path (``robot.links[2].mass``), in spec order."""
        return dict(self._compiled.parameters)

    @property
    def is_empty(self) -> bool:
        """True when the spec has no keys at all."""
        return not self._compiled.spec

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data, with every ``${...}`` text as written."""
        return copy.deepcopy(self._compiled.spec)

    def to_yaml(self) -> str:
        """The spec as YAML; ``Scenario(s.to_yaml())`` samples exactly as ``s`` does."""
        return dump_yaml(self._compiled.spec) if self._compiled.spec else ""

    def validate(self) -> Scenario:
        """Check the spec again from scratch (it is checked on creation too); return ``self``."""
        compile_spec(self._compiled.spec)
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scenario):
            return NotImplemented
        return self._compiled.spec == other._compiled.spec and self._seed == other._seed

    __hash__ = None  # type: ignore[assignment]  # mutable through init()

    def __repr__(self) -> str:
        names = list(self._compiled.parameters)
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        seed = "" if self._seed is None else f", seed={self._seed}"
        return f"<Scenario {len(names)} parameters [{shown}]{seed}>"

    def __getstate__(self) -> dict[str, Any]:
        return {"spec": self._compiled.spec, "seed": self._seed}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._compiled = Compiled({}, {})
        self._seed = None
        self.init(state["spec"], state["seed"])


_BLOCKS_LOCK = threading.Lock()


def _fresh(value: Any) -> Any:
    """A copy of a cached list or dict value (scalars are immutable and shared)."""
    kind = type(value)
    if kind is list:
        return [_fresh(v) for v in value] if value and type(value[0]) in (list, dict) else value[:]
    if kind is dict:
        return copy.deepcopy(value)
    return value
