"""``run.config`` and ``run.summary``: mappings that persist themselves when changed."""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from runlab._errors import RunlabError
from runlab.storage._format import Columns

SummaryKind = Literal["min", "max", "mean", "first", "last", "none"]
SUMMARY_KINDS: tuple[str, ...] = get_args(SummaryKind)
Goal = Literal["minimize", "maximize"]
GOALS: tuple[str, ...] = get_args(Goal)


def _plain(value: Any) -> Any:
    if isinstance(value, Config):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class Config(MutableMapping[str, Any]):
    """A run's configuration: a nested mapping with attribute access, saved on every change.

    Example:
        >>> cfg = Config({"lr": 3e-4, "optim": {"name": "adam"}})
        >>> cfg.optim.name
        'adam'
        >>> cfg.update(batch=64); cfg["batch"]
        64
    """

    __slots__ = ("_data", "_on_change")

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        on_change: Callable[[], None] | None = None,
        *,
        _shared: dict[str, Any] | None = None,
    ) -> None:
        object.__setattr__(self, "_data", _shared if _shared is not None else {})
        object.__setattr__(self, "_on_change", on_change)
        if data:
            for k, v in _plain(data).items():
                self._data[k] = v

    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        if isinstance(value, dict):
            return Config(on_change=self._on_change, _shared=value)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"config keys must be str, not {type(key).__name__} ({key!r})")
        self._data[key] = _plain(value)
        self._changed()

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._changed()

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            raise AttributeError(f"config keys may not start with '_' ({name!r})")
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Merge keys (one save for the whole update)."""
        for k, v in dict(*args, **kwargs).items():
            if not isinstance(k, str):
                raise TypeError(f"config keys must be str, not {type(k).__name__} ({k!r})")
            self._data[k] = _plain(v)
        self._changed()

    def to_dict(self) -> dict[str, Any]:
        """A deep, plain copy."""
        return _plain(self._data)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"Config({self._data!r})"

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()


@dataclass(frozen=True)
class MetricDefinition:
    """How one metric (or glob of metrics) is summarised and plotted."""

    name: str
    summary: SummaryKind = "last"
    goal: Goal | None = None
    step_metric: str | None = None
    graph: str | None = None
    """Display hint from ``run.add_metric`` (line, bar, scatter, histogram, gaussian, 3d)."""


class SummaryTracker:
    """Keeps each key's summary value up to date from drained batches (writer thread)."""

    def __init__(self) -> None:
        self.computed: dict[str, Any] = {}
        self.explicit: dict[str, Any] = {}
        self.definitions: dict[str, MetricDefinition] = {}
        self._rules: dict[str, MetricDefinition | None] = {}
        self._mean: dict[str, tuple[float, int]] = {}

    def define(self, definition: MetricDefinition) -> None:
        self.definitions[definition.name] = definition
        self._rules.clear()

    def rule(self, key: str) -> MetricDefinition | None:
        try:
            return self._rules[key]
        except KeyError:
            found = self.definitions.get(key)
            if found is None:
                for pattern, d in self.definitions.items():
                    if fnmatch.fnmatchcase(key, pattern):
                        found = d
                        break
            self._rules[key] = found
            return found

    def update(self, cols: Columns) -> None:
        """Fold one drained batch (``transpose``'d columns) into the summary."""
        for key, (values, _rows) in cols.items():
            rule = self.rule(key) if self.definitions else None
            if rule is None or rule.summary == "last":
                self.computed[key] = values[-1]
            elif rule.summary != "none":
                self._fold(key, rule.summary, values)
            self.explicit.pop(key, None)

    def _fold(self, key: str, kind: str, values: list[Any]) -> None:
        finite = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
        old = self.computed.get(key)
        if kind == "first":
            if key not in self.computed:
                self.computed[key] = values[0]
        elif kind in ("min", "max") and finite:
            best = min(finite) if kind == "min" else max(finite)
            if old is None or (best < old if kind == "min" else best > old):
                self.computed[key] = best
        elif kind == "mean" and finite:
            total, count = self._mean.get(key, (0.0, 0))
            total, count = total + float(sum(finite)), count + len(finite)
            self._mean[key] = (total, count)
            self.computed[key] = total / count

    def merged(self) -> dict[str, Any]:
        out = {k: v for k, v in self.computed.items() if not self._hidden(k)}
        out.update(self.explicit)
        return out

    def _hidden(self, key: str) -> bool:
        rule = self.rule(key)
        return rule is not None and rule.summary == "none"


class Summary(MutableMapping[str, Any]):
    """``run.summary``: each metric's summary value (last by default); settable by the user.

    Reading it first flushes what was logged, so it reflects every ``log()`` before it.
    A value set by the user stands until the key is logged again.
    """

    def __init__(
        self, tracker: SummaryTracker, sync: Callable[[], None], on_change: Callable[[], None]
    ) -> None:
        self._tracker = tracker
        self._sync = sync
        self._on_change = on_change

    def _view(self) -> dict[str, Any]:
        self._sync()
        return self._tracker.merged()

    def __getitem__(self, key: str) -> Any:
        return self._view()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"summary keys must be str, not {type(key).__name__}")
        self._sync()
        self._tracker.explicit[key] = _plain(value)
        self._on_change()

    def __delitem__(self, key: str) -> None:
        self._sync()
        found = self._tracker.explicit.pop(key, None) is not None
        found = self._tracker.computed.pop(key, None) is not None or found
        if not found:
            raise KeyError(key)
        self._on_change()

    def __iter__(self) -> Iterator[str]:
        return iter(self._view())

    def __len__(self) -> int:
        return len(self._view())

    def __repr__(self) -> str:
        return f"Summary({self._view()!r})"


def check_definition(
    name: str, summary: str, goal: str | None, step_metric: str | None
) -> MetricDefinition:
    if not isinstance(name, str) or not name:
        raise RunlabError(f"define_metric name must be a non-empty str, not {name!r}")
    if summary not in SUMMARY_KINDS:
        raise ValueError(
            f"define_metric({name!r}, summary={summary!r}): summary must be one of "
            f"{', '.join(SUMMARY_KINDS)}"
        )
    if goal is not None and goal not in GOALS:
        raise ValueError(
            f"define_metric({name!r}, goal={goal!r}): goal must be one of {', '.join(GOALS)}"
        )
    return MetricDefinition(name, summary, goal, step_metric)  # type: ignore[arg-type]


def definitions_json(tracker: SummaryTracker) -> dict[str, dict[str, Any]]:
    """The tracker's metric definitions as ``run.json`` keeps them (its ``metrics`` field)."""
    return {
        k: {
            "summary": d.summary,
            "goal": d.goal,
            "step_metric": d.step_metric,
            "graph": d.graph,
        }
        for k, d in tracker.definitions.items()
    }
