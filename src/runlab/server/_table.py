"""The runs table: rows built once per run state, then filtered, sorted and serialized fast.

A row is built from a catalog :class:`RunRecord` (never from ``run.json`` directly, so a team
server's catalog serves it the same way) and kept while the run's catalog signature stays the
same. A finished run's row is serialized once; only running runs (whose derived status and
runtime move with the clock) are serialized per request. Filters are the query package's filter
language applied to :class:`RunView` objects, and group keys are looked up with the same
resolver, so the table answers exactly what ``runlab.query`` answers.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlab._errors import StorageError
from runlab._status import RunStatus
from runlab.query._api import RunView
from runlab.query._filter import Filter, parse, parse_key, resolve
from runlab.storage._layout import RunRecord
from runlab.storage._store import SYNC_INTERVAL, RunStore

SORTABLE = (
    "id",
    "name",
    "project",
    "status",
    "group",
    "job_type",
    "created_at",
    "ended_at",
    "heartbeat_at",
    "runtime",
    "notes",
    "tags",
)
"""Run fields the table sorts by, besides ``config.<key>`` and ``summary.<key>``."""


def dumps(data: Any) -> str:
    """Compact JSON; non-finite floats must already be replaced (see :func:`json_safe`)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as the strings ``NaN``, ``Infinity``, ``-Infinity``
    (JSON has no such numbers), recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else _nonfinite(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _nonfinite(value: float) -> str:
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


def flat_scalars(
    mapping: Mapping[str, Any], prefix: str = "", *, keep_nonfinite: bool = False
) -> dict[str, Any]:
    """Nested dicts as one level of ``a.b`` keys; lists and dicts left as JSON text, and
    non-finite floats as text unless ``keep_nonfinite``."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flat_scalars(value, name + ".", keep_nonfinite=keep_nonfinite))
        elif isinstance(value, (list, tuple, Mapping)):
            flat[name] = dumps(json_safe(value))
        elif isinstance(value, float) and not math.isfinite(value) and not keep_nonfinite:
            flat[name] = _nonfinite(value)
        elif value is None or isinstance(value, (str, int, float, bool)):
            flat[name] = value
        else:
            flat[name] = str(value)
    return flat


@dataclass
class Row:
    """One run, prepared for the table."""

    view: RunView
    signature: str
    config: dict[str, Any]
    summary: dict[str, Any]
    search: str
    """Lower-cased name, id and tags, for ``q``."""
    frozen: str | None
    """The serialized row of a run in a terminal state (its status and runtime never move)."""
    numbers: dict[str, float]
    """The numeric flat summary values (for group aggregates)."""

    @property
    def record(self) -> RunRecord:
        return self.view.record

    def data(self) -> dict[str, Any]:
        """The row as ``ui/API.md``'s RunRow."""
        r = self.view.record
        return {
            "id": r.id,
            "name": r.name,
            "project": r.project,
            "status": self.view.status.value,
            "tags": list(r.tags),
            "group": r.group,
            "job_type": r.job_type,
            "created_at": json_safe(r.created_at),
            "ended_at": json_safe(r.ended_at),
            "heartbeat_at": json_safe(r.heartbeat_at),
            "runtime": json_safe(self.view.runtime),
            "notes": r.notes,
            "config": self.config,
            "summary": self.summary,
        }

    def json(self) -> str:
        return self.frozen if self.frozen is not None else dumps(self.data())


def make_row(record: RunRecord, signature: str, runs_dir: Path) -> Row:
    view = RunView._listed(record, runs_dir)
    search = "\n".join((record.name, record.id, *record.tags)).lower()
    summary = flat_scalars(record.summary)
    numbers = {
        k: float(v)
        for k, v in flat_scalars(record.summary, keep_nonfinite=True).items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    row = Row(view, signature, flat_scalars(record.config), summary, search, None, numbers)
    if RunStatus(record.status).is_terminal:
        row.frozen = dumps(row.data())
    return row


class RunTable:
    """Prepared rows of every run in a store, rebuilt only for runs whose catalog entry changed.

    Thread safe: the server answers requests from a thread pool.
    """

    def __init__(self, store: RunStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._signatures: dict[str, tuple[str, str]] | None = None
        self._rows: dict[str, Row] = {}
        self._projects: dict[str, list[Row]] = {}
        self._fresh_until = -math.inf
        self._columns: tuple[list[Row], dict[str, list[str]]] | None = None

    def rows(self, project: str) -> list[Row]:
        """The project's rows, newest first (the catalog's order)."""
        store = self._store
        if not store.runs_dir.is_dir():
            return []
        synced = store.sync() is not None
        with self._lock:
            cached = self._projects.get(project)
            # Within the store's own sync interval, answer as the store would: from what it has.
            if cached is not None and not synced and time.monotonic() < self._fresh_until:
                return cached
        try:
            signatures = store.catalog.signatures()
        except StorageError:  # the store falls back to reading run directories: do not cache
            return [make_row(r, "", store.runs_dir) for r in store.list_runs(project=project)]
        with self._lock:
            self._fresh_until = time.monotonic() + SYNC_INTERVAL
            if signatures != self._signatures:
                self._signatures = signatures
                self._projects = {}
            cached = self._projects.get(project)
            if cached is not None:
                return cached
        records = store.list_runs(project=project)
        rows = []
        with self._lock:
            for record in records:
                signature = signatures.get(record.id, ("", ""))[0]
                row = self._rows.get(record.id)
                if row is None or row.signature != signature:
                    row = self._rows[record.id] = make_row(record, signature, store.runs_dir)
                rows.append(row)
            for gone in self._rows.keys() - signatures.keys():
                del self._rows[gone]
            if signatures == self._signatures:
                self._projects[project] = rows
        return rows

    def columns(self, rows: list[Row]) -> dict[str, list[str]]:
        """:func:`columns` of ``rows``, remembered for the list :meth:`rows` last returned."""
        with self._lock:
            if self._columns is not None and self._columns[0] is rows:
                return self._columns[1]
        found = columns(rows)
        with self._lock:
            self._columns = (rows, found)
        return found

    def forget(self) -> None:
        """Drop the per-project lists (after an edit made by this server)."""
        with self._lock:
            self._signatures = None
            self._projects = {}
            self._fresh_until = -math.inf


# -- querying rows -------------------------------------------------------------------------------


def select(rows: list[Row], filter: str | None, q: str | None) -> list[Row]:
    """Rows passing the filter expression and the quick search.

    Raises:
        FilterSyntaxError: ``filter`` does not parse.
    """
    if q:
        needle = q.lower()
        rows = [row for row in rows if needle in row.search]
    if filter and filter.strip():
        parsed: Filter = parse(filter)
        rows = [row for row in rows if parsed.matches(row.view)]
    return rows


def sort_rows(rows: list[Row], column: str, descending: bool) -> list[Row]:
    """Rows sorted by a column; runs without a value come last in either order.

    Numbers sort before strings, strings before anything else; ties keep the catalog order.

    Raises:
        ValueError: ``column`` is not a run field, ``config.<key>`` or ``summary.<key>``.
    """
    getter = _column_getter(column)
    present: list[tuple[tuple[int, Any], Row]] = []
    missing: list[Row] = []
    for row in rows:
        value = getter(row)
        if value is None:
            missing.append(row)
        else:
            present.append((_sort_key(value), row))
    present.sort(key=lambda pair: pair[0], reverse=descending)
    return [row for _, row in present] + missing


def _column_getter(column: str) -> Any:
    scope, _, key = column.partition(".")
    if scope in ("config", "summary") and key:
        return lambda row: getattr(row, scope).get(key)
    if column == "status":
        return lambda row: row.view.status.value
    if column == "runtime":
        return lambda row: row.view.runtime
    if column == "tags":
        return lambda row: ",".join(row.record.tags) or None
    if column in SORTABLE:
        return lambda row: getattr(row.record, column)
    raise ValueError(
        f"cannot sort by {column!r}: use one of {', '.join(SORTABLE)}, "
        "config.<key> or summary.<key>"
    )


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, float(value))
    if isinstance(value, (int, float)):
        return (0, value) if value == value else (0, -math.inf)
    if isinstance(value, str):
        return (1, value)
    return (2, str(value))


def columns(rows: Iterable[Row]) -> dict[str, list[str]]:
    """Every flat config and summary key of these rows, sorted."""
    config: set[str] = set()
    summary: set[str] = set()
    for row in rows:
        config.update(row.config)
        summary.update(row.summary)
    return {"config": sorted(config), "summary": sorted(summary)}


def page_json(rows: Sequence[Row], total: int, cols: dict[str, list[str]]) -> str:
    """``{"total", "runs", "columns"}`` as JSON text, joined from each row's serialized form."""
    body = ",".join(row.json() for row in rows)
    return f'{{"total":{total},"runs":[{body}],"columns":{dumps(cols)}}}'


# -- groups --------------------------------------------------------------------------------------


def groups(rows: list[Row], by: str) -> list[dict[str, Any]]:
    """Rows grouped by the value of ``by`` (a filter key), in order of first appearance, with
    the mean, min and max of every numeric summary key per group.

    Raises:
        FilterSyntaxError: ``by`` is not a key.
    """
    key = parse_key(by)
    buckets: dict[tuple[str, Any], tuple[Any, list[Row]]] = {}
    for row in rows:
        found, value = resolve(row.view, key)
        if not found:
            value = None
        elif isinstance(value, (list, tuple, Mapping)):
            value = dumps(json_safe(value))
        elif isinstance(value, float) and not math.isfinite(value):
            value = _nonfinite(value)
        elif isinstance(value, RunStatus):
            value = value.value
        label = (type(value).__name__, value)
        if label not in buckets:
            buckets[label] = (value, [])
        buckets[label][1].append(row)
    return [
        {
            "value": value,
            "count": len(members),
            "run_ids": [row.record.id for row in members],
            "summary": _aggregates(members),
        }
        for value, members in buckets.values()
    ]


def _aggregates(rows: list[Row]) -> dict[str, dict[str, float | None]]:
    values: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.numbers.items():
            found = values.get(key)
            if found is None:
                values[key] = [value]
            else:
                found.append(value)
    out: dict[str, dict[str, float | None]] = {}
    for key, numbers in sorted(values.items()):
        finite = [v for v in numbers if math.isfinite(v)]
        if not finite:
            out[key] = {"mean": None, "min": None, "max": None}
            continue
        mean = math.fsum(finite) / len(finite)
        out[key] = {"mean": mean, "min": min(finite), "max": max(finite)}
    return out
