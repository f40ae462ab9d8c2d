"""User edits (tags, notes, project) live beside run.json and survive the run rewriting it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runlab._errors import RunNotFound
from runlab.query._api import Api
from runlab.storage._layout import RunRecord
from runlab.storage._store import EDITS_JSON, RunStore
from runlab.storage.testing import make_record, write_run


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path)


def test_edit_is_merged_over_run_json(store: RunStore) -> None:
    write_run(store.root, make_record("aaa111", tags=("x",), notes="old"))
    record = store.edit("aaa111", tags=["a", "b", "a"], notes="new")
    assert record.tags == ("a", "b")
    assert record.notes == "new"
    assert store.read_record("aaa111").tags == ("a", "b")
    assert json.loads((store.run_dir("aaa111") / EDITS_JSON).read_text()) == {
        "tags": ["a", "b"],
        "notes": "new",
    }
    assert [r.tags for r in store.list_runs(tags=["b"])] == [("a", "b")]


def test_fields_left_out_keep_their_value(store: RunStore) -> None:
    write_run(store.root, make_record("aaa111", tags=("x",), notes="keep"))
    store.edit("aaa111", tags=["y"])
    record = store.edit("aaa111", project="other")
    assert (record.tags, record.notes, record.project) == (("y",), "keep", "other")


def test_edit_survives_the_run_rewriting_run_json(store: RunStore) -> None:
    record = make_record("aaa111", tags=("sdk",))
    write_run(store.root, record)
    store.edit("aaa111", tags=["user"])
    write_run(store.root, RunRecord(**{**record.__dict__, "status": "finished", "ended_at": 9.0}))
    store.sync(force=True)
    (listed,) = store.list_runs()
    assert (listed.status, listed.tags) == ("finished", ("user",))


def test_another_reader_sees_the_edit(store: RunStore) -> None:
    write_run(store.root, make_record("aaa111", status="finished", ended_at=2.0))
    other = RunStore(store.root)
    assert other.list_runs()[0].project == make_record("aaa111").project
    before = os.stat(store.runs_dir).st_mtime_ns
    store.edit("aaa111", project="moved")
    assert os.stat(store.runs_dir).st_mtime_ns >= before
    assert [p.name for p in other.projects()] == ["moved"]
    assert Api(store.root).run("aaa111").project == "moved"


def test_reindex_keeps_edits(store: RunStore) -> None:
    write_run(store.root, make_record("aaa111", status="finished", ended_at=2.0))
    store.edit("aaa111", notes="kept")
    store.reindex()
    assert store.list_runs()[0].notes == "kept"


def test_edit_of_a_missing_run(store: RunStore) -> None:
    write_run(store.root, make_record("aaa111"))
    with pytest.raises(RunNotFound):
        store.edit("nope00", tags=[])
