"""Episodes on a live run: sampling, lifecycle, statuses, threads, artifacts, metrics."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

import runlab
from runlab.scenario import Scenario
from runlab.sdk._episode import EpisodeFinishedError, EpisodeStatus, flatten_params
from runlab.storage._episodes import read_episodes
from runlab.storage._reader import iter_events

FAST = {"quiet": True, "capture_output": False, "capture_git": False, "capture_packages": False}
SPEC = {
    "friction": "${uniform(0.2, 1.2)}",
    "robot": {"mass": "${gaussian(10, 1)}", "arm": "${categorical(['ur5', 'panda'])}"},
}


def events(run: runlab.Run) -> list[dict[str, object]]:
    return list(iter_events(run.dir))


def test_each_episode_samples_the_scenario_from_seed_and_index(tmp_path: Path) -> None:
    with runlab.init(dir=tmp_path, scenario=SPEC, seed=42, settings=FAST) as run:
        episodes = []
        for _ in range(5):
            with run.create_episode() as ep:
                episodes.append(ep)
    scenario = Scenario(SPEC)
    for k, ep in enumerate(episodes):
        alone = scenario.sample_episode(42, k)  # re-created without episodes 0..k-1
        assert ep.config.to_dict() == alone
        assert ep.friction == alone["friction"]
        assert ep.robot.mass == alone["robot"]["mass"]
        assert ep["robot.arm"] == alone["robot"]["arm"]
        assert ep.seed == scenario.episode_seed(42, k)
        assert ep.index == k and ep.status is EpisodeStatus.SUCCESS and ep.is_finished
    assert len({ep.friction for ep in episodes}) == 5


def test_a_run_without_seed_draws_and_records_one(tmp_path: Path) -> None:
    with runlab.init(dir=tmp_path, scenario=SPEC, settings=FAST) as run:
        assert isinstance(run.seed, int)
    data = json.loads((run.dir / "run.json").read_text())
    assert data["seed"] == run.seed
    assert json.loads((run.dir / "artifacts" / "seed.json").read_text()) == {"seed": run.seed}
    assert Scenario((run.dir / "artifacts" / "scenario.yaml").read_text()).sample(1) == Scenario(
        SPEC
    ).sample(1)


def test_statuses_and_double_finish(tmp_path: Path) -> None:
    with runlab.init(dir=tmp_path, scenario=SPEC, seed=1, settings=FAST) as run:
        a = run.create_episode()
        a.finish(status=EpisodeStatus.FINISHED)  # HumaLab's name for SUCCESS
        assert a.status is EpisodeStatus.SUCCESS
        with pytest.raises(EpisodeFinishedError, match="already ended"):
            a.finish()
        with pytest.raises(EpisodeFinishedError):
            a.log({"x": 1.0})
        b = run.create_episode()
        b.fail("fell over")
        c = run.create_episode()
        c.cancel()
        d = run.create_episode(episode_id="custom")
        d.finish(EpisodeStatus.ERRORED, "sim crashed")
        with pytest.raises(ValueError, match="already used"):
            run.create_episode(episode_id="custom")
        with pytest.raises(RuntimeError), run.create_episode() as e:
            raise RuntimeError("boom")
        with run.create_episode() as f:
            f.fail()  # set inside the block: leaving it does not overwrite
        open_one = run.create_episode()
    ends = {ev["episode_id"]: ev for ev in events(run) if ev["type"] == "episode_end"}
    assert [ends[x.episode_id]["status"] for x in (a, b, c, d, e, f)] == [
        "SUCCESS",
        "FAILED",
        "CANCELED",
        "ERRORED",
        "ERRORED",
        "FAILED",
    ]
    assert ends["custom"]["err_msg"] == "sim crashed"
    assert "RuntimeError: boom" in str(ends[e.episode_id]["traceback"])
    # An episode still open when the run finishes takes the run's outcome.
    assert open_one.status is EpisodeStatus.SUCCESS
    assert ends[open_one.episode_id]["err_msg"] == "run ended finished"


def test_unfinished_episodes_of_a_failed_run_are_errored(tmp_path: Path) -> None:
    with pytest.raises(ValueError), runlab.init(dir=tmp_path, scenario=SPEC, settings=FAST) as run:
        ep = run.create_episode()
        raise ValueError("bad")
    assert ep.status is EpisodeStatus.ERRORED


def test_episode_metrics_follow_the_log_rules(tmp_path: Path) -> None:
    with (
        runlab.init(dir=tmp_path, scenario=SPEC, seed=3, settings=FAST) as run,
        run.create_episode() as ep,
    ):
        ep.log({"reward": 1.0})
        ep.log({"reward": 2.0, "pose": {"x": 0.5}})
        ep.log({"success": True}, step=5)
        with pytest.raises(runlab.StepOrderError, match="reward"):
            ep.log({"reward": 0.0}, step=0)
        with pytest.raises(runlab.LogTypeError, match="note"):
            ep.log({"note": "text"})
    end = next(ev for ev in events(run) if ev["type"] == "episode_end")
    assert end["metrics"] == {"reward": 2.0, "pose/x": 0.5, "success": True}


def test_episodes_from_eight_threads_at_once(tmp_path: Path) -> None:
    per_thread = 25
    with runlab.init(dir=tmp_path, scenario=SPEC, seed=9, settings=FAST) as run:

        def worker() -> None:
            for _ in range(per_thread):
                with run.create_episode() as ep:
                    ep.log({"success": ep.friction > 0.7})

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    ends = [ev for ev in events(run) if ev["type"] == "episode_end"]
    assert sorted(int(str(ev["index"])) for ev in ends) == list(range(8 * per_thread))
    scenario = Scenario(SPEC)
    records = read_episodes(run.dir)
    assert [r.index for r in records] == list(range(8 * per_thread))
    for r in records:
        assert r.params["friction"] == scenario.sample_episode(9, r.index)["friction"]
        assert r.seed == scenario.episode_seed(9, r.index) and r.status == "SUCCESS"


def test_reserved_names_and_code_artifacts(tmp_path: Path) -> None:
    code = tmp_path / "agent.py"
    code.write_text("def act(obs):\n    return 0\n")
    with runlab.init(dir=tmp_path / "store", scenario=SPEC, seed=1, settings=FAST) as run:
        for bad in ("scenario", "seed"):
            with pytest.raises(ValueError, match="reserved"):
                run.log({bad: 1.0})
            with pytest.raises(ValueError, match="reserved"):
                run.add_metric(bad, runlab.metrics.Metrics())
            with pytest.raises(ValueError, match="reserved"):
                run.log_code(bad, "x = 1")
        run.log_code(key="agent_code", code_content=code.read_text())
        with run.create_episode() as ep:
            ep.log_code("policy", "print('hi')")
        saved = run.save(code)
        with pytest.raises(FileNotFoundError):
            run.save(tmp_path / "missing.txt")
        with pytest.raises(ValueError, match="not a valid file name"):
            run.save(code, name="../escape.py")
    assert (run.dir / "artifacts" / "code" / "agent_code").read_text() == code.read_text()
    assert (run.dir / "artifacts" / "episodes" / "0" / "code" / "policy").exists()
    assert saved == run.dir / "files" / "agent.py" and saved.read_text() == code.read_text()


def test_add_metric_keeps_the_display_hint_and_reduction(tmp_path: Path) -> None:
    with runlab.init(dir=tmp_path, scenario=SPEC, seed=1, settings=FAST) as run:
        run.add_metric("overall_score", runlab.metrics.Metrics(graph="bar"))
        run.add_metric("best", runlab.metrics.Summary(kind="max"))
        with pytest.raises(ValueError, match="graph must be one of"):
            runlab.metrics.Metrics(graph="pie")  # type: ignore[arg-type]
        for value in (1.0, 5.0, 2.0):
            run.log({"overall_score": value, "best": value})
    data = json.loads((run.dir / "run.json").read_text())
    assert data["metrics"]["overall_score"]["graph"] == "bar"
    assert data["summary"] == {"overall_score": 2.0, "best": 5.0}


def test_live_run_reads_its_episodes_and_stats(tmp_path: Path) -> None:
    with runlab.init(
        dir=tmp_path, scenario={"f": "${uniform(0, 1)}"}, seed=4, settings=FAST
    ) as run:
        for _ in range(40):
            with run.create_episode() as ep:
                if ep.f < 0.5:
                    ep.fail("too slippery")
        frame = run.episodes()
        assert frame.height == 40
        assert frame["f"].to_list() == [
            Scenario({"f": "${uniform(0, 1)}"}).sample_episode(4, k)["f"] for k in range(40)
        ]
        stats = run.scenario_stats(bins=2)
    low, high = stats.filter(stats["parameter"] == "f").sort("lo").rows(named=True)
    assert low["success_rate"] == 0.0 and high["success_rate"] == 1.0
    assert low["n"] + high["n"] == 40


def test_an_episode_open_across_a_flush_is_announced_before_it_ends(tmp_path: Path) -> None:
    settings = {**FAST, "flush_interval": 0.02}
    with runlab.init(dir=tmp_path, scenario=SPEC, seed=2, settings=settings) as run:
        quick = run.create_episode()
        quick.finish()
        slow = run.create_episode()
        for _ in range(200):  # bounded: the writer ticks every 10 ms
            if any(e["type"] == "episode_start" for e in events(run)):
                break
            threading.Event().wait(0.01)
        starts = [e for e in events(run) if e["type"] == "episode_start"]
        assert [e["index"] for e in starts] == [slow.index]  # the quick one never needed it
        [record] = [r for r in read_episodes(run.dir, unfinished="RUNNING") if r.index == 1]
        assert record.status == "RUNNING" and record.params == flatten_params(slow.config.to_dict())
        slow.finish()
    records = read_episodes(run.dir)
    assert [(r.index, r.status) for r in records] == [(0, "SUCCESS"), (1, "SUCCESS")]
    assert records[0].params == flatten_params(quick.config.to_dict())
    assert records[0].seed == quick.seed
