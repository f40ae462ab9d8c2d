"""Forking a run (``fork_from``) and rewinding one (``resume_from``): history by reference."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sdk_helpers import start

import runlab
from runlab import RunlabWarning, RunNotFound, RunStatus
from runlab.storage._layout import RUN_JSON, read_json
from runlab.storage._reader import read_history


def parent(tmp_path: Path, steps: int = 10) -> Path:
    """Run ``p``: ``loss = i``, ``acc = i % 4`` (summary max) at steps 0..steps-1."""
    with start(tmp_path, id="p", config={"lr": 0.1, "depth": 4}) as run:
        run.define_metric("acc", summary="max")
        for i in range(steps):
            run.log({"loss": float(i), "acc": float(i % 4)})
    return run.dir


def losses(run_dir: Path) -> list[Any]:
    frame = read_history(run_dir, ["loss"])
    return list(zip(frame["step"].to_list(), frame["loss"].to_list(), strict=True))


# -- fork --------------------------------------------------------------------------------------


def test_fork_inherits_history_up_to_the_step_then_logs_on(tmp_path: Path) -> None:
    parent_dir = parent(tmp_path)
    before = (parent_dir / "history.rlog").read_bytes()
    child = start(tmp_path, id="c", fork_from="p?_step=5", config={"lr": 0.5})
    assert child.step == 6
    assert child.config.to_dict() == {"lr": 0.5, "depth": 4}
    assert dict(child.summary) == {"loss": 5.0, "acc": 3.0}  # last ≤ 5; max over 0..5
    for i in range(6, 9):
        child.log({"loss": 100.0 + i})
    child.finish()
    assert losses(child.dir) == [(i, float(i)) for i in range(6)] + [
        (i, 100.0 + i) for i in range(6, 9)
    ]
    assert (parent_dir / "history.rlog").read_bytes() == before  # the parent is untouched
    assert losses(parent_dir) == [(i, float(i)) for i in range(10)]
    data = read_json(child.dir / RUN_JSON)
    assert data["fork"] == {"run": "p", "step": 5}
    assert data["status"] == "finished"


def test_fork_from_a_tuple_and_lineage_of_a_fork_of_a_fork(tmp_path: Path) -> None:
    parent(tmp_path)
    with start(tmp_path, id="c", fork_from=("p", 3)) as child:
        child.log({"loss": 40.0})
        child.log({"loss": 50.0})
    with start(tmp_path, id="g", fork_from="c?_step=4") as grandchild:
        grandchild.log({"loss": 60.0})
    assert losses(grandchild.dir) == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 3.0), (4, 40.0), (5, 60.0)]
    api = runlab.Api(tmp_path)
    view = api.run("g")
    assert view.fork_parent == ("c", 4)
    assert view.lineage == [("c", 4), ("p", 3)]
    assert view.history(["loss"])["loss"].to_list() == [0.0, 1.0, 2.0, 3.0, 40.0, 60.0]
    assert api.run("p").lineage == []
    api.close()


def test_fork_stays_put_when_the_parent_is_rewound(tmp_path: Path) -> None:
    parent(tmp_path)
    with start(tmp_path, id="c", fork_from="p?_step=5") as child:
        child.log({"loss": 99.0})
    with start(tmp_path, id="p", resume_from="p?_step=2") as rewound:
        rewound.log({"loss": -3.0})
    assert losses(child.dir) == [(i, float(i)) for i in range(6)] + [(6, 99.0)]


def test_fork_of_a_missing_parent_dir_reads_its_own_points_with_a_warning(
    tmp_path: Path,
) -> None:
    parent(tmp_path)
    with start(tmp_path, id="c", fork_from="p?_step=5") as child:
        child.log({"loss": 99.0})
    shutil.rmtree(tmp_path / "runs" / "p")
    with pytest.warns(RunlabWarning, match="parent run 'p'.*gone"):
        assert losses(child.dir) == [(6, 99.0)]


def test_fork_errors(tmp_path: Path) -> None:
    parent(tmp_path)
    with pytest.raises(RunNotFound, match="cannot fork from run 'nope': there is no run"):
        start(tmp_path, fork_from="nope?_step=1")
    with pytest.raises(ValueError, match=r"step 10 is beyond run 'p'.*last logged step is 9"):
        start(tmp_path, fork_from="p?_step=10")
    for bad in ("abc?_step=x", "abc", "abc?step=1", "?_step=1", ("p",), ("p", -1), ("p", "1")):
        with pytest.raises(ValueError, match=r"fork_from=.* is not valid: expected '<run_id>"):
            start(tmp_path, fork_from=bad)
    with pytest.raises(ValueError, match="cannot be combined with resume='allow'"):
        start(tmp_path, fork_from="p?_step=1", resume="allow")
    with pytest.raises(runlab.RunExistsError):
        start(tmp_path, id="p", fork_from="p?_step=1")


# -- rewind ------------------------------------------------------------------------------------


def test_rewind_archives_the_tail_and_logs_on(tmp_path: Path) -> None:
    run_dir = parent(tmp_path)
    run = start(tmp_path, id="p", resume_from="p?_step=4")
    assert run.step == 5
    assert dict(run.summary) == {"loss": 4.0, "acc": 3.0}
    run.log({"loss": -5.0, "acc": 0.0})
    run.log({"loss": -6.0})
    run.finish()
    assert losses(run_dir) == [(i, float(i)) for i in range(5)] + [(5, -5.0), (6, -6.0)]
    assert (run_dir / "archive" / "history-1.rlog").is_file()
    api = runlab.Api(tmp_path)
    view = api.run("p")
    assert view.status is RunStatus.FINISHED
    archived = view.history(["loss"], archived=True)
    assert archived["archive"].to_list() == [1] * 5
    assert archived["step"].to_list() == [5, 6, 7, 8, 9]
    assert archived["loss"].to_list() == [5.0, 6.0, 7.0, 8.0, 9.0]
    assert [(r["step"], r["archive"]) for r in view.rewinds] == [(4, "archive/history-1.rlog")]
    api.close()
    data = read_json(run_dir / RUN_JSON)
    assert [(r["step"], r["archive"]) for r in data["rewinds"]] == [(4, "archive/history-1.rlog")]


def test_rewind_twice(tmp_path: Path) -> None:
    run_dir = parent(tmp_path)
    with start(tmp_path, id="p", resume_from="p?_step=6") as run:
        run.log({"loss": 70.0})
    with start(tmp_path, id="p", resume_from="p?_step=2") as run:
        assert run.step == 3
        run.log({"loss": 30.0})
    assert losses(run_dir) == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 30.0)]
    api = runlab.Api(tmp_path)
    archived = api.run("p").history(["loss"], archived=True)
    # newest rewind first: the second log's own point, then all the first log held after 2
    assert list(zip(archived["archive"], archived["step"], strict=True)) == [(2, 7)] + [
        (1, step) for step in range(3, 10)
    ]
    assert archived["loss"].to_list() == [70.0] + [float(s) for s in range(3, 10)]
    api.close()


def test_rewind_errors(tmp_path: Path) -> None:
    parent(tmp_path)
    with start(tmp_path, id="other") as other:
        other.log({"loss": 1.0})
    with pytest.raises(ValueError, match="names run 'p', but id='other': only the run itself"):
        start(tmp_path, id="other", resume_from="p?_step=1")
    with pytest.raises(RunNotFound, match="cannot rewind run 'ghost'"):
        start(tmp_path, resume_from="ghost?_step=1")
    with pytest.raises(ValueError, match="step 12 is beyond run 'p'"):
        start(tmp_path, id="p", resume_from="p?_step=12")
    with pytest.raises(ValueError, match=r"resume_from='p\?_step=-1' is not valid"):
        start(tmp_path, id="p", resume_from="p?_step=-1")
    with pytest.raises(ValueError, match="fork_from and resume_from cannot be combined"):
        start(tmp_path, fork_from="p?_step=1", resume_from="p?_step=1")
    assert losses(tmp_path / "runs" / "p") == [(i, float(i)) for i in range(10)]


def test_fork_summary_of_a_sparse_key_is_its_last_value_at_or_before_the_step(
    tmp_path: Path,
) -> None:
    with start(tmp_path, id="p") as run:
        for i in range(10):
            run.log({"loss": float(i), **({"val": 10.0 * i} if i % 3 == 0 else {})})
    child = start(tmp_path, fork_from="p?_step=5")
    assert dict(child.summary) == {"loss": 5.0, "val": 30.0}
    child.log({"val": 1.0}, step=6)
    with pytest.raises(runlab.StepOrderError):
        child.log({"val": 2.0}, step=2)  # steps of a key inherited from the parent go on
    child.finish()
    frame = read_history(child.dir, ["val"])
    assert frame.drop_nulls()["val"].to_list() == [0.0, 30.0, 1.0]
