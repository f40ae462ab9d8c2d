"""Soft delete, restore, gc and move: on real run directories written by the SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import runlab
from runlab.query import Api

FAST = {"quiet": True, "capture_output": False, "system_metrics_interval": 0}


def _record(root: Path, run_id: str, project: str = "p", **config: object) -> runlab.Run:
    with runlab.init(dir=root, id=run_id, project=project, config=config, settings=FAST) as run:
        for step in range(5):
            run.log({"loss": 1.0 / (step + 1)})
    return run


def test_delete_hides_the_run_and_restore_brings_it_back_whole(tmp_path: Path) -> None:
    _record(tmp_path, "keep01")
    _record(tmp_path, "gone01", lr=0.1)
    api = Api(tmp_path)
    before = api.run("gone01").history()
    api.delete("gone01")
    assert [r.id for r in api.runs()] == ["keep01"]
    with pytest.raises(runlab.RunNotFound):
        api.run("gone01")
    assert [d.id for d in api.deleted()] == ["gone01"]
    assert api.deleted()[0].deleted_at == pytest.approx(time.time(), abs=60)

    api.restore("gone01")
    assert sorted(r.id for r in api.runs()) == ["gone01", "keep01"]
    view = api.run("gone01")
    assert view.config == {"lr": 0.1}
    assert view.history().equals(before)
    assert api.deleted() == []
    assert not (view.dir / "deleted.json").exists()


def test_deleted_and_purged_ids_are_never_reused(tmp_path: Path) -> None:
    _record(tmp_path, "mine01")
    api = Api(tmp_path)
    api.delete("mine01")
    with pytest.raises(runlab.RunExistsError, match="never reused"):
        runlab.init(dir=tmp_path, id="mine01", settings=FAST)
    assert api.gc() == ["mine01"]
    assert api.deleted() == []
    assert not (tmp_path / "runs" / "mine01").exists()
    with pytest.raises(runlab.RunExistsError, match="never reused"):
        runlab.init(dir=tmp_path, id="mine01", settings=FAST)
    with pytest.raises(runlab.RunNotFound, match="purged"):
        api.restore("mine01")


def test_gc_keeps_runs_deleted_more_recently_than_asked(tmp_path: Path) -> None:
    for run_id in ("old001", "new001"):
        _record(tmp_path, run_id)
    api = Api(tmp_path)
    api.delete(["old001", "new001"])
    stamp = tmp_path / "trash" / "old001" / "deleted.json"
    stamp.write_text(json.dumps({"deleted_at": time.time() - 3 * 86400}))
    assert api.gc(older_than=86400) == ["old001"]
    assert [d.id for d in api.deleted()] == ["new001"]


def test_a_live_run_is_not_deleted_without_force(tmp_path: Path) -> None:
    run = runlab.init(dir=tmp_path, id="live01", settings=FAST)
    try:
        api = Api(tmp_path)
        with pytest.raises(runlab.RunActiveError, match=r"live01.*still running"):
            api.delete("live01")
        assert api.run("live01").status is runlab.RunStatus.RUNNING
    finally:
        run.finish()
    Api(tmp_path).delete("live01")  # ended: fine


def test_a_crashed_run_can_be_deleted(tmp_path: Path) -> None:
    code = (
        "import os, signal, runlab\n"
        f"run = runlab.init(dir={str(tmp_path)!r}, id='dead01', "
        "settings={'heartbeat_interval': 0.05, 'quiet': True})\n"
        "run.log({'x': 1.0}); run._writer.flush()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    api = Api(tmp_path)
    deadline = time.monotonic() + 10
    while api.run("dead01").status is not runlab.RunStatus.CRASHED:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    api.delete("dead01")
    assert api.runs() == []


def test_move_changes_the_project_for_every_reader_and_survives_the_runs_writes(
    tmp_path: Path,
) -> None:
    run = runlab.init(dir=tmp_path, id="move01", project="a", settings=FAST)
    run.log({"x": 1.0})
    api = Api(tmp_path)
    assert [v.project for v in api.move("move01", "b")] == ["b"]
    run.log({"x": 2.0})
    run.finish()  # the run's own process rewrites run.json; the move is kept beside it
    assert [r.id for r in Api(tmp_path).runs(project="b")] == ["move01"]
    assert Api(tmp_path).runs(project="a") == []
    view = Api(tmp_path).run("move01").move("c")
    assert view.project == "c"
    assert runlab.runs(project="c", dir=tmp_path)[0].id == "move01"
    with pytest.raises(ValueError, match="non-empty"):
        api.move("move01", " ")


def test_a_deleted_directory_is_moved_not_copied(tmp_path: Path) -> None:
    run = _record(tmp_path, "ino001")
    inode = os.stat(run.dir).st_ino
    Api(tmp_path).delete("ino001")
    assert os.stat(tmp_path / "trash" / "ino001").st_ino == inode
