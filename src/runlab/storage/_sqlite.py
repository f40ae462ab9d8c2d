"""The local catalog: SQLite through SQLAlchemy Core.

Importing this module imports SQLAlchemy, so the rest of runlab imports it only when a catalog is
opened. The database runs in WAL mode (readers never wait for a writer), write transactions take
the write lock up front (``BEGIN IMMEDIATE``) and wait for it up to ``busy_timeout`` seconds, and a
lock error that still escapes is retried a few times before it becomes a ``StorageError``.

The catalog is derived data, so there are no migrations: a database written with another
``SCHEMA_VERSION`` (or a file that is not a database at all) is dropped and rebuilt empty, and the
next sync of the run store fills it again from the run directories.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.pool import StaticPool

from runlab._errors import RunlabWarning, StorageError
from runlab.storage._catalog import MIN_PREFIX, Catalog, ProjectInfo
from runlab.storage._layout import RunRecord, json_default

SCHEMA_VERSION = 2
"""Bump on any change to the tables below: older catalogs are then rebuilt, not migrated."""

_T = TypeVar("_T")
_CHUNK = 500  # ids per IN (...) list, well under SQLite's bound-parameter limit
_ATTEMPTS = 4

_metadata = sa.MetaData()

_meta = sa.Table(
    "runlab_meta",
    _metadata,
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("value", sa.String, nullable=False),
)

_runs = sa.Table(
    "runs",
    _metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("project", sa.String, nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float),
    sa.Column("heartbeat_at", sa.Float),
    sa.Column("heartbeat_interval", sa.Float, nullable=False),
    sa.Column("run_group", sa.String),  # "group" is an SQL keyword
    sa.Column("job_type", sa.String),
    sa.Column("tags", sa.Text, nullable=False),  # JSON list, in the run's order
    sa.Column("notes", sa.Text),
    sa.Column("description", sa.Text),
    sa.Column("config", sa.Text, nullable=False),  # JSON; NaN/Infinity survive
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("exit_code", sa.Integer),
    sa.Column("err_msg", sa.Text),
    sa.Column("seed", sa.Text),  # decimal text: a seed may not fit 64 bits
    sa.Column("progress_deadline", sa.Float),
    sa.Column("last_activity", sa.Float, nullable=False),
    sa.Column("signature", sa.String, nullable=False),
    sa.Index("ix_runs_project", "project"),
    sa.Index("ix_runs_created_at", "created_at"),
    sa.Index("ix_runs_status", "status"),
    sa.Index("ix_runs_name", "name"),
)
# What a RunRecord is built from, in _from_row's order.
_RECORD_COLUMNS = [c for c in _runs.c if c.name not in ("last_activity", "signature")]

# One row per (run, tag) so "has all these tags" is plain indexed SQL on any engine.
_tags = sa.Table(
    "run_tags",
    _metadata,
    sa.Column("run_id", sa.String, primary_key=True),
    sa.Column("tag", sa.String, primary_key=True),
    sa.Index("ix_run_tags_tag", "tag"),
)


class SQLiteCatalog(Catalog):
    """A :class:`Catalog` in one SQLite file, or in memory.

    Args:
        path: the database file (created if missing); ``None`` for a private in-memory database.
        busy_timeout: seconds a write waits for another connection's write lock.

    When the file cannot be created, opened or written (read-only directory, missing parent),
    the catalog warns once and falls back to an in-memory database: everything keeps working,
    only the index is not kept between sessions. ``fallback_reason`` then says why.

    Example:
        >>> from runlab.storage._layout import RunRecord
        >>> catalog = SQLiteCatalog(None)
        >>> catalog.upsert([(RunRecord("a1b2c3", "demo", "first", "running", 1.0), "sig")])
        >>> [r.name for r in catalog.list_runs(project="demo")]
        ['first']
        >>> catalog.close()
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, busy_timeout: float = 10.0) -> None:
        self._lock = threading.RLock()
        self.path: Path | None = None if path is None else Path(path)
        self.fallback_reason: str | None = None
        if self.path is None:
            self._engine = _memory_engine()
            self._init_schema()
        else:
            self._open_file(self.path, busy_timeout)

    @property
    def in_memory(self) -> bool:
        """True when nothing is kept on disk (asked for, or fallen back to)."""
        return self.path is None or self.fallback_reason is not None

    def _open_file(self, path: Path, busy_timeout: float) -> None:
        try:
            self._engine = _file_engine(path, busy_timeout)
            try:
                self._init_schema()
            except StorageError as exc:
                if not _is_not_a_database(exc):
                    raise
                # Derived data: a damaged catalog is replaced rather than mended.
                self._engine.dispose()
                _unlink_database(path)
                self._engine = _file_engine(path, busy_timeout)
                self._init_schema()
        except (StorageError, OSError) as exc:
            self._engine.dispose()
            self.fallback_reason = str(exc)
            warnings.warn(
                f"runlab: cannot use the catalog file {path} ({exc}); indexing runs in memory "
                "for this session instead",
                RunlabWarning,
                stacklevel=3,
            )
            self._engine = _memory_engine()
            self._init_schema()

    def _init_schema(self) -> None:
        def current(conn: sa.Connection) -> bool:
            if _meta.name not in sa.inspect(conn).get_table_names():
                return False
            version = conn.scalar(sa.select(_meta.c.value).where(_meta.c.key == "schema"))
            return bool(version == str(SCHEMA_VERSION))

        def rebuild(conn: sa.Connection) -> None:
            if current(conn):  # another process got there first
                return
            for name in sa.inspect(conn).get_table_names():
                if not name.startswith("sqlite_"):
                    conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
            _metadata.create_all(conn)
            conn.execute(sa.insert(_meta).values(key="schema", value=str(SCHEMA_VERSION)))

        self._write_engine = self._engine.execution_options(runlab_begin="IMMEDIATE")
        # Check under a read transaction, so opening an up-to-date catalog never waits for a
        # writer; rebuild under the write lock, so processes opening together build it once.
        if not self._run(current, write=False):
            self._run(rebuild, write=True)

    def _run(self, op: Callable[[sa.Connection], _T], *, write: bool) -> _T:
        engine = self._write_engine if write else self._engine
        delay = 0.05
        attempt = 1
        while True:
            try:
                with self._lock, engine.begin() as conn:
                    return op(conn)
            except sa.exc.OperationalError as exc:
                if attempt < _ATTEMPTS and _is_busy(exc):
                    time.sleep(delay)
                    delay *= 4
                    attempt += 1
                    continue
                raise self._error(exc) from exc
            except sa.exc.SQLAlchemyError as exc:
                raise self._error(exc) from exc

    def _error(self, exc: sa.exc.SQLAlchemyError) -> StorageError:
        where = "in-memory catalog" if self.in_memory else f"catalog {self.path}"
        reason = getattr(exc, "orig", None) or exc
        return StorageError(f"{where}: {reason}")

    def upsert(self, records: Sequence[tuple[RunRecord, str]]) -> None:
        latest = {record.id: (record, signature) for record, signature in records}
        if not latest:
            return
        rows = [_to_row(record, signature) for record, signature in latest.values()]
        tag_rows = [
            {"run_id": record.id, "tag": tag}
            for record, _ in latest.values()
            for tag in dict.fromkeys(record.tags)
        ]
        stmt = sqlite_insert(_runs)
        stmt = stmt.on_conflict_do_update(
            index_elements=[_runs.c.id],
            set_={c.name: stmt.excluded[c.name] for c in _runs.c if c.name != "id"},
        )

        def op(conn: sa.Connection) -> None:
            _delete_tags(conn, list(latest))
            conn.execute(stmt, rows)
            if tag_rows:
                conn.execute(sa.insert(_tags), tag_rows)

        self._run(op, write=True)

    def remove(self, ids: Iterable[str]) -> None:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return

        def op(conn: sa.Connection) -> None:
            _delete_tags(conn, ids)
            for chunk in _chunks(ids):
                conn.execute(sa.delete(_runs).where(_runs.c.id.in_(chunk)))

        self._run(op, write=True)

    def get(self, run_id: str) -> RunRecord | None:
        def op(conn: sa.Connection) -> RunRecord | None:
            row = conn.execute(sa.select(*_RECORD_COLUMNS).where(_runs.c.id == run_id)).first()
            return None if row is None else _from_row(row)

        return self._run(op, write=False)

    def signatures(self) -> dict[str, tuple[str, str]]:
        query = sa.select(_runs.c.id, _runs.c.signature, _runs.c.status)

        def op(conn: sa.Connection) -> dict[str, tuple[str, str]]:
            return {i: (sig, status) for i, sig, status in conn.execute(query).all()}

        return self._run(op, write=False)

    def list_runs(
        self,
        *,
        project: str | None = None,
        status: str | Collection[str] | None = None,
        tags: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        if limit is not None and limit < 0:
            raise ValueError(f"limit={limit!r} must be >= 0 or None")
        query = sa.select(*_RECORD_COLUMNS)
        if project is not None:
            query = query.where(_runs.c.project == project)
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            query = query.where(_runs.c.status.in_(statuses))
        for tag in dict.fromkeys(tags or ()):
            query = query.where(_runs.c.id.in_(sa.select(_tags.c.run_id).where(_tags.c.tag == tag)))
        query = _newest_first(query)
        if limit is not None:
            query = query.limit(limit)
        return self._run(lambda conn: _from_rows(conn.execute(query).all()), write=False)

    def find(self, key: str, *, project: str | None = None) -> list[RunRecord]:
        scope = [] if project is None else [_runs.c.project == project]
        exact = sa.select(*_RECORD_COLUMNS).where(_runs.c.id == key, *scope)
        matches = [_runs.c.name == key]
        if len(key) >= MIN_PREFIX:
            # substr, not LIKE: LIKE is case-insensitive in SQLite and treats % and _ as wildcards.
            matches.append(sa.func.substr(_runs.c.id, 1, len(key)) == key)
        loose = _newest_first(sa.select(*_RECORD_COLUMNS).where(sa.or_(*matches), *scope))

        def op(conn: sa.Connection) -> list[RunRecord]:
            row = conn.execute(exact).first()
            if row is not None:
                return [_from_row(row)]
            return [_from_row(r) for r in conn.execute(loose)]

        return self._run(op, write=False)

    def projects(self) -> list[ProjectInfo]:
        query = (
            sa.select(_runs.c.project, sa.func.count(), sa.func.max(_runs.c.last_activity))
            .group_by(_runs.c.project)
            .order_by(_runs.c.project)
        )

        def op(conn: sa.Connection) -> list[ProjectInfo]:
            return [ProjectInfo(name, int(n), float(last)) for name, n, last in conn.execute(query)]

        return self._run(op, write=False)

    def clear(self) -> None:
        def op(conn: sa.Connection) -> None:
            conn.execute(sa.delete(_tags))
            conn.execute(sa.delete(_runs))

        self._run(op, write=True)

    def close(self) -> None:
        with self._lock:
            self._engine.dispose()

    def __repr__(self) -> str:
        where = ":memory:" if self.path is None else str(self.path)
        suffix = " (fallen back to memory)" if self.fallback_reason else ""
        return f"SQLiteCatalog({where!r}){suffix}"


def _file_engine(path: Path, busy_timeout: float) -> sa.Engine:
    engine = sa.create_engine(
        f"sqlite+pysqlite:///{path}",
        connect_args={"timeout": busy_timeout, "check_same_thread": False},
    )
    _take_over_transactions(engine, wal=True)
    return engine


def _memory_engine() -> sa.Engine:
    # One shared connection: each new connection to ":memory:" would be a new, empty database.
    engine = sa.create_engine(
        "sqlite+pysqlite://",
        poolclass=StaticPool,
        connect_args={"check_same_thread": False},
    )
    _take_over_transactions(engine, wal=False)
    return engine


def _take_over_transactions(engine: sa.Engine, *, wal: bool) -> None:
    """Let SQLAlchemy, not the sqlite3 module, emit BEGIN (SQLAlchemy's documented recipe).

    The sqlite3 module otherwise starts transactions late and always deferred; a deferred
    transaction that must upgrade to a write lock fails at once instead of waiting.
    """

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # derived data: durability is optional
        finally:
            cursor.close()

    def on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get("runlab_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    sa.event.listen(engine, "connect", on_connect)
    sa.event.listen(engine, "begin", on_begin)


def _is_busy(exc: sa.exc.OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text


def _is_not_a_database(exc: StorageError) -> bool:
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text


def _unlink_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _delete_tags(conn: sa.Connection, ids: Iterable[str]) -> None:
    for chunk in _chunks(list(ids)):
        conn.execute(sa.delete(_tags).where(_tags.c.run_id.in_(chunk)))


def _newest_first(query: sa.Select[Any]) -> sa.Select[Any]:
    return query.order_by(_runs.c.created_at.desc(), _runs.c.id.desc())


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=json_default)


def _to_row(record: RunRecord, signature: str) -> dict[str, Any]:
    activity = [record.created_at, record.ended_at, record.heartbeat_at]
    return {
        "id": record.id,
        "project": record.project,
        "name": record.name,
        "status": record.status,
        "created_at": record.created_at,
        "ended_at": record.ended_at,
        "heartbeat_at": record.heartbeat_at,
        "heartbeat_interval": record.heartbeat_interval,
        "run_group": record.group,
        "job_type": record.job_type,
        "tags": _dumps(list(record.tags)),
        "notes": record.notes,
        "description": record.description,
        "config": _dumps(record.config),
        "summary": _dumps(record.summary),
        "exit_code": record.exit_code,
        "err_msg": record.err_msg,
        "seed": None if record.seed is None else str(record.seed),
        "progress_deadline": record.progress_deadline,
        "last_activity": max(t for t in activity if t is not None),
        "signature": signature,
    }


_decode = json.JSONDecoder().raw_decode  # no whitespace check: we wrote the text ourselves


def _loads(text: str) -> Any:
    return _decode(text)[0]


def _from_rows(rows: Sequence[Sequence[Any]]) -> list[RunRecord]:
    # One decode of all configs (and one of all summaries) as a JSON array costs less than one
    # call per run, and listing 10,000 runs spends most of its time decoding.
    configs = _loads(f"[{','.join(row[13] for row in rows)}]")
    summaries = _loads(f"[{','.join(row[14] for row in rows)}]")
    return [
        _from_row(row, (config, summary))
        for row, config, summary in zip(rows, configs, summaries, strict=True)
    ]


def _from_row(row: Sequence[Any], decoded: tuple[Any, Any] | None = None) -> RunRecord:
    # Positional unpacking: listing 10,000 runs spends most of its time in this function.
    (
        run_id,
        project,
        name,
        status,
        created_at,
        ended_at,
        heartbeat_at,
        heartbeat_interval,
        group,
        job_type,
        tags,
        notes,
        description,
        config,
        summary,
        exit_code,
        err_msg,
        seed,
        progress_deadline,
    ) = row
    return RunRecord.trusted(
        {
            "id": run_id,
            "project": project,
            "name": name,
            "status": status,
            "created_at": created_at,
            "ended_at": ended_at,
            "heartbeat_at": heartbeat_at,
            "heartbeat_interval": heartbeat_interval,
            "group": group,
            "job_type": job_type,
            "tags": () if tags == "[]" else tuple(_loads(tags)),
            "notes": notes,
            "description": description,
            "config": _loads(config) if decoded is None else decoded[0],
            "summary": _loads(summary) if decoded is None else decoded[1],
            "exit_code": exit_code,
            "err_msg": err_msg,
            "seed": None if seed is None else int(seed),
            "progress_deadline": progress_deadline,
        }
    )
