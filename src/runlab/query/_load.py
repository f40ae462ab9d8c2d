"""Entry points that make views: ``runlab.runs``, ``Run.load`` and ``Run[Config, Impl].load``.

>>> import runlab, tempfile
>>> root = tempfile.mkdtemp()
>>> with runlab.init(project="demo", dir=root, config={"lr": 0.1},
...                  settings={"quiet": True, "capture_output": False}) as run:
...     run.log({"loss": 0.5})
>>> rc = runlab.runs(dir=root)
>>> rc.to_list("lr")
[0.1]
>>> runlab.Run.load(rc[0].dir).get("lr")
0.1
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import importlib.util
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast, overload

from runlab._bulk import paused_gc
from runlab._errors import RunNotFound, StorageError
from runlab.query._collection import RunCollection
from runlab.query._view import BaseRunView, ImplFactory
from runlab.storage._layout import RUN_JSON
from runlab.storage._store import RunStore

PathLike = str | os.PathLike[str]
_MLFLOW = "runlab.query._mlflow"


def runs(project: str | None = None, *, dir: PathLike | None = None) -> RunCollection:
    """Every run of the store (``dir``, else ``RUNLAB_DIR``, else ``./runlab``), newest first.

    Args:
        project: only this project's runs.
        dir: the store directory.
    """
    from runlab.query._api import RunView

    store = _open_store(dir)
    with paused_gc():
        records = store.list_runs(project=project)
        return RunCollection([RunView._listed(record, store.runs_dir) for record in records])


_stores: dict[str, RunStore] = {}
_stores_lock = threading.Lock()


def _open_store(dir: PathLike | None) -> RunStore:
    """The process's open store for a directory, kept between ``runs()`` calls.

    Opening a catalog (engine, schema check) costs tens of milliseconds, and a kept store's
    sync is throttled (``runlab.storage._store.SYNC_INTERVAL``), so a notebook calling
    ``runs()`` in a loop does not pay for either each time. New, changed and removed runs
    still show: each call syncs unless the previous sync is younger than the throttle.
    """
    from runlab._settings import Settings

    root = Settings.resolve(dir=None if dir is None else os.fspath(dir)).dir
    key = os.path.abspath(root)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = RunStore(root)
        return store


class TypedViews:
    """What ``Run[Config]`` / ``Run[Config, Impl]`` return: ``load`` gives typed views.

    ``Config`` must be a dataclass (nested dataclasses allowed); ``Impl``, when given, is the
    default impl factory (``Impl(artifacts_dir)`` or ``Impl(artifacts_dir, cfg)``).
    """

    def __init__(self, config_type: type | None, impl_type: ImplFactory | None = None) -> None:
        self.config_type = config_type
        self.impl_type = impl_type

    def __repr__(self) -> str:
        names = [getattr(t, "__name__", repr(t)) for t in (self.config_type, self.impl_type) if t]
        return f"Run[{', '.join(names)}]"

    @overload
    def load(  # type: ignore[overload-overlap]
        self, source: PathLike | BaseRunView, impl_factory: ImplFactory | None = None
    ) -> BaseRunView: ...
    @overload
    def load(
        self, source: Iterable[PathLike | BaseRunView], impl_factory: ImplFactory | None = None
    ) -> RunCollection: ...

    def load(
        self,
        source: PathLike | BaseRunView | Iterable[PathLike | BaseRunView],
        impl_factory: ImplFactory | None = None,
    ) -> BaseRunView | RunCollection:
        """One typed view for a path, a :class:`RunCollection` of them for an iterable."""
        return load(source, impl_factory, config_type=self.config_type, impl_type=self.impl_type)


def typed_views(params: Any) -> TypedViews:
    """``Run[params]``: ``Config`` or ``(Config, Impl)``."""
    args = params if isinstance(params, tuple) else (params,)
    if not 1 <= len(args) <= 2:
        raise TypeError(f"Run[...] takes Config or Config, Impl; got {len(args)} parameters")
    config_type = args[0]
    if (
        config_type is not None
        and config_type is not Any
        and not dataclasses.is_dataclass(config_type)
    ):
        raise TypeError(f"Run[Config]: Config must be a dataclass, not {config_type!r}")
    impl = args[1] if len(args) == 2 else None
    return TypedViews(None if config_type is Any else cast(type, config_type), impl)


@overload
def load(  # type: ignore[overload-overlap]
    source: PathLike | BaseRunView,
    impl_factory: ImplFactory | None = None,
    *,
    config_type: type | None = None,
    impl_type: ImplFactory | None = None,
) -> BaseRunView: ...
@overload
def load(
    source: Iterable[PathLike | BaseRunView],
    impl_factory: ImplFactory | None = None,
    *,
    config_type: type | None = None,
    impl_type: ImplFactory | None = None,
) -> RunCollection: ...


def load(
    source: PathLike | BaseRunView | Iterable[PathLike | BaseRunView],
    impl_factory: ImplFactory | None = None,
    *,
    config_type: type | None = None,
    impl_type: ImplFactory | None = None,
) -> BaseRunView | RunCollection:
    """A view of the run at a path, or a :class:`RunCollection` for an iterable of paths.

    A path is a runlab run directory (holding ``run.json``) or an MLflow run directory
    (holding ``meta.yaml``). Views already made are accepted too (copied, then typed).

    Raises:
        RunNotFound: a path is neither kind of run directory.
        StorageError: a ``run.json`` cannot be read.
    """
    factory = impl_factory if impl_factory is not None else impl_type
    if isinstance(source, (str, os.PathLike, BaseRunView)):
        return _one(source, config_type, factory)
    return RunCollection(_one(item, config_type, factory) for item in source)


def _one(
    source: PathLike | BaseRunView, config_type: type | None, factory: ImplFactory | None
) -> BaseRunView:
    view = copy.copy(source) if isinstance(source, BaseRunView) else _read(Path(source))
    view._bind(config_type, factory)
    return view


def _read(path: Path) -> BaseRunView:
    if (path / RUN_JSON).is_file():
        from runlab.query._api import RunView
        from runlab.storage._store import _load_record

        try:
            record = _load_record(path / RUN_JSON, path.name)
        except (OSError, ValueError, TypeError) as exc:
            raise StorageError(f"cannot read {path / RUN_JSON}: {exc}") from exc
        return RunView(record, path)
    if (path / "meta.yaml").is_file():
        if importlib.util.find_spec(_MLFLOW) is None:
            raise RunNotFound(
                f"{path} is an MLflow run directory, but this runlab cannot read them"
            )
        loader = importlib.import_module(_MLFLOW).load_mlflow_run
        view: BaseRunView = loader(path)
        return view
    raise RunNotFound(
        f"{path} is not a run directory: it holds neither run.json (runlab) nor meta.yaml (MLflow)"
    )
