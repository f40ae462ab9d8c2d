"""Episodes of a shared run: every process's are read back, each tagged with its rank.

The owner and its ranks are played by several ``Run`` objects of one process, as in
``test_shared_runs.py``; each writes its own log.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sdk_helpers import FAST

import runlab
from runlab.query._episodes import FIXED_COLUMNS
from runlab.scenario import Scenario
from runlab.storage._episodes import EpisodeNotFound
from runlab.storage._layout import RANK_JSON, read_json

SPEC = {"friction": "${uniform(0.2, 1.2)}"}


def join(tmp_path: Path, label: str | None, **kw: Any) -> runlab.Run:
    kw.setdefault("settings", FAST)
    return runlab.init(project="p", id="job", dir=tmp_path, shared=True, label=label, **kw)


def play(run: runlab.Run, rewards: list[float], fail: int | None = None) -> None:
    for i, reward in enumerate(rewards):
        with run.create_episode() as episode:
            episode.log({"reward": reward})
            episode.log({"reward": reward + 0.5})
            if i == fail:
                episode.finish("FAILED", "dropped it")


@pytest.fixture
def shared(tmp_path: Path) -> runlab.RunView:
    """An owner with 3 episodes, ``rank-10`` with 2, ``rank-2`` with 2 (one failed)."""
    owner = join(tmp_path, None, scenario=SPEC, seed=1)
    far = join(tmp_path, "rank-10", scenario=SPEC, seed=3)
    near = join(tmp_path, "rank-2", scenario=SPEC, seed=2)
    play(owner, [0.0, 1.0, 2.0])
    play(far, [100.0, 101.0])
    play(near, [20.0, 21.0], fail=1)
    for run in (near, far, owner):
        run.finish()
    return runlab.Api(tmp_path).run("job")


def test_every_process_episodes_owner_first_then_ranks_in_label_order(
    shared: runlab.RunView,
) -> None:
    frame = shared.episodes()
    assert frame.columns[:3] == ["episode_id", "index", "rank"]
    assert frame.get_column("rank").to_list() == ["owner"] * 3 + ["rank-2"] * 2 + ["rank-10"] * 2
    assert frame.get_column("index").to_list() == [0, 1, 2, 0, 1, 0, 1]
    assert frame.get_column("reward").to_list() == [0.5, 1.5, 2.5, 20.5, 21.5, 100.5, 101.5]
    assert frame.get_column("status").to_list() == ["SUCCESS"] * 4 + ["FAILED"] + ["SUCCESS"] * 2
    assert [r.rank for r in shared.episode_records()] == frame.get_column("rank").to_list()


def test_each_process_samples_its_own_scenario_and_seed(shared: runlab.RunView) -> None:
    scenario = Scenario(SPEC)
    frame = shared.episodes()
    expected = [
        scenario.sample_episode(seed, i)["friction"]
        for seed, n in ((1, 3), (2, 2), (3, 2))
        for i in range(n)
    ]
    assert frame.get_column("friction").to_list() == expected
    assert frame.get_column("seed").to_list() == [
        scenario.episode_seed(seed, i) for seed, n in ((1, 3), (2, 2), (3, 2)) for i in range(n)
    ]


def test_find_an_episode_by_rank(shared: runlab.RunView) -> None:
    assert shared.episode(1).rank == "owner"  # no rank: the owner's
    assert shared.episode(1).metrics == {"reward": 1.5}
    failed = shared.episode(1, rank="rank-2")
    assert (failed.rank, failed.status, failed.err_msg) == ("rank-2", "FAILED", "dropped it")
    assert shared.episode("000001", rank="rank-10").metrics == {"reward": 101.5}
    assert shared.episode(0, rank="owner").metrics == {"reward": 0.5}
    with pytest.raises(EpisodeNotFound, match=r"rank 'rank-2' has 2 episodes"):
        shared.episode(2, rank="rank-2")
    with pytest.raises(EpisodeNotFound, match=r"rank 'rank-7' has no episodes"):
        shared.episode(0, rank="rank-7")


def test_episode_history_by_rank(shared: runlab.RunView) -> None:
    assert shared.episode_history(1).get_column("reward").to_list() == [1.0, 1.5]
    history = shared.episode_history(1, ["reward"], rank="rank-10")
    assert history.columns == ["step", "timestamp", "reward"]
    assert history.get_column("reward").to_list() == [101.0, 101.5]
    assert shared.episode_history("000000", rank="rank-2").get_column("reward").to_list() == [
        20.0,
        20.5,
    ]
    with pytest.raises(EpisodeNotFound):
        shared.episode_history(5, rank="rank-2")


def test_scenario_stats_count_every_process(shared: runlab.RunView) -> None:
    stats = shared.scenario_stats(bins=2)
    assert stats.get_column("n").sum() == 7
    assert stats.get_column("SUCCESS").sum() == 6 and stats.get_column("FAILED").sum() == 1
    by_reward = shared.scenario_stats(bins=1, outcome="reward")
    assert by_reward.get_column("count").to_list() == [7]


def test_an_open_episode_reads_by_its_own_process(tmp_path: Path) -> None:
    quick = {**FAST, "flush_interval": 0.02}  # an open episode is announced on a writer tick
    owner = join(tmp_path, "rank-0", scenario=SPEC, seed=1, settings=quick)
    alive = join(tmp_path, "rank-1", scenario=SPEC, seed=2, settings=quick)
    # No heartbeat rewrites rank-2's rank.json during the test.
    slow = {**quick, "heartbeat_interval": 3600.0}
    lost = join(tmp_path, "rank-2", scenario=SPEC, seed=3, settings=slow)
    opened = [run.create_episode() for run in (owner, alive, lost)]
    deadline = time.monotonic() + 10
    while len(runlab.Api(tmp_path).run("job").episode_records()) < 3:
        assert time.monotonic() < deadline, "open episodes were not announced"
        time.sleep(0.02)
    state = read_json(lost.dir / RANK_JSON)  # rank-2 as a SIGKILLed rank leaves it
    state.update(status="running", ended_at=None, heartbeat_at=time.time() - 10**6)
    (lost.dir / RANK_JSON).write_text(json.dumps(state), encoding="utf-8")
    try:
        view = runlab.Api(tmp_path).run("job")
        assert view.episodes().select("rank", "status").rows() == [
            ("rank-0", "RUNNING"),
            ("rank-1", "RUNNING"),
            ("rank-2", "INTERRUPTED"),
        ]
        assert view.episode(0, rank="owner").rank == "rank-0"  # "owner" names it too
        stats = view.scenario_stats(bins=1)
        assert stats.select("n", "RUNNING", "INTERRUPTED").rows() == [(3, 2, 1)]
    finally:
        for episode in opened:
            episode.finish()
        for run in (lost, alive, owner):
            run.finish()


def test_a_rank_without_a_scenario_has_episodes_without_parameters(tmp_path: Path) -> None:
    with join(tmp_path, None, scenario=SPEC, seed=1) as owner, join(tmp_path, "rank-1") as rank:
        play(owner, [1.0])
        play(rank, [2.0])
    frame = runlab.Api(tmp_path).run("job").episodes()
    assert frame.select("rank", "friction").rows() == [
        ("owner", Scenario(SPEC).sample_episode(1, 0)["friction"]),
        ("rank-1", None),
    ]


def test_a_plain_run_has_no_rank_column(tmp_path: Path) -> None:
    with runlab.init(dir=tmp_path, scenario=SPEC, seed=1, settings=FAST) as run:
        play(run, [1.0, 2.0])
    view = runlab.Api(tmp_path).run(run.id)
    assert view.episodes().columns == [*FIXED_COLUMNS, "friction", "reward"]
    assert all(r.rank is None for r in view.episode_records())
    assert view.episode(1, rank="owner").index == 1


def test_a_live_owner_sees_every_process_and_a_rank_its_own(tmp_path: Path) -> None:
    with join(tmp_path, None, scenario=SPEC, seed=1) as owner, join(tmp_path, "rank-1") as rank:
        play(owner, [1.0])
        play(rank, [2.0, 3.0])
        rank._sync()
        assert owner.episodes().get_column("rank").to_list() == ["owner", "rank-1", "rank-1"]
        assert rank.episodes().columns[:2] == ["episode_id", "index"]
        assert len(rank.episodes()) == 2
