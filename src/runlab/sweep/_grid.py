"""``ExperimentGrid`` and ``setup_logger_kwargs``, with Spinning Up's semantics and naming.

Names and output directories match Spinning Up's exactly, so a grid ported from
``spinup.utils.run_utils`` lands in the same directories as its existing data.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runlab._errors import RunlabWarning
from runlab._settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

_INVALID_CHARS = re.compile(r"[^-_A-Za-z0-9]")
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]")
_COLLISION = "You can't assign multiple values to the same key."


@dataclass(frozen=True)
class _Param:
    key: str
    vals: tuple[Any, ...]
    shorthand: str | None
    in_name: bool

    @property
    def label(self) -> str:
        return self.key if self.shorthand is None else self.shorthand

    @property
    def all_bools(self) -> bool:
        return all(isinstance(v, bool) for v in self.vals)


class ExperimentGrid:
    """Hyperparameter ranges whose cartesian product is a list of variants, each with a name.

    Semantics follow Spinning Up's ``ExperimentGrid``: the first-added key varies slowest, keys
    ``a:b:c`` become nested dicts, and :meth:`variant_name` builds the same names.

    Example:
        >>> grid = ExperimentGrid("exp")
        >>> grid.add("lr", [0.1, 1e-5])
        >>> grid.add("gamma", 0.99, in_name=True)
        >>> grid.names()
        ['exp_lr0-1_gam0-99', 'exp_lr1e-05_gam0-99']
        >>> grid.variants()[0]
        {'lr': 0.1, 'gamma': 0.99}
    """

    def __init__(self, name: str = "") -> None:
        if not isinstance(name, str):
            raise TypeError(f"name={name!r} must be a str")
        self.name = name
        self._params: list[_Param] = []
        self._default_shorthand = Settings.resolve().default_shorthand

    @property
    def keys(self) -> list[str]:
        """Parameter keys in the order added."""
        return [p.key for p in self._params]

    def add(self, key: str, vals: Any, shorthand: str | None = None, in_name: bool = False) -> None:
        """Add a parameter with its values.

        Args:
            key: parameter name; ``a:b:c`` nests the value as ``{"a": {"b": {"c": value}}}``.
            vals: a ``list`` of values, or any other object as one value (so ``[32, 32]`` is two
                values; one list value is ``[[32, 32]]``).
            shorthand: label used in variant names. ``None``: the first three characters of each
                ``:``-part of the key, non-alphanumerics removed, joined by ``-`` (the full key when
                the ``default_shorthand`` setting is off). ``""``: only the value goes in names.
            in_name: put the parameter in names even when it has a single value.

        Adding a key again replaces it in place (with a warning). Other warnings
        (:class:`~runlab.RunlabWarning`): two keys with the same shorthand, and a list of two or
        more ints containing a repeated value, which is almost always ``[32, 32]`` meant as one
        value (a grid never needs the same value twice).

        Raises:
            TypeError: ``key`` or ``shorthand`` is not a string.
            ValueError: ``vals`` is an empty list (the grid would have no variants).
        """
        if not isinstance(key, str):
            raise TypeError(f"key={key!r} must be a str")
        if shorthand is not None and not isinstance(shorthand, str):
            raise TypeError(f"shorthand={shorthand!r} for key {key!r} must be a str or None")
        values = tuple(vals) if isinstance(vals, list) else (vals,)
        if not values:
            raise ValueError(f"vals for key {key!r} is an empty list; give at least one value")
        if shorthand is None and self._default_shorthand:
            shorthand = default_shorthand(key)
        param = _Param(key, values, shorthand, bool(in_name))
        _warn_pitfall(key, values)
        for i, old in enumerate(self._params):
            if old.key == key:
                warnings.warn(
                    f"key {key!r} added twice; the later values {list(values)!r} replace "
                    f"{list(old.vals)!r}",
                    RunlabWarning,
                    stacklevel=2,
                )
                self._params[i] = param
                return
        if shorthand:
            for old in self._params:
                if old.shorthand == shorthand:
                    warnings.warn(
                        f"keys {old.key!r} and {key!r} share the shorthand {shorthand!r}; their "
                        "variant names may be ambiguous (pass shorthand= to tell them apart)",
                        RunlabWarning,
                        stacklevel=2,
                    )
        self._params.append(param)

    def variants(self) -> list[dict[str, Any]]:
        """Every combination of values as a (nested) dict, the first-added key varying slowest.

        Raises:
            ValueError: a flat key is also the head of a nested key (``"a"`` and ``"a:b"``):
                "You can't assign multiple values to the same key."
        """
        return [_unflatten(flat) for flat in self._flat_variants()]

    def variant_name(self, variant: Mapping[str, Any]) -> str:
        """The name of one variant (flat or nested dict), as Spinning Up builds it.

        The grid name, then ``_`` + label + value for each parameter with several values or
        ``in_name=True`` (never the key ``seed``); an all-bool parameter adds ``_label`` only when
        True. Labels and values are lower-cased, characters outside ``[-_A-Za-z0-9]`` become
        ``-``, lists/tuples are joined by ``-``, functions and classes give their ``__name__``.
        """
        name = self.name
        for p in self._params:
            if not (len(p.vals) > 1 or p.in_name) or p.key == "seed":
                continue
            label = _valid_str(p.label)
            value = _lookup(variant, p.key)
            if p.all_bools:
                name += f"_{label}" if value else ""
            else:
                name += f"_{label}{_valid_str(value)}"
        return name.lstrip("_")

    def names(self) -> list[str]:
        """Variant names in :meth:`variants` order (seeds of one setting share a name)."""
        return [self.variant_name(flat) for flat in self._flat_variants()]

    def __len__(self) -> int:
        return math.prod(len(p.vals) for p in self._params)

    def __repr__(self) -> str:
        return f"ExperimentGrid(name={self.name!r}, keys={self.keys!r}, variants={len(self)})"

    def print(self, console: Console | None = None) -> None:
        """Show the grid as a table: keys, shorthands, values, and variant counts.

        Goes to ``console``, else to runlab's shared console unless terminal lines are silenced.
        """
        from runlab._console import get_console, silenced

        if console is None:
            if silenced():
                return
            console = get_console()
        console.print(self._table())

    def _table(self) -> Any:
        from rich.table import Table

        without_seeds = math.prod(len(p.vals) for p in self._params if p.key != "seed")
        title = f"ExperimentGrid {self.name}" if self.name else "ExperimentGrid"
        caption = f"{len(self)} variants; {without_seeds} not counting seeds"
        table = Table(title=title, caption=caption)
        table.add_column("key")
        table.add_column("shorthand")
        table.add_column("values")
        for p in self._params:
            shorthand = "(none)" if p.shorthand == "" else (p.shorthand or "")
            values = ", ".join(_show(v) for v in p.vals)
            table.add_row(p.key, shorthand, values)
        return table

    def _flat_variants(self) -> Iterator[dict[str, Any]]:
        keys = self.keys
        for combo in itertools.product(*(p.vals for p in self._params)):
            yield dict(zip(keys, combo, strict=True))


def default_shorthand(key: str) -> str:
    """Spinning Up's shorthand: first three characters of each ``:``-part, alphanumerics only.

    >>> default_shorthand("ac_kwargs:hidden_sizes")
    'ac-hid'
    """
    return "-".join(_NON_ALNUM.sub("", part[:3]) for part in key.split(":"))


def setup_logger_kwargs(
    exp_name: str,
    seed: int | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    datestamp: bool = False,
) -> dict[str, str]:
    """Spinning Up's logger arguments: ``{"output_dir": ..., "exp_name": exp_name}``.

    ``output_dir`` is ``D/exp``; with a seed ``D/exp/exp_s<seed>``; with a datestamp (or the
    ``force_datestamp`` setting) ``D/YYYY-MM-DD_exp`` and
    ``D/YYYY-MM-DD_exp/YYYY-MM-DD_HH-MM-SS-exp_s<seed>``. ``D`` is ``data_dir``, else the
    ``data_dir`` setting (``RUNLAB_DATA_DIR``, default ``./data``).

    >>> setup_logger_kwargs("ppo", seed=3, data_dir="out")
    {'output_dir': 'out/ppo/ppo_s3', 'exp_name': 'ppo'}
    """
    settings = Settings.resolve(data_dir=None if data_dir is None else os.fspath(data_dir))
    datestamp = datestamp or settings.force_datestamp
    now = _now()
    relpath = (time.strftime("%Y-%m-%d_", now) if datestamp else "") + exp_name
    if seed is not None:
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S-", now) if datestamp else ""
        relpath = os.path.join(relpath, f"{stamp}{exp_name}_s{seed}")
    return {"output_dir": os.path.join(settings.data_dir, relpath), "exp_name": exp_name}


def _now() -> time.struct_time:
    # One reading for both stamps, so the two parts cannot straddle midnight.
    return time.localtime()


def _valid_str(value: Any) -> str:
    if hasattr(value, "__name__"):
        return _valid_str(value.__name__)
    if isinstance(value, (list, tuple)):
        return "-".join(_valid_str(v) for v in value)
    return _INVALID_CHARS.sub("-", str(value).lower())


def _show(value: Any) -> str:
    name = getattr(value, "__name__", None)
    return name if isinstance(name, str) else repr(value)


def _lookup(variant: Mapping[str, Any], key: str) -> Any:
    if key in variant:
        return variant[key]
    head, _, rest = key.partition(":")
    if not rest or not isinstance(variant.get(head), Mapping):
        raise KeyError(f"variant has no value for key {key!r}")
    return _lookup(variant[head], rest)


def _unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        head, _, rest = key.partition(":")
        if rest:
            if head in out:
                raise ValueError(f"{_COLLISION} {head!r} has a value and also nested key {key!r}")
            nested.setdefault(head, {})[rest] = value
        else:
            if key in nested:
                raise ValueError(f"{_COLLISION} {key!r} has a value and also nested keys under it")
            out[key] = value
    for head, sub in nested.items():
        out[head] = _unflatten(sub)
    # Keep the add order of heads: a nested head sits where its first key was added.
    order = list(dict.fromkeys(k.partition(":")[0] for k in flat))
    return {k: out[k] for k in order}


def _warn_pitfall(key: str, values: tuple[Any, ...]) -> None:
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    if len(values) >= 2 and ints and len(set(values)) < len(values):
        warnings.warn(
            f"add({key!r}, {list(values)!r}) gives {len(values)} values, with repeats; for one "
            f"list value write [{list(values)!r}]",
            RunlabWarning,
            stacklevel=3,
        )
