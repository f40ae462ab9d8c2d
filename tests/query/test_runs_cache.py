"""``runlab.runs()`` keeps its store open between calls; new and removed runs still show."""

from __future__ import annotations

import shutil
from pathlib import Path

import runlab

FAST = {"quiet": True, "capture_output": False, "capture_packages": False, "capture_git": False}


def test_runs_sees_a_new_and_a_removed_run_at_once(tmp_path: Path) -> None:
    with runlab.init(dir=tmp_path, project="p", settings=FAST) as first:
        first.log({"loss": 1.0})
    assert [r.id for r in runlab.runs(dir=tmp_path)] == [first.id]
    with runlab.init(dir=tmp_path, project="p", settings=FAST) as second:
        second.log({"loss": 0.5})
    # Straight after the previous call: within the sync throttle, but runs/ changed.
    assert {r.id for r in runlab.runs(dir=tmp_path)} == {first.id, second.id}
    shutil.rmtree(tmp_path / "runs" / first.id)
    assert [r.id for r in runlab.runs(dir=tmp_path)] == [second.id]
