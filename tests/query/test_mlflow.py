"""MLflow run directories: finding them, and reading them as runlab run views."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

import runlab
from runlab._errors import RunNotFound, StorageError
from runlab._status import RunStatus
from runlab.query._mlflow import (
    MlflowRunView,
    is_mlflow_run_dir,
    iter_run_dirs,
    load_mlflow_run,
    nest,
    parse_param,
)
from runlab.query._view import BaseRunView

MLRUNS = Path(__file__).parent / "fixtures" / "mlruns"
RUN_A = "aa11aa11aa11aa11aa11aa11aa11aa11"  # mnist-mlp, finished, params + metrics + tags
RUN_B = "bb22bb22bb22bb22bb22bb22bb22bb22"  # mnist-mlp, failed, .hydra/config.yaml
RUN_C = "cc33cc33cc33cc33cc33cc33cc33cc33"  # cifar-cnn, running


def names(dirs: object) -> list[str]:
    return [p.name for p in dirs]  # type: ignore[attr-defined]


def view(run_id: str) -> MlflowRunView:
    (path,) = (p for p in iter_run_dirs(MLRUNS) if p.name == run_id)
    return load_mlflow_run(path)


# -- iter_run_dirs -----------------------------------------------------------------------------


def test_iter_run_dirs_skips_trash_default_and_dirs_without_artifacts() -> None:
    dirs = list(iter_run_dirs(MLRUNS))
    assert names(dirs) == [RUN_A, RUN_B, RUN_C]
    assert [p.parent.name for p in dirs] == ["1", "1", "2"]
    assert all(p.is_dir() for p in dirs)
    assert runlab.iter_run_dirs is iter_run_dirs
    assert list(iter_run_dirs(str(MLRUNS))) == dirs


@pytest.mark.parametrize(
    ("experiment_names", "expected"),
    [
        (None, [RUN_A, RUN_B, RUN_C]),
        ("mnist-mlp", [RUN_A, RUN_B]),
        ("cifar-*", [RUN_C]),
        ("*-mlp", [RUN_A, RUN_B]),
        ("nope", []),
        (["cifar-cnn"], [RUN_C]),
        (["cifar-cnn", "mnist-*"], [RUN_A, RUN_B, RUN_C]),
        ([], []),
        (("mnist-mlp",), [RUN_A, RUN_B]),
        (lambda name: name.startswith("cifar"), [RUN_C]),
        (lambda name: True, [RUN_A, RUN_B, RUN_C]),
        # The Default experiment and .trash stay skipped even when asked for by name.
        ("Default", []),
        ("deleted-exp", []),
    ],
)
def test_iter_run_dirs_selects_experiments_by_name(
    experiment_names: object, expected: list[str]
) -> None:
    assert names(iter_run_dirs(MLRUNS, experiment_names)) == expected  # type: ignore[arg-type]


def test_iter_run_dirs_sorts_by_experiment_dir_then_run_dir(tmp_path: Path) -> None:
    for exp, runs in [("20", ["b", "a"]), ("10", ["z", "c"])]:
        for run in runs:
            (tmp_path / exp / run / "artifacts").mkdir(parents=True)
    (tmp_path / "10" / "meta.yaml").write_text("name: x\n")
    (tmp_path / "stray.txt").write_text("not an experiment")
    assert [f"{p.parent.name}/{p.name}" for p in iter_run_dirs(tmp_path)] == [
        "10/c",
        "10/z",
        "20/a",
        "20/b",
    ]
    # An experiment without meta.yaml is named by its directory.
    assert names(iter_run_dirs(tmp_path, "20")) == ["a", "b"]
    assert list(iter_run_dirs(tmp_path / "missing")) == []


# -- loading one run ---------------------------------------------------------------------------


def test_meta_yaml_gives_id_name_project_status_and_times() -> None:
    a, b, c = view(RUN_A), view(RUN_B), view(RUN_C)
    assert (a.id, a.name, a.project, a.status) == (
        RUN_A,
        "brave-owl-1",
        "mnist-mlp",
        RunStatus.FINISHED,
    )
    assert (a.created_at, a.ended_at) == (1700000100.0, 1700000160.5)
    assert (b.status, b.project) == (RunStatus.FAILED, "mnist-mlp")
    assert (c.status, c.ended_at, c.project) == (RunStatus.RUNNING, None, "cifar-cnn")
    assert a.dir == MLRUNS / "1" / RUN_A
    assert a.artifacts_dir == a.dir / "artifacts"
    assert "brave-owl-1" in repr(a)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("1", RunStatus.RUNNING),
        ("2", RunStatus.RUNNING),  # scheduled: not ended yet
        ("3", RunStatus.FINISHED),
        ("4", RunStatus.FAILED),
        ("5", RunStatus.KILLED),
        ("FINISHED", RunStatus.FINISHED),
        ("killed", RunStatus.KILLED),
    ],
)
def test_every_mlflow_status_maps_to_a_runlab_status(
    tmp_path: Path, raw: str, status: RunStatus
) -> None:
    (tmp_path / "meta.yaml").write_text(f"run_id: r\nstatus: {raw}\nstart_time: 0\n")
    assert load_mlflow_run(tmp_path).status is status


def test_an_unknown_status_or_a_missing_meta_yaml_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RunNotFound, match=r"no meta\.yaml"):
        load_mlflow_run(tmp_path)
    (tmp_path / "meta.yaml").write_text("run_id: r\nstatus: 9\n")
    with pytest.raises(StorageError, match="unknown MLflow status 9"):
        _ = load_mlflow_run(tmp_path).status
    (tmp_path / "meta.yaml").write_text("run_id: [unclosed\n")
    with pytest.raises(StorageError, match="cannot parse"):
        load_mlflow_run(tmp_path)
    assert not is_mlflow_run_dir(tmp_path)
    assert is_mlflow_run_dir(MLRUNS / "1" / RUN_A)
    assert not is_mlflow_run_dir(MLRUNS / "1")  # an experiment, not a run


def test_name_falls_back_to_the_run_name_tag_then_the_id(tmp_path: Path) -> None:
    (tmp_path / "meta.yaml").write_text("run_id: r1\nstatus: 3\nstart_time: 5000\n")
    assert load_mlflow_run(tmp_path).name == "r1"
    (tmp_path / "tags").mkdir()
    (tmp_path / "tags" / "mlflow.runName").write_text("from-tag")
    assert load_mlflow_run(tmp_path).name == "from-tag"


def test_tags_keep_user_tags_as_key_value_and_all_tags_in_mlflow_tags() -> None:
    a = view(RUN_A)
    assert a.tags == ("baseline", "owner=alice")
    assert a.mlflow_tags == {
        "baseline": "",
        "mlflow.runName": "brave-owl-1",
        "owner": "alice",
    }
    assert view(RUN_C).tags == ()


def test_config_comes_from_params_when_there_is_no_hydra_config() -> None:
    a = view(RUN_A)
    assert a.config == {"lr": 0.001, "model": {"depth": 4, "use_bn": True}}
    assert a.params == {"lr": "0.001", "model.depth": "4", "model.use_bn": "True"}
    a.config["lr"] = 5  # a copy: the view does not change
    assert a.config["lr"] == 0.001
    assert view(RUN_C).config == {}


def test_config_comes_from_hydra_config_yaml_when_present() -> None:
    b = view(RUN_B)
    assert b.config == {"lr": 0.01, "model": {"depth": 8, "act": "relu"}, "layers": [64, 32]}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("-12", -12),
        ("0.001", 0.001),
        ("1e-4", 1e-4),
        ("-2.5E3", -2500.0),
        (".5", 0.5),
        ("inf", math.inf),
        ("True", True),
        ("false", False),
        ("None", None),
        ("null", None),
        ("[1, 2]", [1, 2]),
        ("(1, 'a')", [1, "a"]),
        ("{'a': [1, 2]}", {"a": [1, 2]}),
        ("adam", "adam"),
        ("[not python", "[not python"),
        ("[__import__('os')]", "[__import__('os')]"),  # literal_eval, never eval
        ("1_000", "1_000"),
        ("", ""),
        ("0x10", "0x10"),
    ],
)
def test_param_text_reads_back_as_the_logged_value(text: str, value: object) -> None:
    assert parse_param(text) == value


def test_parse_param_reads_nan() -> None:
    assert math.isnan(parse_param("nan"))


def test_dotted_param_keys_nest_and_conflicts_stay_flat() -> None:
    assert nest({"a.b.c": 1, "a.d": 2, "e": 3}) == {"a": {"b": {"c": 1}, "d": 2}, "e": 3}
    assert nest({"a": 1, "a.b": 2}) == {"a": 1, "a.b": 2}


def test_summary_is_the_last_value_by_step_then_timestamp() -> None:
    assert view(RUN_A).summary == {"loss": 0.25, "train/acc": 0.9}
    summary_b = view(RUN_B).summary
    assert math.isnan(summary_b["loss"])
    assert view(RUN_C).summary == {"loss": 3.0}


def test_history_has_step_timestamp_and_one_column_per_key() -> None:
    a = view(RUN_A)
    assert a.history_keys() == ["loss", "train/acc"]
    frame = a.history()
    assert frame.columns == ["step", "timestamp", "loss", "train/acc"]
    assert frame["step"].to_list() == [0, 1, 2]
    # two points at step 1: the later one is kept, and its time is the step's time
    assert frame["loss"].to_list() == [1.0, 0.4, 0.25]
    assert frame["train/acc"].to_list() == [None, 0.8, 0.9]
    assert frame["timestamp"].to_list() == [1700000101.0, 1700000103.0, 1700000104.0]

    only = a.history(["train/acc", "never"])
    assert only.columns == ["step", "timestamp", "train/acc", "never"]
    assert only["step"].to_list() == [1, 2]
    assert only["never"].to_list() == [None, None]
    assert view(RUN_A).history([]).columns == ["step", "timestamp"]


def test_history_matches_the_shape_of_runlab_runs(tmp_path: Path) -> None:
    run = runlab.init(
        dir=tmp_path, settings={"quiet": True, "capture_output": False, "capture_git": False}
    )
    run.log({"loss": 1.0})
    run.finish()
    ours = runlab.Api(tmp_path).run(run.id).history()
    theirs = view(RUN_C).history()
    assert ours.schema == theirs.schema


def test_a_malformed_metric_line_names_the_file_and_line(tmp_path: Path) -> None:
    run = tmp_path / "r"
    shutil.copytree(MLRUNS / "2" / RUN_C, run)
    (run / "metrics" / "loss").write_text("1700000401000 3.0 0\ngarbage\n")
    with pytest.raises(StorageError, match=r"loss:2: expected"):
        _ = load_mlflow_run(run).summary


def test_metric_lines_without_a_step_read_as_step_zero(tmp_path: Path) -> None:
    (tmp_path / "meta.yaml").write_text("run_id: r\nstatus: 3\nstart_time: 0\n")
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "acc").write_text("1000 0.5\n2000 0.7\n")
    assert load_mlflow_run(tmp_path).summary == {"acc": 0.7}


def test_mlflow_views_answer_the_shared_run_view_api() -> None:
    a = view(RUN_A)
    assert isinstance(a, BaseRunView)
    info = a.info
    assert (info.run_id, info.job_name, info.status) == (RUN_A, "mnist-mlp", "finished")
    assert (info.start_time, info.end_time, info.run_dir) == (1700000100.0, 1700000160.5, a.dir)
    assert a.get("model__depth") == 4
    assert a["model.use_bn"] is True
    assert a.get("loss") == 0.25  # from the summary
    assert a.get("job_name") == "mnist-mlp"
    assert a.get("missing", 7) == 7
    with pytest.raises(AttributeError, match="No such key: missing"):
        a.get("missing")
    assert view(RUN_B).cfg["model"]["act"] == "relu"


# -- runs written by the real mlflow package ----------------------------------------------------


def test_runs_written_by_mlflow_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.chdir(tmp_path)
    tracking = tmp_path / "mlruns"
    mlflow.set_tracking_uri(tracking.as_uri())
    try:
        mlflow.set_experiment("sweep-a")
        with mlflow.start_run(run_name="first") as active:
            mlflow.log_params({"lr": 0.001, "model.depth": 4, "flag": True, "opt": "adam"})
            for step, loss in enumerate([1.0, 0.5, 0.25]):
                mlflow.log_metric("loss", loss, step=step)
            mlflow.log_metric("val/acc", 0.75, step=2)
            mlflow.set_tag("baseline", "")
            mlflow.set_tag("owner", "bob")
        first_id = active.info.run_id
        with mlflow.start_run(run_name="second") as active:
            mlflow.log_param("lr", 0.01)
            hydra = tmp_path / ".hydra"
            hydra.mkdir()
            (hydra / "config.yaml").write_text("lr: 0.01\nmodel:\n  depth: 2\n")
            mlflow.log_artifact(str(hydra))
        second_id = active.info.run_id
        mlflow.set_experiment("other")
        with mlflow.start_run(run_name="third"):
            mlflow.log_metric("loss", 9.0)
        mlflow.set_experiment("sweep-b")
        with mlflow.start_run(run_name="fourth"):
            pass
        mlflow.end_run()
    finally:
        mlflow.set_tracking_uri(None)

    dirs = list(iter_run_dirs(tracking, "sweep-*"))
    views = [load_mlflow_run(p) for p in dirs]
    assert sorted(v.name for v in views) == ["first", "fourth", "second"]
    assert len(list(iter_run_dirs(tracking))) == 4

    first = next(v for v in views if v.id == first_id)
    assert (first.project, first.status) == ("sweep-a", RunStatus.FINISHED)
    assert first.ended_at is not None and first.created_at <= first.ended_at
    assert first.config == {"lr": 0.001, "model": {"depth": 4}, "flag": True, "opt": "adam"}
    assert first.summary == {"loss": 0.25, "val/acc": 0.75}
    frame = first.history()
    assert frame["step"].to_list() == [0, 1, 2]
    assert frame["loss"].to_list() == [1.0, 0.5, 0.25]
    assert frame["val/acc"].to_list() == [None, None, 0.75]
    assert first.tags == ("baseline", "owner=bob")
    assert first.mlflow_tags["mlflow.runName"] == "first"

    second = next(v for v in views if v.id == second_id)
    assert second.config == {"lr": 0.01, "model": {"depth": 2}}
    assert second.summary == {}
