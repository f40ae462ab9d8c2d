"""MLflow run directories read as runlab run views (no ``mlflow`` import needed).

MLflow's file store keeps one directory per run, ``mlruns/<experiment_id>/<run_id>/``::

    meta.yaml            run_id, run_name, status (int), start_time / end_time (ms), ...
    params/<key>         one file per param, the value as text (``str(value)``)
    metrics/<key>        one line per point: ``<timestamp_ms> <value> <step>``
    tags/<key>           one file per tag (``mlflow.runName``, ``mlflow.user``, user tags)
    artifacts/           logged files; Hydra jobs keep ``artifacts/.hydra/config.yaml`` here

Keys containing ``/`` are nested directories. ``<experiment_id>/meta.yaml`` holds the
experiment's ``name``, which a view shows as its ``project``.
"""

from __future__ import annotations

import ast
import copy
import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from runlab._errors import RunNotFound, StorageError
from runlab._status import RunStatus
from runlab.query._view import BaseRunView

if TYPE_CHECKING:
    import polars as pl

    from runlab.storage._reader import KeySeries

ExperimentNames: TypeAlias = "str | Iterable[str] | Callable[[str], bool] | None"

META_FILE = "meta.yaml"
ARTIFACTS = "artifacts"
HYDRA_CONFIG = Path(".hydra") / "config.yaml"
SKIPPED_EXPERIMENTS = frozenset({".trash", "0"})
"""``.trash`` holds deleted experiments; ``0`` is MLflow's ``Default`` experiment."""

# mlflow.entities.RunStatus: RUNNING=1, SCHEDULED=2, FINISHED=3, FAILED=4, KILLED=5.
# runlab has no "scheduled": a scheduled run has not ended, so it reads as running.
MLFLOW_STATUS: dict[int | str, RunStatus] = {
    1: RunStatus.RUNNING,
    2: RunStatus.RUNNING,
    3: RunStatus.FINISHED,
    4: RunStatus.FAILED,
    5: RunStatus.KILLED,
    "RUNNING": RunStatus.RUNNING,
    "SCHEDULED": RunStatus.RUNNING,
    "FINISHED": RunStatus.FINISHED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.KILLED,
}

SYSTEM_TAG_PREFIX = "mlflow."


def _read_yaml(path: Path) -> Any:
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except yaml.YAMLError as exc:
        raise StorageError(f"cannot parse {path}: {exc}") from exc


def experiment_name(experiment_dir: Path) -> str:
    """The experiment's ``name`` from its ``meta.yaml``, else the directory name (its id)."""
    try:
        meta = _read_yaml(experiment_dir / META_FILE)
    except (OSError, StorageError):
        return experiment_dir.name
    name = meta.get("name") if isinstance(meta, dict) else None
    return str(name) if name is not None else experiment_dir.name


def _name_matcher(experiment_names: ExperimentNames) -> Callable[[str], bool]:
    if experiment_names is None:
        return lambda name: True
    if isinstance(experiment_names, str):
        pattern = experiment_names
        return lambda name: fnmatch.fnmatchcase(name, pattern)
    if callable(experiment_names):
        return experiment_names
    patterns = list(experiment_names)
    return lambda name: any(fnmatch.fnmatchcase(name, p) for p in patterns)


def iter_run_dirs(
    tracking_dir: str | Path, experiment_names: ExperimentNames = None
) -> Iterator[Path]:
    """Yield the run directories of an MLflow tracking directory (``mlruns``), sorted.

    Skips ``.trash``, the ``Default`` experiment (id ``0``) and directories without an
    ``artifacts/`` folder. Runs come by experiment directory, then run directory, both sorted
    by name.

    Args:
        tracking_dir: the ``mlruns`` directory.
        experiment_names: which experiments, by the ``name`` in their ``meta.yaml``: all when
            None; a shell-style pattern (``"transformer_*"``, an exact name matches itself); a
            list of patterns (any may match); or a predicate called with the name.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> root = Path(tempfile.mkdtemp())
        >>> (root / "1" / "abc" / "artifacts").mkdir(parents=True)
        >>> _ = (root / "1" / "meta.yaml").write_text("name: exp-a\\n")
        >>> [p.name for p in iter_run_dirs(root, "exp-*")]
        ['abc']
    """
    root = Path(tracking_dir)
    if not root.is_dir():
        return
    matches = _name_matcher(experiment_names)
    for exp_dir in sorted(root.iterdir()):
        if exp_dir.name in SKIPPED_EXPERIMENTS or not exp_dir.is_dir():
            continue
        if not matches(experiment_name(exp_dir)):
            continue
        for run_dir in sorted(exp_dir.iterdir()):
            if (run_dir / ARTIFACTS).is_dir():
                yield run_dir


def is_mlflow_run_dir(path: str | Path) -> bool:
    """True when ``path`` looks like an MLflow run directory (a ``meta.yaml`` with ``run_id``)."""
    meta = Path(path) / META_FILE
    if not meta.is_file():
        return False
    try:
        data = _read_yaml(meta)
    except (OSError, StorageError):
        return False
    return isinstance(data, dict) and ("run_id" in data or "run_uuid" in data)


def load_mlflow_run(path: str | Path) -> MlflowRunView:
    """A read-only view of the MLflow run directory ``path``.

    Raises:
        RunNotFound: ``path`` has no ``meta.yaml``.
        StorageError: ``meta.yaml`` (or Hydra's ``config.yaml``) is not valid YAML.
    """
    return MlflowRunView(Path(path))


# -- file contents ---------------------------------------------------------------------------

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)", re.IGNORECASE)
_LITERALS: dict[str, Any] = {
    "True": True,
    "true": True,
    "False": False,
    "false": False,
    "None": None,
    "null": None,
}


def parse_param(text: str) -> Any:
    """An MLflow param value (``str(value)`` of what was logged) back as a Python value.

    ``"3"`` → 3, ``"0.001"`` / ``"1e-4"`` / ``"nan"`` → float, ``"True"``/``"true"`` → True,
    ``"None"``/``"null"`` → None, ``"[1, 2]"`` / ``"{'a': 1}"`` → list / dict (read with
    ``ast.literal_eval``, never ``eval``; tuples become lists). Anything else stays a string.

    Example:
        >>> [parse_param(t) for t in ["3", "1e-4", "True", "None", "[1, 2]", "adam"]]
        [3, 0.0001, True, None, [1, 2], 'adam']
    """
    if text in _LITERALS:
        return _LITERALS[text]
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text[:1] in "[({" and text[-1:] in "])}":
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return text
        return _lists(value)
    return text


def _lists(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    return value


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` → ``{"a": {"b": 1}}``; a key whose prefix already holds a value stays flat.

    Example:
        >>> nest({"lr": 0.1, "model.depth": 4, "model.act": "relu"})
        {'lr': 0.1, 'model': {'act': 'relu', 'depth': 4}}
    """
    out: dict[str, Any] = {}
    for key in sorted(flat, key=lambda k: (k.count("."), k)):
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                node = out
                parts = [key]
                break
            node = child
        node[parts[-1]] = flat[key]
    return out


def _read_key_files(folder: Path) -> dict[str, str]:
    """``{key: text}`` for every file under ``folder``; nested paths give ``a/b`` keys."""
    if not folder.is_dir():
        return {}
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            out[path.relative_to(folder).as_posix()] = path.read_text(encoding="utf-8")
    return out


def read_metric(path: Path) -> list[tuple[int, float, float]]:
    """A metric file's points as ``(step, timestamp_seconds, value)`` in file order.

    Lines are ``<timestamp_ms> <value> <step>``; MLflow before 1.0 wrote no step (read as 0).
    """
    points: list[tuple[int, float, float]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        try:
            ts, value = int(fields[0]), float(fields[1])
            step = int(fields[2]) if len(fields) > 2 else 0
        except (ValueError, IndexError) as exc:
            raise StorageError(
                f"{path}:{number}: expected '<timestamp_ms> <value> <step>', got {line!r}"
            ) from exc
        points.append((step, ts / 1000.0, value))
    return points


def _last_per_step(points: list[tuple[int, float, float]]) -> list[tuple[int, float, float]]:
    """One point per step, the latest (by timestamp, then file order), sorted by step."""
    by_step: dict[int, tuple[int, float, float]] = {}
    for point in sorted(points, key=lambda p: (p[0], p[1])):  # stable: file order breaks ties
        by_step[point[0]] = point
    return list(by_step.values())


def _ms_to_s(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return int(value) / 1000.0


# -- the view --------------------------------------------------------------------------------


class MlflowRunView(BaseRunView):
    """A read-only view of one MLflow run directory, with the attributes of runlab's run views.

    * ``id``: ``run_id`` from ``meta.yaml``; ``name``: ``run_name`` (else the
      ``mlflow.runName`` tag, else the id); ``project``: the experiment's name.
    * ``status``: MLflow's status (1 running, 2 scheduled, 3 finished, 4 failed, 5 killed, or
      those names) as a ``RunStatus``; ``scheduled`` reads as ``running``.
    * ``created_at`` / ``ended_at``: ``start_time`` / ``end_time`` in seconds since the epoch
      (``ended_at`` is None while running).
    * ``config``: ``artifacts/.hydra/config.yaml`` when present, else the params, each value
      read by ``parse_param`` and dotted keys nested (``model.depth`` → ``{"model": {...}}``).
    * ``summary``: each metric's last value (highest step, then latest timestamp).
    * ``history(keys)``: ``step``, ``timestamp`` (seconds) and one column per key, one row per
      step; where a key has several points at one step the latest one is kept.
    * ``tags``: user tags (those not starting with ``mlflow.``) as ``"key=value"``, or ``"key"``
      when the value is empty, sorted; ``mlflow_tags`` has every tag as a dict.

    Everything but ``meta.yaml`` is read on first use and cached; views are snapshots.
    ``info``, ``cfg``, ``impl``, ``get`` and ``to_dict`` come from :class:`BaseRunView`.
    """

    __slots__ = ("_config", "_dir", "_meta", "_metrics", "_project", "_summary", "_tags")

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        meta_path = run_dir / META_FILE
        if not meta_path.is_file():
            raise RunNotFound(f"not an MLflow run directory (no {META_FILE}): {run_dir}")
        meta = _read_yaml(meta_path)
        if not isinstance(meta, dict):
            raise StorageError(f"{meta_path}: expected a mapping, got {type(meta).__name__}")
        self._dir = run_dir
        self._meta: dict[str, Any] = meta
        self._project: str | None = None
        self._tags: dict[str, str] | None = None
        self._config: dict[str, Any] | None = None
        self._metrics: dict[str, list[tuple[int, float, float]]] | None = None
        self._summary: dict[str, float] | None = None

    def __repr__(self) -> str:
        return (
            f"MlflowRunView(id={self.id!r}, name={self.name!r}, project={self.project!r}, "
            f"status={self.status.value!r})"
        )

    @property
    def dir(self) -> Path:
        return self._dir

    @property
    def artifacts_dir(self) -> Path:
        return self._dir / ARTIFACTS

    @property
    def meta(self) -> dict[str, Any]:
        """A copy of the run's ``meta.yaml``."""
        return dict(self._meta)

    @property
    def id(self) -> str:
        run_id = self._meta.get("run_id") or self._meta.get("run_uuid")
        return str(run_id) if run_id else self._dir.name

    @property
    def name(self) -> str:
        name = self._meta.get("run_name") or self.mlflow_tags.get("mlflow.runName")
        return str(name) if name else self.id

    @property
    def project(self) -> str:
        if self._project is None:
            self._project = experiment_name(self._dir.parent)
        return self._project

    @property
    def status(self) -> RunStatus:
        raw = self._meta.get("status")
        status = None
        if isinstance(raw, str):
            status = MLFLOW_STATUS.get(raw.upper())
        elif isinstance(raw, int):
            status = MLFLOW_STATUS.get(raw)
        if status is None:
            raise StorageError(
                f"{self._dir / META_FILE}: unknown MLflow status {raw!r} "
                "(known: 1-5, RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)"
            )
        return status

    @property
    def created_at(self) -> float:
        start = _ms_to_s(self._meta.get("start_time"))
        return start if start is not None else (self._dir / META_FILE).stat().st_mtime

    @property
    def ended_at(self) -> float | None:
        return _ms_to_s(self._meta.get("end_time"))

    @property
    def mlflow_tags(self) -> dict[str, str]:
        """Every tag, system (``mlflow.*``) and user, as ``{key: value}``."""
        if self._tags is None:
            self._tags = _read_key_files(self._dir / "tags")
        return dict(self._tags)

    @property
    def tags(self) -> tuple[str, ...]:
        tags = self.mlflow_tags
        return tuple(
            f"{k}={v}" if v else k
            for k, v in sorted(tags.items())
            if not k.startswith(SYSTEM_TAG_PREFIX)
        )

    @property
    def params(self) -> dict[str, str]:
        """The params as MLflow stored them: flat keys, text values."""
        return _read_key_files(self._dir / "params")

    @property
    def config(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self._raw_config()))

    def _raw_config(self) -> Mapping[str, Any]:
        if self._config is None:
            self._config = self._read_config()
        return self._config

    def _read_config(self) -> dict[str, Any]:
        hydra = self.artifacts_dir / HYDRA_CONFIG
        if hydra.is_file():
            data = _read_yaml(hydra)
            if data is None:
                return {}
            if not isinstance(data, dict):
                raise StorageError(f"{hydra}: expected a mapping, got {type(data).__name__}")
            return data
        return nest({k: parse_param(v) for k, v in self.params.items()})

    def _points(self) -> dict[str, list[tuple[int, float, float]]]:
        if self._metrics is None:
            folder = self._dir / "metrics"
            self._metrics = {}
            if folder.is_dir():
                for path in sorted(folder.rglob("*")):
                    if path.is_file():
                        key = path.relative_to(folder).as_posix()
                        self._metrics[key] = _last_per_step(read_metric(path))
        return self._metrics

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self._raw_summary())

    def _raw_summary(self) -> Mapping[str, Any]:
        if self._summary is None:
            self._summary = {k: pts[-1][2] for k, pts in self._points().items() if pts}
        return self._summary

    def history_keys(self) -> list[str]:
        """Every metric key, sorted."""
        return sorted(self._points())

    def history(self, keys: Iterable[str] | None = None) -> pl.DataFrame:
        """The metrics as a frame: ``step``, ``timestamp`` (seconds), one column per key.

        Keys never logged give all-null columns, as in runlab's own runs.
        """
        from runlab.storage._reader import history_frame

        names = None if keys is None else list(keys)
        wanted = self.history_keys() if names is None else names
        points = self._points()
        series = {k: _series(k, points[k]) for k in wanted if k in points}
        return history_frame(series, wanted)


def _series(key: str, points: list[tuple[int, float, float]]) -> KeySeries:
    import numpy as np

    from runlab.storage._reader import KeySeries

    return KeySeries(
        key,
        np.array([p[0] for p in points], dtype=np.int64),
        np.array([p[1] for p in points], dtype=np.float64),
        np.array([p[2] for p in points], dtype=np.float64),
    )


__all__ = [
    "MlflowRunView",
    "is_mlflow_run_dir",
    "iter_run_dirs",
    "load_mlflow_run",
    "parse_param",
]
