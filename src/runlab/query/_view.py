"""The read-only run view every source shares: primitives from a subclass, the rest derived.

A subclass (``RunView`` for runlab run directories, ``MlflowRunView`` for MLflow ones) provides
the primitives listed on :class:`BaseRunView`; the base derives ``info``, ``cfg`` (optionally a
typed dataclass), ``impl``, ``get``/``view[key]`` and ``to_dict`` from them, so analysis code
reads every kind of run the same way.
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlab._errors import ConfigMismatchError

if TYPE_CHECKING:
    import polars as pl

    from runlab.query._load import TypedViews


class _Missing:
    """The type of :data:`MISSING`."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""The default of ``get``/``to_list``: no default, a missing key raises."""

ImplFactory = Callable[..., Any]
"""``factory(artifacts_dir)`` or ``factory(artifacts_dir, cfg)``: builds ``view.impl``."""


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """Who a run is and how it went: the fields ``get`` falls back to last."""

    run_id: str
    run_dir: Path
    job_name: str
    """The project (runlab) or experiment name (MLflow)."""
    status: str
    start_time: float
    """Seconds since the epoch."""
    end_time: float | None


_INFO_FIELDS = frozenset(f.name for f in dataclasses.fields(RunInfo))
_VIEW_FIELDS = ("id", "name", "project", "tags", "created_at", "ended_at")
_SCOPES = ("config.", "summary.", "impl.", "info.")


class BaseRunView(abc.ABC):
    """A read-only view of one run, whatever recorded it.

    Subclasses provide the primitives ``id``, ``name``, ``project``, ``status``, ``created_at``,
    ``ended_at``, ``tags``, ``config`` (a nested dict, a fresh copy), ``summary`` (a dict, a
    fresh copy), ``dir`` and ``history(keys=None)``; they may override ``artifacts_dir``
    (``dir / "artifacts"``) and, to spare copies when thousands of runs are read, ``_raw_config``
    and ``_raw_summary`` (the stored dicts, which callers never mutate).

    Everything else is derived here:

    - ``info``: a frozen :class:`RunInfo`.
    - ``cfg``: the config; in a typed view (``Run[Config].load(...)``) an instance of the
      ``Config`` dataclass (nested dataclasses allowed), or :class:`runlab.ConfigMismatchError`
      naming the field that does not fit.
    - ``impl``: ``impl_factory(artifacts_dir)`` or ``impl_factory(artifacts_dir, cfg)``
      (chosen by the factory's signature), built on first use; ``None`` without a factory.
    - ``get(key, default)`` and ``view[key]``: see :meth:`get`.
    """

    __slots__ = ("_cfg", "_config_type", "_impl", "_impl_factory")

    def __init__(self) -> None:
        self._config_type: type | None = None
        self._impl_factory: ImplFactory | None = None
        self._cfg: Any = MISSING
        self._impl: Any = MISSING

    # -- primitives ------------------------------------------------------------------------------

    @property
    @abc.abstractmethod
    def id(self) -> str: ...

    @property
    @abc.abstractmethod
    def name(self) -> str: ...

    @property
    @abc.abstractmethod
    def project(self) -> str: ...

    @property
    @abc.abstractmethod
    def status(self) -> str:
        """The state readers show (a :class:`runlab.RunStatus` is a ``str``)."""

    @property
    @abc.abstractmethod
    def created_at(self) -> float: ...

    @property
    @abc.abstractmethod
    def ended_at(self) -> float | None: ...

    @property
    @abc.abstractmethod
    def tags(self) -> tuple[str, ...]: ...

    @property
    @abc.abstractmethod
    def config(self) -> dict[str, Any]: ...

    @property
    @abc.abstractmethod
    def summary(self) -> dict[str, Any]: ...

    @property
    @abc.abstractmethod
    def dir(self) -> Path: ...

    @abc.abstractmethod
    def history(self, keys: Iterable[str] | None = None) -> pl.DataFrame:
        """Logged metrics as a frame: ``step``, ``timestamp`` and one column per key."""

    @property
    def artifacts_dir(self) -> Path:
        return self.dir / "artifacts"

    def _raw_config(self) -> Mapping[str, Any]:
        return self.config

    def _raw_summary(self) -> Mapping[str, Any]:
        return self.summary

    # -- typing ----------------------------------------------------------------------------------

    def __class_getitem__(cls, params: Any) -> TypedViews:
        """``RunView[Config]`` / ``RunView[Config, Impl]``: a factory whose ``load`` types views."""
        from runlab.query._load import typed_views

        return typed_views(params)

    def _bind(self, config_type: type | None, impl_factory: ImplFactory | None) -> None:
        """Make this fresh view typed (called by the loaders before anyone reads it)."""
        self._config_type = config_type
        self._impl_factory = impl_factory
        self._cfg = MISSING
        self._impl = MISSING

    # -- derived ---------------------------------------------------------------------------------

    @property
    def info(self) -> RunInfo:
        return RunInfo(
            run_id=self.id,
            run_dir=self.dir,
            job_name=self.project,
            status=str(getattr(self.status, "value", self.status)),
            start_time=self.created_at,
            end_time=self.ended_at,
        )

    @property
    def cfg(self) -> Any:
        """The config: a dict, or an instance of the view's config dataclass.

        Raises:
            ConfigMismatchError: the config does not fit the dataclass (the field is named).
        """
        if self._cfg is MISSING:
            if self._config_type is None:
                self._cfg = self.config
            else:
                self._cfg = build_config(self._config_type, self._raw_config())
        return self._cfg

    @property
    def impl(self) -> Any:
        """What the impl factory built from ``artifacts_dir`` (and ``cfg``); None without one."""
        if self._impl is MISSING:
            factory = self._impl_factory
            if factory is None:
                return None
            if _wants_cfg(factory):
                self._impl = factory(self.artifacts_dir, self.cfg)
            else:
                self._impl = factory(self.artifacts_dir)
        return self._impl

    def get(self, key: str, default: Any = MISSING) -> Any:
        """The value of ``key``: config, then summary, then impl, then info.

        ``__`` in ``key`` means ``.``; dots walk nested config values (a key that itself holds
        dots is found too). The places are searched in this order:

        1. the config (the typed ``cfg`` in a typed view);
        2. the summary;
        3. an attribute of ``impl`` (dots walk attributes);
        4. the run's identity: ``run_id``, ``run_dir``, ``job_name``, ``status``, ``start_time``,
           ``end_time``, then ``id``, ``name``, ``project``, ``tags``, ``created_at``,
           ``ended_at``.

        A ``config.``, ``summary.``, ``impl.`` or ``info.`` prefix searches only that place.

        Args:
            key: the key.
            default: returned when the key is nowhere; a callable is called with the view.

        Raises:
            AttributeError: ``No such key: <key>``, when the key is nowhere and there is no default.
        """
        value = self._lookup(key.replace("__", "."))
        if value is not MISSING:
            return value
        if default is MISSING:
            raise AttributeError(f"No such key: {key}")
        return default(self) if callable(default) else default

    def __getitem__(self, key: str) -> Any:
        return self.get(key)

    def _lookup(self, key: str) -> Any:
        scope = None
        for prefix in _SCOPES:
            if key.startswith(prefix):
                scope, key = prefix[:-1], key[len(prefix) :]
                break
        if scope in (None, "config"):
            if self._config_type is None:
                value = _find(self._raw_config(), key)
            else:
                value = _find_attr(self.cfg, key)
            if value is not MISSING or scope is not None:
                return value
        if scope in (None, "summary"):
            value = _find(self._raw_summary(), key)
            if value is not MISSING or scope is not None:
                return value
        if scope in (None, "impl"):
            impl = self.impl
            value = MISSING if impl is None else _find_attr(impl, key)
            if value is not MISSING or scope is not None:
                return value
        if key in _INFO_FIELDS:
            return getattr(self.info, key)
        if key in _VIEW_FIELDS:
            return getattr(self, key)
        return MISSING

    def to_dict(self, flatten: bool = True) -> dict[str, Any]:
        """Identity, config and summary as one dict.

        Keys: ``id``, ``name``, ``project``, ``status``, ``created_at``, ``ended_at``, then the
        config (dotted keys when ``flatten``, else one nested ``config`` dict is spread), then
        the summary; a summary key that collides with an earlier one is prefixed ``summary.``.
        """
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "project": self.project,
            "status": str(getattr(self.status, "value", self.status)),
            "created_at": self.created_at,
            "ended_at": self.ended_at,
        }
        config = self.config
        out.update(flatten_dict(config) if flatten else config)
        for key, value in self.summary.items():
            out[f"summary.{key}" if key in out else key] = value
        return out


# -- helpers ---------------------------------------------------------------------------------------


def _find(data: Mapping[str, Any], key: str) -> Any:
    if key in data:
        return data[key]
    if "." not in key:
        return MISSING
    node: Any = data
    for part in key.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
    return node


def _find_attr(obj: Any, key: str) -> Any:
    node = obj
    for part in key.split("."):
        if isinstance(node, Mapping):
            node = node.get(part, MISSING)
        else:
            node = getattr(node, part, MISSING)
        if node is MISSING:
            return MISSING
    return node


def flatten_dict(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level with dotted keys.

    >>> flatten_dict({"model": {"depth": 3}, "lr": 0.1})
    {'model.depth': 3, 'lr': 0.1}
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten_dict(value, f"{name}."))
        else:
            out[name] = value
    return out


def _wants_cfg(factory: ImplFactory) -> bool:
    """Whether ``factory`` takes a second positional argument (the config)."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return True
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 2


def build_config(config_type: type, data: Any, path: str = "") -> Any:
    """``data`` (a dict) as an instance of the dataclass ``config_type``, checked field by field.

    >>> @dataclasses.dataclass
    ... class Config:
    ...     depth: int
    ...     lr: float = 0.1
    >>> build_config(Config, {"depth": 3})
    Config(depth=3, lr=0.1)
    >>> try:
    ...     build_config(Config, {"depth": "deep"})
    ... except ConfigMismatchError as exc:
    ...     print(exc)
    config field 'depth' is a str ('deep'); Config expects int

    Raises:
        ConfigMismatchError: a field is missing, undeclared or of the wrong type.
    """
    where = path or "config"
    if not isinstance(data, Mapping):
        raise ConfigMismatchError(
            f"config field {where!r} is a {type(data).__name__} ({data!r}); "
            f"{config_type.__name__} expects a mapping of its fields"
        )
    hints = _hints(config_type)
    fields = {f.name: f for f in dataclasses.fields(config_type) if f.init}
    unknown = [key for key in data if key not in fields]
    if unknown:
        declared = ", ".join(fields) or "none"
        raise ConfigMismatchError(
            f"config field {_join(path, str(unknown[0]))!r} is not declared by "
            f"{config_type.__name__} (it declares: {declared})"
        )
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        full = _join(path, name)
        if name not in data:
            no_default = field.default is dataclasses.MISSING
            if no_default and field.default_factory is dataclasses.MISSING:
                raise ConfigMismatchError(
                    f"config field {full!r} is missing and {config_type.__name__}.{name} "
                    "has no default"
                )
            continue
        kwargs[name] = _convert(hints.get(name, Any), data[name], full, config_type)
    return config_type(**kwargs)


def _hints(config_type: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(config_type)
    except NameError:  # e.g. a class defined in a function under postponed annotations
        module = sys.modules.get(config_type.__module__)
        namespace = dict(vars(module)) if module is not None else {}
        hints: dict[str, Any] = {}
        for field in dataclasses.fields(config_type):
            holder = types.SimpleNamespace(__annotations__={"x": field.type})
            try:
                hints[field.name] = typing.get_type_hints(holder, namespace)["x"]
            except NameError:
                hints[field.name] = Any  # unresolvable: the value is taken as it is
        return hints


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _convert(hint: Any, value: Any, path: str, owner: type) -> Any:
    if hint is Any:
        return value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return build_config(hint, value, path)
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, path, owner)
            except ConfigMismatchError:
                continue
        return _mismatch(hint, value, path, owner)
    if origin is typing.Literal:
        if value in typing.get_args(hint):
            return value
        return _mismatch(hint, value, path, owner)
    if origin in (list, tuple, set, frozenset) and isinstance(value, (list, tuple)):
        return origin(value)
    if origin is dict and isinstance(value, Mapping):
        return dict(value)
    kind = origin or hint
    if not isinstance(kind, type):
        return value  # a hint too rich to check here (a TypeVar, a Protocol alias...)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, bool):
        return _mismatch(hint, value, path, owner)
    if kind in (tuple, set, frozenset) and isinstance(value, list):
        return kind(value)
    if isinstance(value, kind):
        return value
    return _mismatch(hint, value, path, owner)


def _mismatch(hint: Any, value: Any, path: str, owner: type) -> Any:
    shown = getattr(hint, "__name__", None) or repr(hint)
    raise ConfigMismatchError(
        f"config field {path!r} is a {type(value).__name__} ({value!r}); "
        f"{owner.__name__} expects {shown}"
    )
