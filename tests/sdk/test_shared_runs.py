"""Shared runs (``init(id=..., shared=True, label=...)``): arguments, layout, merge rules.

Several processes of one job are played here by several ``Run`` objects of one process (each
still has its own writer and files); ``tests/e2e/test_shared_runs.py`` runs real processes.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from sdk_helpers import FAST

import runlab
from runlab import RunExistsError, RunStatus
from runlab.storage._layout import RANK_JSON, RANKS_DIR, RUN_JSON, read_json, run_dir
from runlab.storage._ranks import claim_json, label_key


def join(tmp_path: Path, label: str | None = None, run_id: str = "job", **kw: Any) -> runlab.Run:
    settings = {**FAST, **kw.pop("settings", {})}
    return runlab.init(
        project="p", id=run_id, dir=tmp_path, shared=True, label=label, settings=settings, **kw
    )


def view(tmp_path: Path, run_id: str = "job") -> runlab.RunView:
    return runlab.Api(tmp_path).run(run_id)


# -- arguments ---------------------------------------------------------------------------------


def test_shared_needs_an_id(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="RUNLAB_RUN_ID"):
        runlab.init(dir=tmp_path, shared=True, label="rank-1", settings=FAST)


def test_shared_takes_the_id_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNLAB_RUN_ID", "slurm-42")
    monkeypatch.setenv("RUNLAB_RESUME", "allow")  # a new label: started, nothing to resume
    run = runlab.init(dir=tmp_path, shared=True, label="rank-1", settings=FAST)
    assert run.id == "slurm-42"
    assert run.dir == run_dir(tmp_path, "slurm-42") / RANKS_DIR / "rank-1"


def test_label_needs_shared(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"label='rank-1' needs shared=True"):
        runlab.init(id="job", dir=tmp_path, label="rank-1", settings=FAST)


@pytest.mark.parametrize("label", ["", "../up", "a/b", ".hidden", "x" * 65, "tab\t", 3])
def test_label_must_be_a_safe_directory_name(tmp_path: Path, label: Any) -> None:
    with pytest.raises(ValueError, match=r"label .* is invalid: .*A-Z a-z 0-9 \. _ -"):
        join(tmp_path, label)
    assert not (tmp_path / "runs").exists()


def test_owner_label_is_reserved(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'owner' is reserved"):
        join(tmp_path, "owner")


@pytest.mark.parametrize("label", [None, "rank-1"])
@pytest.mark.parametrize(
    "kw", [{"fork_from": "job?_step=1"}, {"resume_from": "job?_step=1"}], ids=["fork", "rewind"]
)
def test_shared_is_not_forked_or_rewound(
    tmp_path: Path, label: str | None, kw: dict[str, Any]
) -> None:
    owner = join(tmp_path)
    owner.log({"a": 1})
    owner.log({"a": 2})
    owner.finish()
    with pytest.raises(ValueError, match="shared=True cannot be combined with fork_from or "):
        join(tmp_path, label, **kw)


def test_plain_runs_are_unchanged(tmp_path: Path) -> None:
    run = runlab.init(id="plain", dir=tmp_path, settings=FAST)
    run.log({"a": 1})
    run.finish()
    assert not (run.dir / RANKS_DIR).exists()
    v = view(tmp_path, "plain")
    assert v.history()["a"].to_list() == [1]
    assert [(r.label, r.owner, r.status) for r in v.ranks()] == [
        ("owner", True, RunStatus.FINISHED)
    ]


# -- layout and start order ------------------------------------------------------------------


def test_a_rank_before_its_owner_writes_no_run_json(tmp_path: Path) -> None:
    rank = join(tmp_path, "rank-1", config={"mine": 1})
    rank.log({"rank-1/loss": 0.5})
    root = run_dir(tmp_path, "job")
    assert not (root / RUN_JSON).exists()
    assert runlab.Api(tmp_path).runs() == []  # not listed before its owner starts
    owner = join(tmp_path, config={"lr": 0.1})
    assert [v.id for v in runlab.Api(tmp_path).runs()] == ["job"]
    rank.finish()
    owner.finish()
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.json")) == [
        "ranks/rank-1/rank.json",
        "run.json",
    ]
    state = read_json(root / RANKS_DIR / "rank-1" / RANK_JSON)
    assert state["shared"] == {"label": "rank-1", "owner": False}
    assert state["config"] == {"mine": 1}
    assert view(tmp_path).config == {"lr": 0.1}  # the run's config is the owner's


def test_one_owner_per_run(tmp_path: Path) -> None:
    join(tmp_path)
    with pytest.raises(RunExistsError, match="already has an owner"):
        join(tmp_path, "rank-0")


def test_owner_cannot_take_a_plain_runs_id(tmp_path: Path) -> None:
    runlab.init(id="job", dir=tmp_path, settings=FAST).finish()
    with pytest.raises(RunExistsError, match="already has an owner"):
        join(tmp_path)


def test_a_label_is_taken_once(tmp_path: Path) -> None:
    join(tmp_path, "rank-1")
    with pytest.raises(RunExistsError, match="'rank-1' is already taken"):
        join(tmp_path, "rank-1")


def test_a_deleted_runs_id_stays_retired(tmp_path: Path) -> None:
    runlab.init(id="job", dir=tmp_path, settings=FAST).finish()
    runlab.Api(tmp_path).delete("job")
    with pytest.raises(RunExistsError, match="deleted run"):
        join(tmp_path, "rank-1")


def test_claim_json_is_exclusive(tmp_path: Path) -> None:
    claim_json(tmp_path / "x.json", {"a": 1})
    with pytest.raises(FileExistsError):
        claim_json(tmp_path / "x.json", {"a": 2})
    assert read_json(tmp_path / "x.json") == {"a": 1}
    assert os.listdir(tmp_path) == ["x.json"]  # no temporary file left behind


def test_a_rank_may_join_a_plain_run(tmp_path: Path) -> None:
    plain = runlab.init(id="job", dir=tmp_path, settings=FAST)
    plain.log({"a": 1})
    plain.finish()
    rank = join(tmp_path, "late")
    rank.log({"b": 2})
    rank.finish()
    v = view(tmp_path)
    assert v.history().select("a", "b").row(0) == (1, 2)
    assert [r.label for r in v.ranks()] == ["owner", "late"]


# -- merging ------------------------------------------------------------------------------------


def test_merge_keeps_the_owner_then_ranks_in_label_order(tmp_path: Path) -> None:
    owner = join(tmp_path, "rank-0")
    ranks = {label: join(tmp_path, label) for label in ("rank-10", "rank-2")}
    for step in range(4):
        if step % 2 == 0:
            owner.log({"loss": 0 + step}, step=step)
        ranks["rank-10"].log({"loss": 1000 + step, "rank-10/x": step}, step=step)
        if step < 3:
            ranks["rank-2"].log({"loss": 200 + step}, step=step)
    ranks["rank-10"].log({"loss": 1099}, step=9)
    for run in (*ranks.values(), owner):
        run.finish()
    v = view(tmp_path)
    merged = v.history()
    assert merged["step"].to_list() == [0, 1, 2, 3, 9]
    # step 0 and 2: the owner; 1: rank-2 before rank-10 (natural order); 3 and 9: rank-10 alone
    assert merged["loss"].to_list() == [0, 201, 2, 1003, 1099]
    assert merged["rank-10/x"].to_list() == [0, 1, 2, 3, None]
    assert v.history_keys() == ["loss", "rank-10/x"]
    assert v.history(rank="rank-2")["loss"].to_list() == [200, 201, 202]
    assert v.history(rank="rank-0")["loss"].to_list() == [0, 2]
    assert v.history(rank="rank-10", keys=["loss"])["loss"].to_list() == [
        1000,
        1001,
        1002,
        1003,
        1099,
    ]
    assert [r.label for r in v.ranks()] == ["rank-0", "rank-2", "rank-10"]
    with pytest.raises(ValueError, match=r"no rank 'rank-3' \(it has: 'rank-0', 'rank-2'"):
        v.history(rank="rank-3")


def test_label_order_is_natural() -> None:
    labels = ["rank-10", "rank-2", "b", "a", "rank-1"]
    assert sorted(labels, key=label_key) == ["a", "b", "rank-1", "rank-2", "rank-10"]


def test_summaries_and_states_stay_per_process(tmp_path: Path) -> None:
    owner = join(tmp_path)
    good = join(tmp_path, "rank-1")
    owner.log({"loss": 1.0})
    good.log({"rank-1/loss": 2.0})
    good.summary["best"] = 7
    good.finish()
    with pytest.raises(RuntimeError), join(tmp_path, "rank-2") as bad:
        bad.log({"rank-2/loss": 3.0})
        raise RuntimeError("out of memory on rank 2")
    assert bad.status is RunStatus.FAILED
    v = view(tmp_path)
    assert v.status is RunStatus.RUNNING  # a failed rank does not end the run
    owner.finish()
    v = view(tmp_path)
    assert v.status is RunStatus.FINISHED
    assert v.summary == {"loss": 1.0}  # the run's summary is the owner's
    by_label = {r.label: r for r in v.ranks()}
    assert by_label["owner"].owner and by_label["owner"].status is RunStatus.FINISHED
    assert by_label["rank-1"].summary == {"rank-1/loss": 2.0, "best": 7}
    assert by_label["rank-2"].status is RunStatus.FAILED
    assert by_label["rank-2"].err_msg == "RuntimeError: out of memory on rank 2"
    assert by_label["rank-2"].pid == os.getpid()
    assert v.history()["rank-2/loss"].drop_nulls().to_list() == [3.0]


def test_system_metrics_per_process(tmp_path: Path) -> None:
    owner = join(tmp_path, settings={"system_metrics_interval": 0.05})
    rank = join(tmp_path, "rank-1", settings={"system_metrics_interval": 0.05})
    owner.log({"loss": 1.0})
    rank.log({"loss": 2.0}, step=1)
    time.sleep(0.4)
    rank.finish()
    owner.finish()
    v = view(tmp_path)
    mine = v.system_metrics(rank="rank-1")
    assert len(mine) >= 1 and "system/proc.rss_mb" in mine.columns
    assert len(v.system_metrics()) >= 1
    assert all(not k.startswith("system/") for k in v.history().columns)
    assert v.history(rank="rank-1").columns == ["step", "timestamp", "loss"]


def test_a_stop_request_reaches_every_rank(tmp_path: Path) -> None:
    owner = join(tmp_path, settings={"heartbeat_interval": 0.1})
    rank = join(tmp_path, "rank-1", settings={"heartbeat_interval": 0.1})
    asked: list[str] = []
    owner.on_stop(lambda: asked.append("owner"))
    rank.on_stop(lambda: asked.append("rank-1"))
    assert runlab.Api(tmp_path).stop("job") == ["job"]
    deadline = time.monotonic() + 10
    while len(asked) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sorted(asked) == ["owner", "rank-1"]


def test_a_rank_whose_heartbeat_lapsed_reads_crashed(tmp_path: Path) -> None:
    owner = join(tmp_path)
    rank = join(tmp_path, "rank-1")
    rank.finish()
    state = read_json(rank.dir / RANK_JSON)
    state.update(status="running", ended_at=None, heartbeat_at=time.time() - 1000)
    (rank.dir / RANK_JSON).write_text(json.dumps(state), encoding="utf-8")  # a SIGKILLed rank
    by_label = {r.label: r for r in view(tmp_path).ranks()}
    assert by_label["rank-1"].status is RunStatus.CRASHED
    assert by_label["rank-1"].stored_status is RunStatus.RUNNING
    assert by_label["owner"].status is RunStatus.RUNNING  # the run's state is the owner's
    owner.finish()
