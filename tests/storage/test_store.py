"""RunStore: the catalog follows the run directories, whatever they contain."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
import time
import warnings
from pathlib import Path

import pytest

from runlab._errors import InvalidRunId, RunlabWarning, RunNotFound, StorageError
from runlab.storage._layout import CATALOG_FILE, RUN_JSON, RunRecord, write_json_atomic
from runlab.storage._sqlite import SQLiteCatalog
from runlab.storage._store import RunStore, SyncReport, _check_types
from runlab.storage.testing import make_record, write_run


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path)


def ids(store: RunStore, **filters: object) -> list[str]:
    return [r.id for r in store.list_runs(**filters)]  # type: ignore[arg-type]


def test_sync_picks_up_a_new_run(store: RunStore) -> None:
    write_run(store.root, make_record("aaa111", created_at=1.0))
    assert ids(store) == ["aaa111"]
    write_run(store.root, make_record("bbb222", created_at=2.0))
    assert store.sync(force=True) == SyncReport(indexed=1, removed=0)
    assert ids(store) == ["bbb222", "aaa111"]


def test_sync_sees_a_status_change(store: RunStore) -> None:
    record = make_record("aaa111")
    write_run(store.root, record)
    assert ids(store, status="running") == ["aaa111"]
    write_run(store.root, RunRecord(**{**record.__dict__, "status": "finished", "ended_at": 9.0}))
    store.sync(force=True)
    assert ids(store, status="running") == []
    assert ids(store, status="finished") == ["aaa111"]


def test_sync_drops_a_removed_directory(store: RunStore) -> None:
    import shutil

    write_run(store.root, make_record("aaa111"))
    write_run(store.root, make_record("bbb222"))
    store.sync()
    shutil.rmtree(store.run_dir("aaa111"))
    assert store.sync(force=True) == SyncReport(indexed=0, removed=1)
    assert ids(store) == ["bbb222"]


def test_unchanged_runs_are_not_read_again(store: RunStore) -> None:
    write_run(store.root, make_record("aaa111"))
    store.sync()
    assert store.sync(force=True) == SyncReport(indexed=0, removed=0)


def test_finished_runs_are_only_rechecked_by_a_full_sync(store: RunStore) -> None:
    write_run(store.root, make_record("aaa111", status="finished"))
    store.sync()
    write_run(store.root, make_record("aaa111", status="running"))  # resumed
    assert store.sync(force=True) == SyncReport(indexed=0, removed=0)
    assert store.sync(full=True) == SyncReport(indexed=1, removed=0)
    assert ids(store, status="running") == ["aaa111"]


def test_sync_is_throttled_unless_forced(store: RunStore) -> None:
    write_run(store.root, make_record("aaa111", status="running"))
    assert store.sync() is not None
    write_run(store.root, make_record("aaa111", status="finished"))  # same dir, new run.json
    assert store.sync() is None  # throttled: runs/ itself did not change
    assert store.catalog.get("aaa111").status == "running"  # answered from the catalog
    assert store.sync(force=True) is not None
    assert store.catalog.get("aaa111").status == "finished"
    time.sleep(0.55)
    write_run(store.root, make_record("aaa111", status="failed"))
    assert store.sync() is not None  # the interval has passed


def test_a_new_or_removed_run_directory_is_seen_within_the_throttle(store: RunStore) -> None:
    write_run(store.root, make_record("aaa111"))
    assert store.sync() is not None
    write_run(store.root, make_record("bbb222"))
    assert sorted(ids(store)) == ["aaa111", "bbb222"]  # runs/ changed: synced at once
    shutil.rmtree(store.root / "runs" / "aaa111")
    assert ids(store) == ["bbb222"]


def test_unreadable_run_json_is_skipped_not_fatal(store: RunStore) -> None:
    write_run(store.root, make_record("good01"))
    bad = {
        "garbage": b"{not json",
        "truncated": b'{"id": "truncated", "project": "p"',
        "notobject": b"[1, 2, 3]",
        "missingfield": b'{"id": "missingfield"}',
        "badtype": b'{"id": "x", "project": "p", "name": "n", "status": "running", '
        b'"created_at": "yesterday"}',
        "badstatus": b'{"id": "x", "project": "p", "name": "n", "status": "exploded", '
        b'"created_at": 1.0}',
        "hugeexit": b'{"id": "x", "project": "p", "name": "n", "status": "failed", '
        b'"created_at": 1.0, "exit_code": 100000000000000000000000}',
    }
    for run_id, content in bad.items():
        directory = store.runs_dir / run_id
        directory.mkdir(parents=True)
        (directory / RUN_JSON).write_bytes(content)
    (store.runs_dir / "notyet").mkdir()  # directory created, run.json not written yet
    report = store.sync()
    assert report is not None
    assert report.indexed == 1
    assert sorted(report.unreadable) == sorted([*bad, "notyet"])
    assert ids(store) == ["good01"]
    with pytest.raises(StorageError, match="garbage"):
        store.read_record("garbage")


def test_every_record_field_is_type_checked() -> None:
    from runlab.storage import _store

    checked = {*_store._REQUIRED, *_store._OPTIONAL, "tags"}
    assert checked == set(RunRecord.__dataclass_fields__)
    _check_types(make_record("x"))


def test_status_aliases_are_normalised(store: RunStore) -> None:
    write_run(store.root, make_record("aaa111", status="ERRORED"))
    assert ids(store, status="failed") == ["aaa111"]
    assert store.read_record("aaa111").status == "failed"


def test_a_copied_directory_is_known_by_its_name(store: RunStore) -> None:
    directory = write_run(store.root, make_record("orig01"))
    directory.rename(store.runs_dir / "copy01")
    assert ids(store) == ["copy01"]
    assert store.read_record("copy01").id == "copy01"


def test_hidden_directories_are_ignored(store: RunStore) -> None:
    write_run(store.root, make_record("aaa111"))
    hidden = store.runs_dir / ".deleting-xyz"
    hidden.mkdir()
    write_json_atomic(hidden / RUN_JSON, make_record(".deleting-xyz").to_json())
    assert ids(store) == ["aaa111"]


def test_reindex_after_deleting_the_catalog(store: RunStore) -> None:
    for i in range(5):
        write_run(store.root, make_record(f"run{i:03d}", status="finished"))
    store.sync()
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store.root / CATALOG_FILE}{suffix}").unlink(missing_ok=True)
    fresh = RunStore(store.root)
    assert fresh.reindex() == 5
    assert (store.root / CATALOG_FILE).exists()
    assert len(ids(fresh, status="finished")) == 5


def test_reindex_forgets_rows_that_no_longer_match(store: RunStore) -> None:
    write_run(store.root, make_record("aaa111", status="finished"))
    store.sync()
    # A finished run edited by hand is invisible to a normal sync, not to a reindex.
    write_run(store.root, make_record("aaa111", status="finished", name="renamed"))
    assert store.reindex() == 1
    assert [r.name for r in store.list_runs()] == ["renamed"]


def test_a_store_that_does_not_exist_reads_empty_and_creates_nothing(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "nowhere")
    assert store.list_runs() == []
    assert store.find("abc") == []
    assert store.projects() == []
    assert store.reindex() == 0
    assert not (tmp_path / "nowhere").exists()


def test_read_record_is_fresh_and_checks_ids(store: RunStore) -> None:
    write_run(store.root, make_record("aaa111"))
    store.sync()
    write_run(store.root, make_record("aaa111", status="killed"))
    assert store.read_record("aaa111").status == "killed"
    with pytest.raises(RunNotFound, match="zzz999"):
        store.read_record("zzz999")
    for bad in ("", "..", "../etc", "a/b", ".hidden"):
        with pytest.raises(InvalidRunId):
            store.read_record(bad)


def test_delete_moves_directories_to_the_trash_and_drops_rows(store: RunStore) -> None:
    for run_id in ("aaa111", "bbb222", "ccc333"):
        write_run(store.root, make_record(run_id, tags=("t",), status="finished"))
    store.sync()
    store.delete(["aaa111", "ccc333"])
    assert sorted(os.listdir(store.runs_dir)) == ["bbb222"]
    assert sorted(os.listdir(store.root / "trash")) == ["aaa111", "ccc333"]
    assert ids(store, tags=["t"]) == ["bbb222"]  # rows gone at once, no sync needed
    assert store.catalog.get("aaa111") is None


def test_delete_checks_every_id_first(store: RunStore) -> None:
    write_run(store.root, make_record("aaa111"))
    with pytest.raises(RunNotFound, match="nope"):
        store.delete(["aaa111", "nope"])
    assert store.exists("aaa111")
    with pytest.raises(InvalidRunId):
        store.delete(["../aaa111"])


def test_catalog_in_an_unwritable_place_still_lists_runs(tmp_path: Path) -> None:
    write_run(tmp_path, make_record("aaa111"))
    (tmp_path / CATALOG_FILE).mkdir()  # the catalog path cannot be a database
    store = RunStore(tmp_path)
    with pytest.warns(RunlabWarning, match="in memory"):
        assert ids(store) == ["aaa111"]


def test_a_catalog_locked_for_good_degrades_to_memory(tmp_path: Path) -> None:
    write_run(tmp_path, make_record("aaa111"))
    path = tmp_path / CATALOG_FILE
    SQLiteCatalog(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    try:
        store = RunStore(tmp_path, catalog=SQLiteCatalog(path, busy_timeout=0.01))
        with pytest.warns(RunlabWarning, match="into memory"):
            assert ids(store) == ["aaa111"]
        write_run(tmp_path, make_record("bbb222", created_at=time.time() + 1))
        store.sync(force=True)
        assert ids(store) == ["bbb222", "aaa111"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# -- several reader processes at once -------------------------------------------------------------


def _reader_process(root: str, rounds: int, start: float) -> None:
    warnings.simplefilter("error", RunlabWarning)  # falling back to memory counts as failing
    time.sleep(max(0.0, start - time.time()))  # line everybody up on the same instant
    store = RunStore(root)
    for i in range(rounds):
        store.sync(force=True, full=i % 5 == 0)
        store.list_runs(status="running", limit=10)
        store.find("run0")
        store.projects()
        if i % 7 == 3:
            store.reindex()
    store.close()


def _writer_process(root: str, n_runs: int, rounds: int, start: float) -> None:
    time.sleep(max(0.0, start - time.time()))
    for i in range(rounds):
        for j in range(0, n_runs, 7):
            status = "finished" if i == rounds - 1 else "running"
            write_run(root, make_record(f"run{j:04d}", status=status, summary={"round": i}))


def test_four_processes_syncing_at_once(tmp_path: Path) -> None:
    n_runs = 300
    for j in range(n_runs):
        write_run(tmp_path, make_record(f"run{j:04d}", project=f"p{j % 3}"))
    ctx = multiprocessing.get_context("spawn")
    start = time.time() + 1.5  # spawned interpreters need a moment to start
    procs = [ctx.Process(target=_reader_process, args=(str(tmp_path), 25, start)) for _ in range(4)]
    procs.append(ctx.Process(target=_writer_process, args=(str(tmp_path), n_runs, 10, start)))
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=240)
    assert [proc.exitcode for proc in procs] == [0] * 5
    store = RunStore(tmp_path)
    store.sync(force=True)
    records = store.list_runs()
    assert len(records) == n_runs
    finished = {r.id for r in records if r.status == "finished"}
    assert finished == {f"run{j:04d}" for j in range(0, n_runs, 7)}
    assert all(r.summary == {"round": 9} for r in records if r.id in finished)
