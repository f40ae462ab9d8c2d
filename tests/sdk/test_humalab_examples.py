"""Every example of HumaLab's "Runs & Episodes" page (shared/seeds/000), in runlab's names."""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import SimpleNamespace

import pytest

import runlab
from runlab import EpisodeStatus, RunStatus


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RUNLAB_DIR", str(tmp_path))
    monkeypatch.setenv("RUNLAB_SILENT", "1")
    monkeypatch.setenv("RUNLAB_CAPTURE_OUTPUT", "0")
    monkeypatch.setenv("RUNLAB_CAPTURE_PACKAGES", "0")
    return tmp_path


def run_json(run: runlab.Run) -> dict[str, object]:
    data: dict[str, object] = json.loads((run.dir / "run.json").read_text())
    return data


def test_creating_a_run_and_its_properties() -> None:
    with runlab.init(
        scenario={"param": "${uniform(0, 10)}"},
        project="my_project",
        name="my_run",
        description="Testing parameter variations",
        tags=["experiment", "v1"],
    ) as run:
        assert (run.name, run.description, run.project) == (
            "my_run",
            "Testing parameter variations",
            "my_project",
        )
        assert list(run.tags) == ["experiment", "v1"] and len(run.id) == 8
        assert run.scenario is not None and list(run.scenario.parameters) == ["param"]
    assert run_json(run)["status"] == "finished"


def test_creating_episodes_with_and_without_an_id() -> None:
    with runlab.init(scenario={"param": "${uniform(0, 10)}"}) as run:
        with run.create_episode() as episode:
            assert 0 <= episode.param <= 10
        with run.create_episode(episode_id="custom_episode_id") as episode:
            assert episode.episode_id == "custom_episode_id"


def test_episode_lifecycle_with_explicit_finish() -> None:
    def my_validation_function(config: object) -> SimpleNamespace:
        return SimpleNamespace(score=0.9)

    with runlab.init(scenario={"param": "${uniform(0, 10)}"}) as run:
        with run.create_episode() as episode:
            try:
                result = my_validation_function(episode.config)
                episode.log({"score": result.score})
                episode.finish(status=EpisodeStatus.FINISHED)
            except Exception as e:
                episode.finish(status=EpisodeStatus.ERRORED, err_msg=str(e))
        assert episode.status is EpisodeStatus.SUCCESS
        with run.create_episode() as broken:
            try:
                raise RuntimeError("gripper stuck")
            except Exception as e:
                broken.finish(status=EpisodeStatus.ERRORED, err_msg=str(e))
        assert (broken.status, broken.err_msg) == (EpisodeStatus.ERRORED, "gripper stuck")
        # Accessing episode data
        assert episode.episode_id and episode.is_finished
        assert set(episode.scenario) == {"param"}


def test_context_manager_pattern_and_multiple_episodes() -> None:
    def validate(scenario: object) -> float:
        return random.Random(0).random()

    def my_validation(episode: runlab.Episode) -> SimpleNamespace:
        return SimpleNamespace(success=episode.param > 5, score=episode.param / 10)

    run = runlab.Run(scenario={"param": "${uniform(0, 10)}"}, project="p")
    with run:
        for _ in range(100):
            with run.create_episode() as episode:
                result = validate(episode.scenario)
                episode.log({"metric": result})
        for _ in range(100):
            with run.create_episode() as episode:
                outcome = my_validation(episode)
                episode.log({"success": outcome.success, "score": outcome.score})
    assert run.status is RunStatus.FINISHED
    assert run_json(run)["episodes"] == 200


def test_run_level_logging() -> None:
    with runlab.init(scenario={"param": "${uniform(0, 10)}"}) as run:
        metric = runlab.metrics.Metrics()
        run.add_metric("overall_score", metric)
        for _ in range(100):
            with run.create_episode() as episode:
                run.log({"overall_score": episode.param})
    assert runlab.Api().run(run.id).history(["overall_score"]).height == 100


@pytest.mark.parametrize(
    ("kwargs", "stored"),
    [
        ({}, ("finished", None)),
        ({"status": RunStatus.FINISHED}, ("finished", None)),
        (
            {"status": RunStatus.ERRORED, "err_msg": "Something went wrong"},
            ("failed", "Something went wrong"),
        ),
        ({"status": RunStatus.CANCELED}, ("canceled", None)),
    ],
)
def test_finishing_runs(kwargs: dict[str, object], stored: tuple[str, str | None]) -> None:
    run = runlab.init(scenario={"param": "${uniform(0, 10)}"})
    run.finish(**kwargs)  # type: ignore[arg-type]
    data = run_json(run)
    assert (data["status"], data["err_msg"]) == stored


def test_automatic_and_code_artifacts(tmp_path: Path) -> None:
    agent = tmp_path / "agent.py"
    agent.write_text("def act(obs):\n    return 0\n")
    with runlab.init(project="my_project", scenario={"param": "${uniform(0, 10)}"}, seed=42) as run:
        with open(agent) as f:
            code = f.read()
        run.log_code(key="agent_code", code_content=code)
    artifacts = run.dir / "artifacts"
    assert json.loads((artifacts / "seed.json").read_text()) == {"seed": 42}
    assert "uniform" in (artifacts / "scenario.yaml").read_text()
    assert (artifacts / "code" / "agent_code").read_text() == code


def test_best_practices_batches_and_graceful_errors() -> None:
    scenario = runlab.scenarios.Scenario()
    scenario.init(scenario={"friction": "${uniform(0.2, 1.2)}"})
    run = runlab.Run(
        scenario=scenario,
        name="param_sweep_20261122_120000",
        description="Sweeping friction parameters",
        tags=["sweep", "friction", "v2"],
    )
    with run:
        for _batch in range(3):
            for _ in range(10):
                with run.create_episode() as episode:
                    try:
                        if episode.friction > 1.1:
                            raise ValueError("slipped")
                        episode.finish(EpisodeStatus.FINISHED)
                    except Exception as e:
                        episode.finish(EpisodeStatus.ERRORED, str(e))
    assert run_json(run)["episodes"] == 30


def test_complete_example() -> None:
    def train_model(lr: float, batch_size: int) -> SimpleNamespace:
        return SimpleNamespace(accuracy=1 - lr, loss=lr * batch_size)

    scenario = runlab.scenarios.Scenario()
    scenario.init(
        scenario={
            "learning_rate": "${log_uniform(0.0001, 0.1)}",
            "batch_size": "${discrete(3, [32, 64, 128], [0.3, 0.5, 0.2])}",
        }
    )
    run = runlab.Run(
        scenario=scenario,
        project="hyperparameter_search",
        name="lr_batch_sweep",
        tags=["training", "optimization"],
    )
    with run:
        for _ in range(50):
            with run.create_episode() as episode:
                model = train_model(lr=episode.learning_rate, batch_size=episode.batch_size)
                assert episode.batch_size in (32, 64, 128)
                assert 0.0001 <= episode.learning_rate <= 0.1
                episode.log({"accuracy": model.accuracy, "loss": model.loss})
    runlab.finish()
    assert run.status is RunStatus.FINISHED and run_json(run)["episodes"] == 50
