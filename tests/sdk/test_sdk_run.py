"""A run's life: defaults and settings, config and summary, the current run, ending states."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sdk_helpers import FAST, start

import runlab
from runlab import RunStatus, Settings, SettingsError
from runlab.storage._layout import RUN_JSON, read_json
from runlab.storage._reader import read_series


def run_json(run: runlab.Run) -> dict[str, Any]:
    data: dict[str, Any] = read_json(run.dir / RUN_JSON)
    return data


def eventually(run: runlab.Run, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The run's ``run.json`` once ``check`` holds for it (the writer saves it off-thread)."""
    deadline = time.monotonic() + 5
    while True:
        data = run_json(run)
        if check(data) or time.monotonic() > deadline:
            assert check(data), data
            return data
        time.sleep(0.01)


def values(run: runlab.Run, key: str) -> list[Any]:
    return read_series(run.dir)[key].values.tolist()  # type: ignore[no-any-return]


# -- defaults, environment, settings -----------------------------------------------------------


def test_init_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = runlab.init(settings=FAST)
    assert run.project == "default"
    assert run.dir.resolve() == (tmp_path / "runlab" / "runs" / run.id).resolve()
    assert re.fullmatch(r"[a-z0-9]{8}", run.id)
    match = re.fullmatch(r"([a-z]+)-([a-z]+)-(\d+)", run.name)
    assert match and 1 <= int(match[3]) <= 99
    assert run.status is RunStatus.RUNNING
    assert (run.tags, run.notes, run.description, dict(run.config)) == ((), None, None, {})
    assert run.settings.flush_interval == 0.1
    assert run.step == 0
    data = run_json(run)
    assert (data["id"], data["name"], data["project"], data["status"]) == (
        run.id,
        run.name,
        "default",
        "running",
    )
    run.finish()
    assert run.status is RunStatus.FINISHED
    assert run_json(run)["status"] == "finished"


def test_ids_and_names_differ_between_runs(tmp_path: Path) -> None:
    runs = [start(tmp_path) for _ in range(20)]
    for run in runs:
        run.finish()
    assert len({r.id for r in runs}) == 20
    assert len({r.name for r in runs}) > 1


def test_environment_sets_project_dir_and_flush_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNLAB_PROJECT", "from-env")
    monkeypatch.setenv("RUNLAB_DIR", str(tmp_path / "env-store"))
    monkeypatch.setenv("RUNLAB_FLUSH_INTERVAL", "0.5")
    monkeypatch.setenv("RUNLAB_SILENT", "1")
    run = runlab.init(settings={"capture_output": False, "capture_git": False})
    assert run.project == "from-env"
    assert run.dir == tmp_path / "env-store" / "runs" / run.id
    assert run.settings.flush_interval == 0.5
    assert run.settings.quiet is True
    run.finish()
    assert not (tmp_path / "runlab").exists()


def test_explicit_values_win_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNLAB_PROJECT", "from-env")
    monkeypatch.setenv("RUNLAB_DIR", str(tmp_path / "env-store"))
    monkeypatch.setenv("RUNLAB_FLUSH_INTERVAL", "0.5")
    run = runlab.init(
        project="explicit",
        dir=tmp_path / "arg-store",
        settings={**FAST, "flush_interval": 0.05},
    )
    assert run.project == "explicit"
    assert run.dir == tmp_path / "arg-store" / "runs" / run.id
    assert run.settings.flush_interval == 0.05
    run.finish()
    # A Settings object counts as explicit in every field; direct arguments still win over it.
    s = Settings.resolve(Settings(project="object"))
    assert (s.project, s.flush_interval, s.dir) == ("object", 0.1, "./runlab")
    s = Settings.resolve(Settings(project="object"), project="argument")
    assert s.project == "argument"


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("RUNLAB_FLUSH_INTERVAL", "fast"),
        ("RUNLAB_FLUSH_INTERVAL", "-1"),
        ("RUNLAB_FLUSH_INTERVAL", "0"),
        ("RUNLAB_FLUSH_INTERVAL", "inf"),
        ("RUNLAB_BUFFER_SIZE", "1.5"),
        ("RUNLAB_BUFFER_SIZE", "0"),
        ("RUNLAB_MODE", "sometimes"),
        ("RUNLAB_QUIET", "maybe"),
        ("RUNLAB_WRITE_THROUGH", "2"),
    ],
)
def test_a_bad_environment_value_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, raw: str
) -> None:
    monkeypatch.setenv(name, raw)
    with pytest.raises(SettingsError) as info:
        start(tmp_path)
    assert isinstance(info.value, ValueError)
    assert f"{name}={raw!r}" in str(info.value)
    assert runlab.run is None


def test_a_setting_given_explicitly_hides_a_bad_environment_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNLAB_MODE", "sometimes")
    monkeypatch.setenv("RUNLAB_FLUSH_INTERVAL", "-1")
    run = start(tmp_path, mode="online", settings={**FAST, "flush_interval": 0.2})
    assert (run.settings.mode, run.settings.flush_interval) == ("online", 0.2)


def test_settings_may_be_a_dict_or_a_settings_object(tmp_path: Path) -> None:
    by_dict = start(tmp_path, settings={**FAST, "heartbeat_interval": 3.0})
    by_object = start(tmp_path, settings=Settings(**FAST, heartbeat_interval=4.0))  # type: ignore[arg-type]
    assert by_dict.settings.heartbeat_interval == 3.0
    assert by_object.settings.heartbeat_interval == 4.0
    assert by_object.settings.quiet is True
    assert run_json(by_object)["heartbeat_interval"] == 4.0


def test_an_unknown_setting_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        start(tmp_path, settings={"quiet": True, "flush_intervall": 0.1})
    message = str(info.value)
    assert "flush_intervall" in message
    assert "flush_interval" in message.split("known:")[1]
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"mode": "sometimes"}, ["'sometimes'", "online, offline, disabled"]),
        ({"settings": {"flush_interval": 0}}, ["flush_interval=0", "> 0"]),
        # Too long for the writer thread's timed wait: it would die and flush no more.
        ({"settings": {"flush_interval": float("inf")}}, ["flush_interval=inf", "at most"]),
        ({"settings": {"flush_interval": 1e10}}, ["flush_interval=10000000000.0", "at most"]),
        ({"settings": {"heartbeat_interval": float("nan")}}, ["heartbeat_interval=nan"]),
        ({"settings": {"buffer_size": 0}}, ["buffer_size=0", ">= 1"]),
    ],
)
def test_a_bad_setting_value_states_the_rule(
    tmp_path: Path, kwargs: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises(SettingsError) as info:
        runlab.init(dir=tmp_path, **kwargs)
    for word in words:
        assert word in str(info.value)


# -- config ----------------------------------------------------------------------------------------


def test_config_has_attribute_and_nested_access(tmp_path: Path) -> None:
    run = start(tmp_path, config={"lr": 3e-4, "optim": {"name": "adam", "betas": (0.9, 0.99)}})
    assert run.config.lr == 3e-4
    assert run.config["lr"] == 3e-4
    assert run.config.optim.name == "adam"
    assert run.config["optim"]["betas"] == [0.9, 0.99]
    assert dict(run.config.optim) == {"name": "adam", "betas": [0.9, 0.99]}
    assert "lr" in run.config
    assert run.config.get("missing", 7) == 7
    with pytest.raises(AttributeError, match="'missing'"):
        _ = run.config.missing
    with pytest.raises(KeyError):
        _ = run.config["missing"]
    with pytest.raises(TypeError, match="must be str"):
        run.config[1] = 2  # type: ignore[index]
    with pytest.raises(AttributeError, match="'_private'"):
        run.config._private = 1


def test_config_changes_are_saved_while_the_run_goes_on(tmp_path: Path) -> None:
    run = start(tmp_path, config={"lr": 0.1, "optim": {"name": "adam"}})
    assert run_json(run)["config"] == {"lr": 0.1, "optim": {"name": "adam"}}
    run.config.batch = 64
    run.config.optim.name = "sgd"  # a nested change saves too
    run.config.update({"epochs": 3}, seed=1)
    del run.config["lr"]
    want = {"optim": {"name": "sgd"}, "batch": 64, "epochs": 3, "seed": 1}
    assert run.config.to_dict() == want
    eventually(run, lambda d: d["config"] == want)
    run.finish()
    run.config.after = True  # still saved once the run has finished
    assert run_json(run)["config"] == {**want, "after": True}


def test_config_given_at_init_is_copied(tmp_path: Path) -> None:
    given = {"optim": {"name": "adam"}}
    run = start(tmp_path, config=given)
    run.config.optim.name = "sgd"
    assert given == {"optim": {"name": "adam"}}


def test_descriptive_fields_are_mutable_and_saved(tmp_path: Path) -> None:
    run = start(tmp_path, name="first", tags=["a", "b", "a"], notes="n", description="d", group="g")
    assert (run.name, run.tags, run.notes, run.description) == ("first", ("a", "b"), "n", "d")
    run.name = "renamed"
    run.tags = ["x"]
    run.notes = "new notes"
    run.description = None
    data = eventually(run, lambda d: d["name"] == "renamed" and d["notes"] == "new notes")
    assert (data["tags"], data["description"], data["group"]) == (["x"], None, "g")
    with pytest.raises(ValueError, match="tag ''"):
        run.tags = [""]
    assert run.tags == ("x",)


# -- summary ---------------------------------------------------------------------------------------


def test_summary_is_the_last_value_by_default(tmp_path: Path) -> None:
    run = start(tmp_path)
    for i in range(5):
        run.log({"loss": 1.0 / (i + 1), "epoch": i})
    assert run.summary["loss"] == 0.2
    assert dict(run.summary) == {"loss": 0.2, "epoch": 4}
    run.log({"loss": 0.1})
    assert run.summary["loss"] == 0.1
    run.finish()
    assert run_json(run)["summary"] == {"loss": 0.1, "epoch": 4}


def test_define_metric_chooses_each_summary(tmp_path: Path) -> None:
    run = start(tmp_path)
    run.define_metric("loss", summary="min", goal="minimize")
    run.define_metric("acc", summary="max", goal="maximize")
    run.define_metric("reward", summary="mean")
    run.define_metric("lr", summary="first")
    run.define_metric("debug/*", summary="none")
    run.define_metric("val/*", summary="max")
    run.define_metric("val/loss", summary="min")  # an exact name wins over a glob
    nan = float("nan")
    batches = [
        {"loss": [3.0, 1.0, nan], "acc": [0.1, 0.7], "reward": [1.0, nan, 2.0]},
        {"loss": [2.0], "acc": [0.5], "reward": [6.0], "lr": [0.1, 0.01]},
    ]
    for batch in batches:
        for key, vals in batch.items():
            for v in vals:
                run.log({key: v, "debug/grad": v, "val/acc": v, "val/loss": v, "other": v})
        dict(run.summary)  # next batch in another frame: summaries fold across flushes
    summary = dict(run.summary)
    assert summary["loss"] == 1.0
    assert summary["acc"] == 0.7
    assert summary["reward"] == 3.0  # mean of 1, 2, 6 (NaN skipped)
    assert summary["lr"] == 0.1
    assert "debug/grad" not in summary
    assert summary["val/acc"] == 6.0
    assert summary["val/loss"] == 0.01
    assert summary["other"] == 0.01
    run.finish()
    data = run_json(run)
    assert data["metrics"]["loss"] == {
        "summary": "min",
        "goal": "minimize",
        "step_metric": None,
        "graph": None,
    }
    assert data["metrics"]["val/*"]["summary"] == "max"
    assert "debug/grad" not in data["summary"]


def test_a_user_set_summary_value_stands_until_the_key_is_logged_again(tmp_path: Path) -> None:
    run = start(tmp_path)
    run.log({"acc": 0.5})
    run.summary["acc"] = 0.99
    run.summary["best_epoch"] = 7  # never logged
    run.log({"loss": 1.0})
    assert run.summary["acc"] == 0.99
    eventually(run, lambda d: d["summary"].get("best_epoch") == 7)
    run.log({"acc": 0.6})
    assert run.summary["acc"] == 0.6
    assert run.summary["best_epoch"] == 7
    del run.summary["loss"]
    assert "loss" not in run.summary
    with pytest.raises(KeyError):
        del run.summary["never"]
    run.finish()
    assert run_json(run)["summary"] == {"acc": 0.6, "best_epoch": 7}


@pytest.mark.parametrize("kind", ["median", "MIN", "", None])
def test_a_bad_summary_kind_lists_the_allowed_ones(tmp_path: Path, kind: Any) -> None:
    run = start(tmp_path)
    with pytest.raises(ValueError, match="min, max, mean, first, last, none") as info:
        run.define_metric("loss", summary=kind)
    assert "'loss'" in str(info.value)


def test_a_bad_goal_lists_the_allowed_ones(tmp_path: Path) -> None:
    run = start(tmp_path)
    with pytest.raises(ValueError, match="minimize, maximize"):
        run.define_metric("loss", goal="lower")


# -- the current run -------------------------------------------------------------------------------


def test_module_level_names_follow_the_current_run(tmp_path: Path) -> None:
    assert runlab.run is None
    assert runlab.config is None
    assert runlab.summary is None
    with pytest.raises(runlab.RunlabError, match="no active run"):
        runlab.log({"x": 1.0})
    runlab.finish()  # nothing open: does nothing

    a = start(tmp_path)
    assert runlab.run is a
    assert runlab.config is a.config
    assert runlab.summary is a.summary
    runlab.log({"x": 1.0})
    runlab.config.lr = 0.1

    b = start(tmp_path)
    assert runlab.run is b
    runlab.log({"x": 2.0})
    runlab.finish()  # finishes b, a is current again
    assert b.status is RunStatus.FINISHED
    assert runlab.run is a
    runlab.log({"x": 3.0})
    runlab.finish()
    assert runlab.run is None
    assert runlab.config is None
    assert values(a, "x") == [1.0, 3.0]
    assert values(b, "x") == [2.0]
    assert run_json(a)["config"] == {"lr": 0.1}


def test_runs_in_two_threads_each_log_to_their_own(tmp_path: Path) -> None:
    barrier = threading.Barrier(2)
    runs: dict[int, runlab.Run] = {}
    errors: list[BaseException] = []

    def train(k: int) -> None:
        try:
            runs[k] = start(tmp_path, config={"worker": k})
            barrier.wait()
            for i in range(300):
                runlab.log({"value": k * 1000 + i})
                assert runlab.config.worker == k
                if i % 50 == 0:
                    time.sleep(0.001)
            barrier.wait()
            runlab.finish()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=train, args=(k,)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for k, run in runs.items():
        assert run.status is RunStatus.FINISHED
        assert values(run, "value") == [k * 1000 + i for i in range(300)]
    assert runlab.run is None


def test_runs_in_two_asyncio_tasks_each_log_to_their_own(tmp_path: Path) -> None:
    async def train(k: int) -> runlab.Run:
        run = start(tmp_path)
        for i in range(100):
            runlab.log({"value": k * 1000 + i})
            runlab.summary["task"] = k
            await asyncio.sleep(0)
        assert runlab.run is run
        runlab.finish()
        return run

    async def main() -> list[runlab.Run]:
        return list(await asyncio.gather(train(1), train(2)))

    one, two = asyncio.run(main())
    assert values(one, "value") == [1000 + i for i in range(100)]
    assert values(two, "value") == [2000 + i for i in range(100)]
    assert run_json(one)["summary"]["task"] == 1
    assert run_json(two)["summary"]["task"] == 2


# -- disabled mode ---------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_disabled_mode_does_nothing_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    store = tmp_path / "store"
    monkeypatch.chdir(tmp_path)
    if how == "environment":
        monkeypatch.setenv("RUNLAB_MODE", "disabled")
        run = runlab.init(dir=store, config={"lr": 0.1})
    else:
        run = runlab.init(dir=store, config={"lr": 0.1}, mode="disabled")
    assert runlab.run is run
    run.log({"loss": 1.0})
    runlab.log({"loss": 2.0}, step=5)
    run.config.batch = 3
    run.name = "renamed"
    run.define_metric("loss", summary="min")
    run.summary["best"] = 1
    assert run.config.lr == 0.1
    runlab.finish()
    assert run.status is RunStatus.FINISHED
    assert runlab.run is None
    assert not store.exists()
    assert list(tmp_path.iterdir()) == []


# -- ending ----------------------------------------------------------------------------------------


def test_humalab_status_names_are_aliases() -> None:
    assert RunStatus("FINISHED") is RunStatus.FINISHED
    assert RunStatus("ERRORED") is RunStatus.FAILED
    assert RunStatus.ERRORED is RunStatus.FAILED
    assert RunStatus("CANCELED") is RunStatus.CANCELED
    assert RunStatus("cancelled") is RunStatus.CANCELED
    assert RunStatus(" Killed ") is RunStatus.KILLED
    assert str(RunStatus.FAILED) == "failed"
    assert RunStatus.FAILED == "failed"
    with pytest.raises(ValueError):
        RunStatus("exploded")


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (None, "finished"),
        ("FINISHED", "finished"),
        ("ERRORED", "failed"),
        ("CANCELED", "canceled"),
        ("killed", "killed"),
        (RunStatus.FAILED, "failed"),
    ],
)
def test_finish_records_the_given_state(tmp_path: Path, given: Any, stored: str) -> None:
    run = start(tmp_path)
    run.finish(status=given, err_msg="why" if given else None, exit_code=3 if given else None)
    assert run.status.value == stored
    data = run_json(run)
    assert data["status"] == stored
    assert data["ended_at"] >= data["created_at"]
    if given:
        assert (data["err_msg"], data["exit_code"]) == ("why", 3)
    run.finish(status="failed")  # a second finish does nothing
    assert run_json(run)["status"] == stored


@pytest.mark.parametrize("status", ["running", "crashed", RunStatus.RUNNING])
def test_finish_refuses_a_state_that_is_not_an_end(tmp_path: Path, status: Any) -> None:
    run = start(tmp_path)
    with pytest.raises(ValueError, match="finished, failed, killed or canceled"):
        run.finish(status=status)
    assert run.status is RunStatus.RUNNING
    run.log({"still": 1.0})  # the run is still open


def test_an_exception_in_a_with_block_fails_the_run(tmp_path: Path) -> None:
    with pytest.raises(ZeroDivisionError), start(tmp_path) as run:
        run.log({"x": 1.0})
        _ = 1 / 0
    assert run.status is RunStatus.FAILED
    data = run_json(run)
    assert data["err_msg"] == "ZeroDivisionError: division by zero"
    assert "ZeroDivisionError" in data["traceback"]
    assert values(run, "x") == [1.0]


# -- import-time behaviour and the public surface --------------------------------------------------

IMPORT_CHECK = """
import atexit, json, os, signal, sys
callbacks, hook, exit_ = atexit._ncallbacks(), sys.excepthook, sys.exit
term = signal.getsignal(signal.SIGTERM)
import runlab
found = {
    "heavy": sorted(m for m in ("polars", "sqlalchemy", "numpy", "rich", "fastapi")
                    if m in sys.modules),
    "hooks_at_import": [atexit._ncallbacks() != callbacks, sys.excepthook is not hook,
                        sys.exit is not exit_, signal.getsignal(signal.SIGTERM) is not term],
    "files_at_import": os.listdir("."),
}
run = runlab.init(settings={"quiet": True, "capture_output": False, "capture_git": False,
                            "capture_env": False, "capture_packages": False})
found["hooks_after_init"] = [atexit._ncallbacks() > callbacks, sys.excepthook is not hook]
run.finish()
print(json.dumps(found))
"""


def test_import_is_cheap_and_changes_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLAB_")}
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_CHECK],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found == {
        "heavy": [],
        "hooks_at_import": [False, False, False, False],
        "files_at_import": [],
        "hooks_after_init": [True, True],
    }


def test_the_public_names_are_pinned() -> None:
    assert runlab.__all__ == [
        "AlertLevel",
        "Api",
        "Config",
        "ConfigMismatchError",
        "CorruptRecord",
        "Episode",
        "EpisodeFinishedError",
        "EpisodeStatus",
        "ExperimentError",
        "ExperimentGrid",
        "FilterSyntaxError",
        "InvalidRunId",
        "LogKeyError",
        "LogTypeError",
        "MultipleMatchError",
        "NoMatchError",
        "Run",
        "RunActiveError",
        "RunCollection",
        "RunExistsError",
        "RunFinishedError",
        "RunNotFound",
        "RunStatus",
        "RunView",
        "RunlabError",
        "RunlabWarning",
        "Scenario",
        "ScenarioError",
        "Settings",
        "SettingsError",
        "StepOrderError",
        "StorageError",
        "Summary",
        "SweepError",
        "__version__",
        "alert",
        "call_experiment",
        "config",
        "finish",
        "init",
        "iter_run_dirs",
        "log",
        "metrics",
        "run",
        "runs",
        "scenarios",
        "setup_logger_kwargs",
        "summary",
        "sweep",
    ]
    for name in runlab.__all__:
        assert hasattr(runlab, name), name
    errors = [getattr(runlab, n) for n in runlab.__all__ if n.endswith(("Error", "Id", "Found"))]
    assert all(issubclass(e, runlab.RunlabError) for e in errors)


def test_an_empty_log_call_advances_the_step_and_faults_nothing(tmp_path: Path) -> None:
    run = runlab.init(dir=tmp_path, settings=FAST)
    run.log({})
    run.log({"loss": 1.0})
    assert run.summary["loss"] == 1.0
    run.finish()
    assert run.faults == ()
    frame = runlab.Api(tmp_path).run(run.id).history()
    assert frame["step"].to_list() == [1]


def test_launcher_environment_fills_run_fields_and_joins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNLAB_RUN_ID", "variant-7")
    monkeypatch.setenv("RUNLAB_RUN_NAME", "exp_lr0-1")
    monkeypatch.setenv("RUNLAB_RUN_GROUP", "exp")
    monkeypatch.setenv("RUNLAB_RUN_CONFIG", '{"lr": 0.1, "seed": 0}')
    outer = runlab.init(dir=tmp_path, config={"seed": 3}, settings=FAST)
    assert (outer.id, outer.name, outer.group) == ("variant-7", "exp_lr0-1", "exp")
    assert outer.config.to_dict() == {"lr": 0.1, "seed": 3}  # explicit config wins
    monkeypatch.setenv("RUNLAB_JOIN_RUN", "variant-7")
    inner = runlab.init(dir=tmp_path, config={"epochs": 2}, settings=FAST)
    assert inner is outer and outer.config["epochs"] == 2
    outer.finish()
    monkeypatch.setenv("RUNLAB_RUN_CONFIG", "[1]")
    monkeypatch.delenv("RUNLAB_JOIN_RUN")
    with pytest.raises(runlab.RunlabError, match="RUNLAB_RUN_CONFIG"):
        runlab.init(dir=tmp_path, settings=FAST)
