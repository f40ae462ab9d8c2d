"""Resuming a shared run (``init(id=..., shared=True, label=..., resume=...)``) in one process.

The processes of a job are played by ``Run`` objects of this process, as in
``test_shared_runs.py``. A process that "ended without finishing" is one whose state file still
says ``running`` while its writer is gone: here its heartbeat is made old and its writer another
host's, which is what a SIGKILLed process on another node leaves. ``tests/e2e`` kills real
processes.
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
from runlab import RunExistsError, RunNotFound, RunStatus
from runlab.storage._layout import RANK_JSON, RANKS_DIR, RUN_JSON, read_json, run_dir
from runlab.storage._ranks import process_history

LABELS = (None, "rank-1", "rank-2")


def join(tmp_path: Path, label: str | None = None, **kw: Any) -> runlab.Run:
    settings = {**FAST, **kw.pop("settings", {})}
    return runlab.init(
        project="p", id="job", dir=tmp_path, shared=True, label=label, settings=settings, **kw
    )


def state_file(tmp_path: Path, label: str | None) -> Path:
    root = run_dir(tmp_path, "job")
    return root / RUN_JSON if label is None else root / RANKS_DIR / label / RANK_JSON


def end_abruptly(run: runlab.Run, label: str | None) -> None:
    """Stop ``run``'s threads and leave its state file as a killed process leaves it."""
    run.finish()
    path = state_file(Path(run.settings.dir), label)
    data = read_json(path)
    data.update(
        status="running",
        ended_at=None,
        heartbeat_at=time.time() - 1000,
        writer={"pid": 1, "host": "another-node"},
    )
    path.write_text(json.dumps(data), encoding="utf-8")


def first_attempt(tmp_path: Path, steps: int) -> None:
    """Owner and two ranks log ``steps`` steps of their own keys, then end without finishing."""
    runs = {label: join(tmp_path, label, config={"who": label or "owner"}) for label in LABELS}
    for label, run in runs.items():
        run.define_metric(f"{label or 'owner'}/best", summary="max")
        for step in range(steps):
            run.log({"loss": step, f"{label or 'owner'}/best": step % 3}, step=step)
    for label, run in runs.items():
        end_abruptly(run, label)


def test_owner_and_ranks_resume_after_their_own_last_step(tmp_path: Path) -> None:
    first_attempt(tmp_path, 5)
    # A different number of steps per process reached each log: each goes on after its own.
    rank1_log = state_file(tmp_path, "rank-1").parent / "history.rlog"
    owner_json = state_file(tmp_path, None).read_bytes()
    with open(rank1_log, "ab") as f:
        f.write(b"RF\x01\x00\xff\xff\x00\x00garbage")  # a frame torn by a SIGKILL
    # Ranks restart first: they must not touch the owner's record.
    rank2 = join(tmp_path, "rank-2", resume="allow")
    rank1 = join(tmp_path, "rank-1", resume=True)
    assert state_file(tmp_path, None).read_bytes() == owner_json
    owner = join(tmp_path, resume="must")
    assert (owner.step, rank1.step, rank2.step) == (5, 5, 5)
    assert owner.status is RunStatus.RUNNING
    assert rank1.dir == run_dir(tmp_path, "job") / RANKS_DIR / "rank-1"
    assert dict(rank1.config) == {"who": "rank-1"}  # each process keeps its own config
    assert dict(owner.config) == {"who": "owner"}
    assert rank2.summary["rank-2/best"] == 2  # the max goes on from the stored summary
    view = runlab.Api(tmp_path).run("job")
    assert view.status is RunStatus.RUNNING
    for label, run in (("rank-2", rank2), ("rank-1", rank1), (None, owner)):
        for step in range(run.step, 8):
            run.log({"loss": step, f"{label or 'owner'}/best": 0}, step=step)
        run.finish()
    view = runlab.Api(tmp_path).run("job")
    assert view.status is RunStatus.FINISHED
    assert view.config == {"who": "owner"}
    for label in ("owner", "rank-1", "rank-2"):
        mine = view.history(rank=label)
        assert mine["step"].to_list() == list(range(8)), label
        assert mine["loss"].to_list() == list(range(8)), label
    merged = view.history()
    assert merged["step"].to_list() == list(range(8))
    assert merged["rank-1/best"].to_list() == [0, 1, 2, 0, 1, 0, 0, 0]
    states = {r.label: r for r in view.ranks()}
    assert [s.status for s in states.values()] == [RunStatus.FINISHED] * 3
    assert states["rank-2"].summary["rank-2/best"] == 2
    owner_state = read_json(state_file(tmp_path, None))
    assert [r["step"] for r in owner_state["resumed"]] == [5]
    assert owner_state["shared"] == {"label": None, "owner": True}
    assert owner_state["writer"]["pid"] == os.getpid()
    assert [r["step"] for r in read_json(state_file(tmp_path, "rank-1"))["resumed"]] == [5]
    assert (tmp_path / "runs" / ".resumed" / "job").exists()


def test_a_rank_resumes_before_its_owner_restarts(tmp_path: Path) -> None:
    first_attempt(tmp_path, 3)
    rank = join(tmp_path, "rank-1", resume="allow")
    rank.log({"loss": 3})
    rank.finish()
    assert read_json(state_file(tmp_path, None))["status"] == "running"  # still the owner's
    assert runlab.Api(tmp_path).run("job").status is RunStatus.CRASHED
    owner = join(tmp_path, resume="allow")
    assert runlab.Api(tmp_path).run("job").status is RunStatus.RUNNING
    owner.finish()
    assert runlab.Api(tmp_path).run("job").history(rank="rank-1")["step"].to_list() == [0, 1, 2, 3]


@pytest.mark.parametrize("label", [None, "rank-1"])
def test_a_live_process_is_not_resumed(tmp_path: Path, label: str | None) -> None:
    live = join(tmp_path, label)
    live.log({"loss": 1})
    with pytest.raises(RunExistsError, match=r"still running \(process \d+ on this host"):
        join(tmp_path, label, resume="allow")
    live.finish()
    assert live.status is RunStatus.FINISHED  # the refused resume changed nothing
    mine = process_history(run_dir(tmp_path, "job"), label or "owner")
    assert mine["loss"].to_list() == [1]


def test_a_live_rank_on_another_host_is_refused_by_its_heartbeat(tmp_path: Path) -> None:
    rank = join(tmp_path, "rank-1")
    rank.finish()
    path = state_file(tmp_path, "rank-1")
    data = read_json(path)
    data.update(status="running", heartbeat_at=time.time(), writer={"pid": 1, "host": "n2"})
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(RunExistsError, match=r"rank 'rank-1' .* heartbeat is recent"):
        join(tmp_path, "rank-1", resume="allow")


def test_a_label_claimed_without_a_state_file_is_taken_over_once_old(tmp_path: Path) -> None:
    home = run_dir(tmp_path, "job") / RANKS_DIR / "rank-5"
    home.mkdir(parents=True)  # a rank killed between its claim and its first rank.json
    with pytest.raises(RunExistsError, match="heartbeat is recent"):
        join(tmp_path, "rank-5", resume="allow")
    os.utime(home, (time.time() - 1000, time.time() - 1000))
    run = join(tmp_path, "rank-5", resume="allow")
    run.log({"loss": 0})
    run.finish()
    assert read_json(home / RANK_JSON)["status"] == "finished"


def test_must_needs_this_processs_part(tmp_path: Path) -> None:
    rank = join(tmp_path, "rank-1")
    rank.finish()
    with pytest.raises(RunNotFound, match=r"resume='must': shared run 'job' .* no run.json"):
        join(tmp_path, resume="must")
    with pytest.raises(RunNotFound, match=r"no ranks/rank-2/ for rank 'rank-2'"):
        join(tmp_path, "rank-2", resume="must")
    join(tmp_path, "rank-1", resume="must").finish()  # a finished rank may be resumed


def test_allow_starts_a_missing_part(tmp_path: Path) -> None:
    owner = join(tmp_path, resume="allow")
    rank = join(tmp_path, "rank-1", resume="allow")
    assert (owner.step, rank.step) == (0, 0)
    rank.finish()
    owner.finish()
    assert [r.label for r in runlab.Api(tmp_path).run("job").ranks()] == ["owner", "rank-1"]
    assert "resumed" not in read_json(state_file(tmp_path, None))


@pytest.mark.parametrize("resume", ["never", None])
def test_never_refuses_an_existing_part(tmp_path: Path, resume: str | None) -> None:
    first_attempt(tmp_path, 2)
    with pytest.raises(RunExistsError, match="already has an owner"):
        join(tmp_path, resume=resume)
    with pytest.raises(RunExistsError, match="'rank-1' is already taken"):
        join(tmp_path, "rank-1", resume=resume)


def test_the_environment_resumes_every_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_attempt(tmp_path, 4)
    monkeypatch.setenv("RUNLAB_RUN_ID", "job")
    monkeypatch.setenv("RUNLAB_RESUME", "allow")  # a requeued Slurm job
    runs = [runlab.init(dir=tmp_path, shared=True, label=label, settings=FAST) for label in LABELS]
    assert [run.step for run in runs] == [4, 4, 4]
    for run in runs:
        run.finish()


def test_a_plain_init_cannot_resume_fork_or_rewind_a_shared_run(tmp_path: Path) -> None:
    owner = runlab.init(id="job", shared=True, dir=tmp_path, settings=FAST)
    owner.log({"loss": 1.0})
    owner.finish()
    with pytest.raises(ValueError, match="shared=True and its own label"):
        runlab.init(id="job", resume="allow", dir=tmp_path, settings=FAST)
    with pytest.raises(ValueError, match="cannot be forked"):
        runlab.init(fork_from=("job", 0), dir=tmp_path, settings=FAST)
    with pytest.raises(ValueError, match="cannot be rewound"):
        runlab.init(id="job", resume_from=("job", 0), dir=tmp_path, settings=FAST)
