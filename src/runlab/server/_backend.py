"""What every route shares: the store, the runs table, the caches, and run lookup."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any

from fastapi import Request, Response

from runlab._errors import InvalidRunId, RunNotFound, StorageError
from runlab.query._api import Api, RunView
from runlab.server._series import SeriesCache
from runlab.server._table import RunTable, json_safe, make_row
from runlab.storage._layout import HISTORY_FILE, RUN_JSON, RunRecord, read_json
from runlab.storage._ranks import has_ranks
from runlab.storage._store import RunStore


class Backend:
    """The state of one app: the query API on the store, prepared rows and decoded series.

    Args:
        dir: the run store.
        token: the bearer token mutations need, or None.
        series_cache_bytes: byte budget of the decoded-series cache.
    """

    def __init__(self, dir: str | Path, *, token: str | None, series_cache_bytes: int) -> None:
        self.api = Api(dir)
        self.store: RunStore = self.api.store
        self.table = RunTable(self.store)
        self.series = SeriesCache(series_cache_bytes)
        self.auth_required = token is not None
        from runlab.cli import version  # reads package metadata: once, not per request

        self.version = version()
        self._metrics: dict[str, tuple[tuple[int, int], list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def view(self, key: str, *, exact: bool = False) -> RunView:
        """The run with this id (or, unless ``exact``, unique id prefix or name), fresh from disk.

        Raises:
            RunNotFound: no run (or several) match.
            InvalidRunId: ``key`` is not a valid run id (``exact`` only).
        """
        if exact:
            self.store.run_dir(key)  # validates the id
            if not self.store.exists(key):
                raise RunNotFound(f"no run {key!r} in {self.store.root}")
        return self.api.run(key)

    def row(self, record: RunRecord) -> dict[str, Any]:
        return make_row(record, "", self.store.runs_dir).data()

    def detail(self, view: RunView) -> dict[str, Any]:
        """``GET /api/runs/{id}``'s body."""
        record = view.record
        try:
            episode_count = len(view.episode_records())
        except (OSError, ValueError):
            episode_count = 0
        return {
            "run": self.row(record),
            "config": json_safe(record.config),
            "summary": json_safe(record.summary),
            "metadata": json_safe(view.metadata),
            "exit_code": record.exit_code,
            "err_msg": record.err_msg,
            "seed": record.seed,
            "description": record.description,
            "has_scenario": view.scenario is not None,
            "episode_count": episode_count,
            **self.history_facts(view),
        }

    def history_facts(self, view: RunView) -> dict[str, Any]:
        """The detail's ``lineage``, ``alerts`` and ``ranks`` (ui/API.md)."""
        try:
            run_json = read_json(view.dir / RUN_JSON)
        except (OSError, ValueError):
            run_json = {}
        if not isinstance(run_json, dict):
            run_json = {}
        # ``RunView.resumed`` lists rewinds too (a rewind resumes the run): each rewind's
        # entry carries the same ``at`` as its ``rewinds`` entry, which RunView does not show.
        rewinds = [_event(r) for r in run_json.get("rewinds") or [] if isinstance(r, dict)]
        rewound_at = {r["at"] for r in rewinds}
        resumed = [_event(r) for r in view.resumed]
        lineage = {
            "fork": self._fork(view),
            "resumed": [r for r in resumed if r["at"] is None or r["at"] not in rewound_at],
            "rewinds": rewinds,
        }
        try:
            alerts = view.alerts()
        except StorageError:
            alerts = []
        newest = [_alert(a) for a in reversed(alerts[-MAX_ALERTS:])]
        ranks: list[dict[str, Any]] = []
        if "shared" in run_json or has_ranks(view.dir):
            ranks = [
                {
                    "label": r.label,
                    "owner": r.owner,
                    "status": r.status.value,
                    "heartbeat_at": _number(r.heartbeat_at),
                    "pid": r.pid,
                    "host": r.host,
                }
                for r in view.ranks()
            ]
        return {"lineage": lineage, "alerts": newest, "ranks": ranks}

    def _fork(self, view: RunView) -> dict[str, Any] | None:
        parent = view.fork_parent
        if parent is None:
            return None
        project = name = None
        try:
            record = self.view(parent[0], exact=True).record
            project, name = record.project, record.name
        except (RunNotFound, InvalidRunId, StorageError):
            pass
        return {"run": parent[0], "step": parent[1], "project": project, "name": name}

    def metrics(self, view: RunView) -> list[dict[str, Any]]:
        """Per-key statistics of a run's history, cached while its log is unchanged."""
        from runlab.server._stats import key_stats

        path = view.dir / HISTORY_FILE
        try:
            st = path.stat()
            stamp = (st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            return []
        slot = str(view.dir)
        with self._lock:
            hit = self._metrics.get(slot)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        stats = key_stats(view.dir)
        with self._lock:
            if len(self._metrics) > 256:
                self._metrics.clear()
            self._metrics[slot] = (stamp, stats)
        return stats


MAX_ALERTS = 100
"""How many of a run's alerts its detail holds (the newest)."""


def _number(value: Any) -> float | None:
    """A finite number as a float, else None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _event(item: dict[str, Any]) -> dict[str, Any]:
    step = item.get("step")
    return {
        "at": _number(item.get("at")),
        "step": step if isinstance(step, int) and not isinstance(step, bool) else None,
    }


def _alert(item: dict[str, Any]) -> dict[str, Any]:
    def text(name: str) -> str | None:
        value = item.get(name)
        return value if isinstance(value, str) else None

    return {
        "title": text("title") or "",
        "text": text("text") or "",
        "level": text("level") or "INFO",
        "kind": text("kind"),
        "time": _number(item.get("time")),
    }


def backend(request: Request) -> Backend:
    """FastAPI dependency: the app's :class:`Backend`."""
    state: Backend = request.app.state.runlab
    return state


def json_response(data: Any, status_code: int = 200) -> Response:
    """``data`` as compact JSON (non-finite floats must already be replaced)."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    return Response(text, status_code=status_code, media_type="application/json")
