"""Resuming a run: ``init(resume=...)``, W&B's semantics, in one process."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import pytest
from sdk_helpers import FAST, start

import runlab
from runlab import RunExistsError, RunNotFound, RunStatus
from runlab.sdk._resume import check_resume
from runlab.storage._chain import scan_steps
from runlab.storage._layout import RUN_JSON, read_json
from runlab.storage._reader import iter_events, read_history


def run_json(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = read_json(run_dir / RUN_JSON)
    return data


def first_run(tmp_path: Path, steps: int = 10, **kwargs: Any) -> Path:
    """Run ``r1`` logging ``loss = i`` and ``acc = i % 4`` at steps 0..steps-1, then end."""
    kwargs.setdefault("config", {"lr": 0.1, "batch": 32})
    with start(tmp_path, id="r1", **kwargs) as run:
        run.define_metric("acc", summary="max")
        run.define_metric("m", summary="mean")
        for i in range(steps):
            run.log({"loss": float(i), "acc": float(i % 4), "m": float(i)})
    return run.dir


def test_allow_continues_after_the_last_step(tmp_path: Path) -> None:
    run_dir = first_run(tmp_path)
    run = start(tmp_path, id="r1", resume="allow")
    assert run.status is RunStatus.RUNNING
    assert run.step == 10
    for i in range(10, 15):
        run.log({"loss": float(i), "m": float(i)})
    run.finish()
    frame = read_history(run_dir)
    assert frame["step"].to_list() == list(range(15))
    assert frame["loss"].to_list() == [float(i) for i in range(15)]
    assert frame["acc"].to_list() == [float(i % 4) for i in range(10)] + [None] * 5
    assert run_json(run_dir)["status"] == "finished"


def test_resume_restores_summary_with_definitions(tmp_path: Path) -> None:
    first_run(tmp_path)
    run = start(tmp_path, id="r1", resume="allow")
    assert dict(run.summary) == {"loss": 9.0, "acc": 3.0, "m": 4.5}
    for i in range(10, 15):
        run.log({"loss": float(i), "m": float(i), "acc": 1.0})
    # max keeps the earlier 3.0; the mean goes on over all 15 points, exactly
    assert dict(run.summary) == {"loss": 14.0, "acc": 3.0, "m": 7.0}
    run.finish()


def test_config_merges_and_the_change_is_an_event(tmp_path: Path) -> None:
    run_dir = first_run(tmp_path)
    run = start(tmp_path, id="r1", resume="allow", config={"lr": 0.2, "warmup": 5})
    assert run.config.to_dict() == {"lr": 0.2, "batch": 32, "warmup": 5}
    run.finish()
    assert run_json(run_dir)["config"] == {"lr": 0.2, "batch": 32, "warmup": 5}
    events = [e for e in iter_events(run_dir) if e.get("type") == "config_change"]
    assert events == [
        {
            "type": "config_change",
            "changed": {"lr": 0.2, "warmup": 5},
            "previous": {"lr": 0.1},
            "at_step": 10,
        }
    ]


def test_unchanged_config_writes_no_event(tmp_path: Path) -> None:
    run_dir = first_run(tmp_path)
    start(tmp_path, id="r1", resume="allow", config={"lr": 0.1}).finish()
    assert [e for e in iter_events(run_dir) if e.get("type") == "config_change"] == []


def test_fields_kept_unless_given_and_resumed_list(tmp_path: Path) -> None:
    run_dir = first_run(tmp_path, name="first", tags=["a"], notes="n1", project="proj")
    created = run_json(run_dir)["created_at"]
    run = start(tmp_path, id="r1", resume="allow", notes="n2")
    assert (run.project, run.name, run.tags, run.notes) == ("proj", "first", ("a",), "n2")
    data = run_json(run_dir)
    assert data["status"] == "running"
    assert data["ended_at"] is None and data["exit_code"] is None and data["err_msg"] is None
    assert data["created_at"] == created
    assert [r["step"] for r in data["resumed"]] == [10]
    run.log({"loss": 0.0})
    run.finish()
    start(tmp_path, id="r1", resume="must").finish()
    assert [r["step"] for r in run_json(run_dir)["resumed"]] == [10, 11]


def test_step_order_checks_survive_the_resume(tmp_path: Path) -> None:
    first_run(tmp_path)
    run = start(tmp_path, id="r1", resume="allow")
    with pytest.raises(runlab.StepOrderError, match="'loss' at step 3"):
        run.log({"loss": 1.0}, step=3)
    run.log({"loss": 1.0}, step=9)  # the same step as its last point merges into it
    run.log({"other": 1.0}, step=2)  # a key never logged has no order yet
    run.finish()
    frame = read_history(run.dir, ["loss"])
    assert frame["loss"].to_list()[-1] == 1.0


def test_resume_of_a_failed_run_clears_its_end(tmp_path: Path) -> None:
    with pytest.raises(ValueError), start(tmp_path, id="r1") as run:
        run.log({"loss": 1.0})
        raise ValueError("boom")
    assert run_json(run.dir)["status"] == "failed"
    again = start(tmp_path, id="r1", resume="allow")
    data = run_json(again.dir)
    assert data["status"] == "running" and data["traceback"] is None and data["err_msg"] is None
    again.finish()
    assert run_json(again.dir)["status"] == "finished"


def test_allow_creates_a_missing_run(tmp_path: Path) -> None:
    run = start(tmp_path, id="fresh", resume="allow")
    assert run.step == 0 and run.id == "fresh"
    run.finish()
    assert "resumed" not in run_json(run.dir)


def test_must_on_a_missing_id_names_it(tmp_path: Path) -> None:
    with pytest.raises(RunNotFound, match=r"resume='must': no run 'ghost' in .*"):
        start(tmp_path, id="ghost", resume="must")
    with pytest.raises(ValueError, match="resume='must' needs the id"):
        start(tmp_path, resume="must")


def test_never_and_none_refuse_an_existing_id(tmp_path: Path) -> None:
    first_run(tmp_path)
    with pytest.raises(RunExistsError, match="'r1' already exists"):
        start(tmp_path, id="r1", resume="never")
    with pytest.raises(RunExistsError, match="'r1' already exists"):
        start(tmp_path, id="r1")
    with pytest.raises(RunExistsError, match="'r1' already exists"):
        start(tmp_path, id="r1", resume=False)


def test_a_live_run_cannot_be_resumed(tmp_path: Path) -> None:
    run = start(tmp_path, id="live")
    run.log({"loss": 1.0})
    with pytest.raises(RunExistsError, match="still running"):
        start(tmp_path, id="live", resume="allow")
    run.finish()


def test_bad_resume_value_lists_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"resume='sometimes' is not valid: use one of 'allow'"):
        start(tmp_path, id="x", resume="sometimes")
    assert check_resume(True) == "auto"
    assert check_resume(False) is None


def test_environment_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first_run(tmp_path)
    monkeypatch.setenv("RUNLAB_RUN_ID", "r1")
    monkeypatch.setenv("RUNLAB_RESUME", "allow")
    run = start(tmp_path)
    assert (run.id, run.step) == ("r1", 10)
    run.finish()
    monkeypatch.setenv("RUNLAB_RESUME", "maybe")
    with pytest.raises(ValueError, match="RUNLAB_RESUME='maybe'"):
        start(tmp_path)


def test_auto_resumes_a_killed_run_of_this_script(tmp_path: Path) -> None:
    run = start(tmp_path, resume="auto")
    run.log({"loss": 1.0})
    run.finish(status="killed")
    again = start(tmp_path, resume=True)
    assert (again.id, again.step) == (run.id, 1)
    again.finish()  # finished: the next auto start is a new run
    third = start(tmp_path, resume="auto")
    assert third.id != run.id and third.step == 0
    third.finish(status="canceled")  # canceled is a decision: not resumed either
    fourth = start(tmp_path, resume="auto")
    assert fourth.id not in (run.id, third.id)
    fourth.finish()


def test_auto_with_an_id_is_allow(tmp_path: Path) -> None:
    first_run(tmp_path)
    run = start(tmp_path, id="r1", resume="auto")
    assert run.step == 10
    run.finish()


def test_origin_and_writer_are_recorded(tmp_path: Path) -> None:
    run = start(tmp_path)
    run.finish()
    data = run_json(run.dir)
    assert data["origin"]["cwd"] == os.getcwd()
    assert data["writer"]["pid"] == os.getpid()


def test_catalog_sees_a_resumed_run_running_again(tmp_path: Path) -> None:
    first_run(tmp_path)
    api = runlab.Api(tmp_path)
    assert api.run("r1").status is RunStatus.FINISHED
    run = start(tmp_path, id="r1", resume="allow")
    api.store.sync(force=True)
    assert [v.status for v in api.runs()] == [RunStatus.RUNNING]
    run.finish(status="killed")
    api.store.sync(force=True)
    assert [v.status for v in api.runs()] == [RunStatus.KILLED]
    api.close()


def test_steps_scan_reads_steps_only(tmp_path: Path) -> None:
    with start(tmp_path, id="s") as run:
        for i in range(5):
            run.log({"a": float(i)}, step=i * 10)
        run.log({"b": 1.0}, step=41)
        run.log({"a": math.nan}, step=45)
    scan = scan_steps(run.dir)
    assert scan.last_step == 45
    assert scan.key_last_step == {"a": 45, "b": 41}


def test_torn_tail_is_cut_before_the_resumed_run_appends(tmp_path: Path) -> None:
    run_dir = first_run(tmp_path)
    with open(run_dir / "history.rlog", "ab") as f:
        f.write(b"RF\x01\x00\xff\xff\x00\x00garbage")  # a frame torn by a SIGKILL
    run = start(tmp_path, id="r1", resume="allow")
    run.log({"loss": 10.0})
    run.finish()
    frame = read_history(run_dir, ["loss"])
    assert frame["step"].to_list() == list(range(11))
    assert scan_steps(run_dir).report.torn_tail is False


def test_system_metric_samples_go_on_after_a_resume(tmp_path: Path) -> None:
    import time

    from runlab.storage._reader import read_system_metrics

    settings = {**FAST, "system_metrics_interval": 0.05}
    for resume in (None, "allow"):
        run = start(tmp_path, id="sys", resume=resume, settings=settings)
        run.log({"loss": 1.0})
        time.sleep(0.4)
        run.finish()
    steps = read_system_metrics(run.dir)["step"].to_list()
    assert len(steps) >= 4
    assert steps == list(range(len(steps)))  # one axis, no sample index used twice


def test_a_stop_request_of_the_ended_process_does_not_stop_the_resumed_run(
    tmp_path: Path,
) -> None:
    from runlab.storage._store import RunStore

    run = start(tmp_path, id="r1")
    assert RunStore(tmp_path).request_stop("r1")  # asked, then the process ended otherwise
    run.finish()
    assert (run.dir / "stop.json").exists()
    stops: list[float] = []
    resumed = start(tmp_path, id="r1", resume="must")
    resumed.on_stop(lambda: stops.append(1.0))
    assert not (resumed.dir / "stop.json").exists()
    resumed.log({"loss": 1.0})
    resumed._sync()  # a writer tick has checked for stop requests by now
    time.sleep(0.6)
    resumed.finish()
    assert stops == []
    assert run_json(resumed.dir)["status"] == "finished"
