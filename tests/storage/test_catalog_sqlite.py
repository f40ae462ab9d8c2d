"""SQLiteCatalog: the shared conformance suite, plus what only SQLite files do."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from runlab._errors import RunlabWarning
from runlab.storage import _sqlite
from runlab.storage._sqlite import SQLiteCatalog
from runlab.storage.testing import CatalogConformance, CatalogFactory, make_record


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "catalog.sqlite"


class TestFileCatalog(CatalogConformance):
    @pytest.fixture
    def catalog_factory(self, db_path: Path) -> CatalogFactory:
        return lambda: SQLiteCatalog(db_path)


class TestMemoryCatalog(CatalogConformance):
    reopenable = False

    @pytest.fixture
    def catalog_factory(self) -> CatalogFactory:
        return lambda: SQLiteCatalog(None)


def test_database_is_in_wal_mode(db_path: Path) -> None:
    SQLiteCatalog(db_path).close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(runs)")}
    assert {"ix_runs_project", "ix_runs_created_at", "ix_runs_status"} <= indexes


def test_data_survives_reopening(db_path: Path) -> None:
    catalog = SQLiteCatalog(db_path)
    catalog.upsert([(make_record("r1"), "s")])
    catalog.close()
    again = SQLiteCatalog(db_path)
    assert again.get("r1") is not None
    assert not again.in_memory
    again.close()


def test_other_schema_version_is_rebuilt_empty(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = SQLiteCatalog(db_path)
    catalog.upsert([(make_record("r1"), "s")])
    catalog.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE leftover_from_v0 (x)")
    monkeypatch.setattr(_sqlite, "SCHEMA_VERSION", _sqlite.SCHEMA_VERSION + 1)
    rebuilt = SQLiteCatalog(db_path)
    assert rebuilt.signatures() == {}
    rebuilt.upsert([(make_record("r2"), "s")])
    assert rebuilt.get("r2") is not None
    rebuilt.close()
    with sqlite3.connect(db_path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "leftover_from_v0" not in tables


def test_a_file_that_is_not_a_database_is_replaced(db_path: Path) -> None:
    db_path.write_bytes(b"this is not sqlite at all" * 100)
    catalog = SQLiteCatalog(db_path)
    assert not catalog.in_memory
    catalog.upsert([(make_record("r1"), "s")])
    assert catalog.get("r1") is not None
    catalog.close()


@pytest.mark.parametrize("where", ["under_a_file", "is_a_directory"])
def test_unwritable_location_falls_back_to_memory(tmp_path: Path, where: str) -> None:
    if where == "under_a_file":
        (tmp_path / "file").write_text("x")
        path = tmp_path / "file" / "catalog.sqlite"
    else:
        path = tmp_path / "catalog.sqlite"
        path.mkdir()
    with pytest.warns(RunlabWarning, match="in memory"):
        catalog = SQLiteCatalog(path)
    assert catalog.in_memory
    assert catalog.fallback_reason
    catalog.upsert([(make_record("r1"), "s")])
    assert [r.id for r in catalog.list_runs()] == ["r1"]
    catalog.close()


def test_importing_runlab_storage_does_not_import_sqlalchemy() -> None:
    code = (
        "import sys, runlab.storage, runlab.storage._catalog, runlab.storage._store, "
        "runlab.query; assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory_falls_back_to_memory(tmp_path: Path) -> None:
    tmp_path.chmod(0o555)
    try:
        with pytest.warns(RunlabWarning, match="in memory"):
            catalog = SQLiteCatalog(tmp_path / "catalog.sqlite")
        catalog.upsert([(make_record("r1"), "s")])
        assert catalog.get("r1") is not None
        catalog.close()
    finally:
        tmp_path.chmod(0o755)
