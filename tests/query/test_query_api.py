"""Api and RunView over real run directories."""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import pytest

from runlab._errors import RunNotFound
from runlab._status import RunStatus
from runlab.query import Api, ProjectInfo, RunView
from runlab.storage._format import FILE_HEADER, KIND_HISTORY, encode_history, frame
from runlab.storage._layout import HISTORY_FILE
from runlab.storage.testing import make_record, write_run


@pytest.fixture
def api(tmp_path: Path) -> Api:
    return Api(tmp_path)


def ids(views: list[RunView]) -> list[str]:
    return [v.id for v in views]


def test_dir_comes_from_argument_then_environment_then_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNLAB_DIR", raising=False)
    assert Api().dir == Path("runlab")
    monkeypatch.setenv("RUNLAB_DIR", str(tmp_path / "env"))
    assert Api().dir == tmp_path / "env"
    assert Api(tmp_path / "arg").dir == tmp_path / "arg"


# -- finding one run -------------------------------------------------------------------------------


def test_run_by_id_prefix_and_name(api: Api) -> None:
    write_run(api.dir, make_record("k3x9ab12", name="baseline"))
    write_run(api.dir, make_record("q7w2zz01", name="other"))
    assert api.run("k3x9ab12").name == "baseline"
    assert api.run("k3x").id == "k3x9ab12"
    assert api.run("other").id == "q7w2zz01"


def test_unknown_run_names_the_value_and_the_store(api: Api) -> None:
    write_run(api.dir, make_record("k3x9ab12"))
    with pytest.raises(RunNotFound) as info:
        api.run("nothing-like-it")
    assert "'nothing-like-it'" in str(info.value)
    assert str(api.dir) in str(info.value)
    with pytest.raises(RunNotFound):
        api.run("k3")  # a prefix shorter than 3 characters is not a prefix


def test_ambiguous_prefix_lists_the_candidates(api: Api) -> None:
    write_run(api.dir, make_record("abc111", name="first"))
    write_run(api.dir, make_record("abc222", name="second"))
    with pytest.raises(RunNotFound) as info:
        api.run("abc")
    message = str(info.value)
    assert "abc111" in message and "abc222" in message and "first" in message
    assert api.run("abc2").id == "abc222"


def test_a_name_shared_by_several_runs_is_ambiguous(api: Api) -> None:
    write_run(api.dir, make_record("abc111", name="baseline"))
    write_run(api.dir, make_record("def222", name="baseline"))
    with pytest.raises(RunNotFound, match="matches 2 runs"):
        api.run("baseline")


def test_run_reads_run_json_fresh(api: Api) -> None:
    write_run(api.dir, make_record("abc111"))
    assert api.runs()[0].status is RunStatus.RUNNING  # catalog now holds "running"
    write_run(api.dir, make_record("abc111", status="finished", summary={"acc": 0.9}))
    view = api.run("abc111")  # within the sync throttle: only a fresh read can know
    assert view.status is RunStatus.FINISHED
    assert view.summary == {"acc": 0.9}
    assert api.run("abc1").status is RunStatus.FINISHED


def test_a_deleted_run_is_not_found(api: Api) -> None:
    write_run(api.dir, make_record("abc111", status="finished"))
    api.delete("abc111")
    with pytest.raises(RunNotFound):
        api.run("abc111")
    with pytest.raises(RunNotFound):
        api.delete(["abc111"])


# -- listing ---------------------------------------------------------------------------------------


def test_runs_filter_by_project_tags_and_limit(api: Api) -> None:
    write_run(api.dir, make_record("r1", project="p", tags=("a", "b"), created_at=1.0))
    write_run(api.dir, make_record("r2", project="p", tags=("a",), created_at=2.0))
    write_run(api.dir, make_record("r3", project="q", tags=("b",), created_at=3.0))
    assert ids(api.runs()) == ["r3", "r2", "r1"]
    assert ids(api.runs(project="p")) == ["r2", "r1"]
    assert ids(api.runs(tags="b")) == ["r3", "r1"]
    assert ids(api.runs(tags=["a", "b"])) == ["r1"]
    assert ids(api.runs(limit=1)) == ["r3"]
    assert api.runs(project="none") == []


def test_crashed_is_derived_from_a_lapsed_heartbeat(api: Api) -> None:
    now = time.time()
    write_run(api.dir, make_record("alive1", heartbeat_at=now, created_at=now - 5))
    write_run(
        api.dir,
        make_record("dead01", heartbeat_at=now - 100, heartbeat_interval=10.0, created_at=1.0),
    )
    write_run(api.dir, make_record("done01", status="finished", created_at=0.5, ended_at=2.0))
    dead = api.run("dead01")
    assert dead.status is RunStatus.CRASHED
    assert dead.stored_status is RunStatus.RUNNING
    assert dead.runtime == pytest.approx(now - 100 - 1.0)
    assert ids(api.runs(status="crashed")) == ["dead01"]
    assert ids(api.runs(status="running")) == ["alive1"]
    assert ids(api.runs(status=["running", "crashed"])) == ["alive1", "dead01"]
    assert ids(api.runs(status=RunStatus.FINISHED)) == ["done01"]
    assert ids(api.runs(status=["crashed", "finished"])) == ["dead01", "done01"]
    assert ids(api.runs(status="running", limit=0)) == []


def test_status_filter_accepts_aliases_and_rejects_unknown_names(api: Api) -> None:
    write_run(api.dir, make_record("bad111", status="failed"))
    assert ids(api.runs(status="ERRORED")) == ["bad111"]
    with pytest.raises(ValueError, match="'exploded' is not one of running, finished"):
        api.runs(status="exploded")
    with pytest.raises(ValueError, match="limit"):
        api.runs(limit=-1)


def test_a_store_with_no_runs(tmp_path: Path) -> None:
    api = Api(tmp_path / "absent")
    assert api.runs() == []
    assert api.projects() == []
    with pytest.raises(RunNotFound):
        api.run("abc")
    assert not (tmp_path / "absent").exists()


def test_projects(api: Api) -> None:
    write_run(api.dir, make_record("r1", project="vision", created_at=10.0, heartbeat_at=20.0))
    write_run(api.dir, make_record("r2", project="vision", created_at=30.0, heartbeat_at=None))
    write_run(api.dir, make_record("r3", project="audio", created_at=5.0, heartbeat_at=6.0))
    assert api.projects() == [ProjectInfo("audio", 1, 6.0), ProjectInfo("vision", 2, 30.0)]


# -- one run's view --------------------------------------------------------------------------------


def test_view_shows_the_record(api: Api) -> None:
    record = make_record(
        "abc111",
        project="vision",
        name="resnet",
        status="failed",
        created_at=100.0,
        ended_at=160.0,
        group="sweep",
        job_type="train",
        tags=("x", "y"),
        notes="n",
        description="d",
        config={"opt": {"lr": 0.1, "betas": [0.9, 0.99]}, "clip": math.inf},
        summary={"loss": math.nan},
        exit_code=2,
        err_msg="boom",
        seed=7,
    )
    directory = write_run(api.dir, record)
    view = api.run("abc111")
    assert (view.id, view.name, view.project, view.group, view.job_type) == (
        "abc111",
        "resnet",
        "vision",
        "sweep",
        "train",
    )
    assert view.status is RunStatus.FAILED
    assert view.tags == ("x", "y")
    assert (view.notes, view.description, view.exit_code, view.err_msg) == ("n", "d", 2, "boom")
    assert view.config["opt"] == {"lr": 0.1, "betas": [0.9, 0.99]}
    assert view.config["clip"] == math.inf
    assert math.isnan(view.summary["loss"])
    assert (view.created_at, view.ended_at, view.runtime) == (100.0, 160.0, 60.0)
    assert view.seed == 7
    assert view.dir == directory
    assert dataclasses.replace(view.record, summary={}) == dataclasses.replace(record, summary={})
    assert repr(view) == "RunView(id='abc111', name='resnet', project='vision', status='failed')"


def test_view_is_read_only(api: Api) -> None:
    write_run(api.dir, make_record("abc111", config={"a": {"b": 1}}))
    view = api.run("abc111")
    view.config["a"]["b"] = 2
    assert view.config == {"a": {"b": 1}}
    with pytest.raises(AttributeError):
        view.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        view.extra = 1  # type: ignore[attr-defined]


def test_runtime_of_a_running_run_grows(api: Api) -> None:
    write_run(api.dir, make_record("abc111", created_at=time.time() - 30))
    runtime = api.run("abc111").runtime
    assert runtime is not None and 30 <= runtime < 40


def test_metadata_appears_once_written(api: Api) -> None:
    record = make_record("abc111")
    write_run(api.dir, record)
    view = api.run("abc111")
    assert view.metadata == {}
    write_run(api.dir, record, metadata={"command": ["train.py"], "git": {"commit": "abc"}})
    assert view.metadata["git"] == {"commit": "abc"}


def test_files_lists_paths_under_files(api: Api) -> None:
    write_run(api.dir, make_record("nofile"))
    directory = write_run(
        api.dir, make_record("abc111"), files={"output.log": "hi\n", "plots/a.png": "x"}
    )
    assert api.run("abc111").files() == [
        directory / "files" / "output.log",
        directory / "files" / "plots" / "a.png",
    ]
    assert api.run("nofile").files() == []


def test_history_reads_the_run_log(api: Api) -> None:
    directory = write_run(api.dir, make_record("abc111"))
    t = time.time()
    payload = encode_history([(0, t, {"loss": 1.0}), (1, t + 1, {"loss": 0.5, "acc": 0.7})])
    (directory / HISTORY_FILE).write_bytes(FILE_HEADER + frame(KIND_HISTORY, payload))
    view = api.run("abc111")
    assert view.history_keys() == ["loss", "acc"]
    history = view.history()
    assert history.columns == ["step", "timestamp", "loss", "acc"]
    assert history["loss"].to_list() == [1.0, 0.5]
    assert view.history(keys=["acc"])["acc"].to_list() == [0.7]


def test_history_of_a_run_that_logged_nothing(api: Api) -> None:
    write_run(api.dir, make_record("abc111"))
    view = api.run("abc111")
    assert view.history_keys() == []
    assert view.history().height == 0


def test_delete_several(api: Api) -> None:
    for run_id in ("abc111", "def222", "ghi333"):
        write_run(api.dir, make_record(run_id, status="finished"))
    api.delete(["abc111", "ghi333"])
    assert ids(api.runs()) == ["def222"]
