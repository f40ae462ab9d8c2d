"""call_experiment and ExperimentGrid.run: each variant a fresh subprocess and a runlab run."""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import launch_thunks as thunks
import pytest

import runlab
from runlab.query import Api


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RUNLAB_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("RUNLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RUNLAB_SILENT", "1")
    return tmp_path / "store"


def _grid(name: str, **axes: list[object]) -> runlab.ExperimentGrid:
    grid = runlab.ExperimentGrid(name)
    for key, values in axes.items():
        grid.add(key, values)
    return grid


def _statuses(runs: runlab.RunCollection) -> list[str]:
    return [str(run.status) for run in runs]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_mutated_global_does_not_leak_into_the_next_variant(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # fork: variants are forked from a zygote that never runs user code; spawn: a fresh
    # interpreter each. Either way every variant starts from the same state.
    monkeypatch.setenv("RUNLAB_LAUNCH_METHOD", method)
    runs = _grid("iso", seed=[0, 1, 2]).run(thunks.bump, parallel=2)
    assert [run.summary["counter"] for run in runs] == [1, 1, 1]
    assert thunks.COUNTER == 0
    assert len({run.metadata["pid"] for run in runs}) == 3


def test_an_unknown_launch_method_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLAB_LAUNCH_METHOD", "vfork")
    with pytest.raises(runlab.SettingsError, match=r"RUNLAB_LAUNCH_METHOD='vfork'.*'fork' or"):
        _grid("bad", seed=[0]).run(thunks.bump)


def test_a_variant_killed_by_a_signal_fails_and_the_rest_go_on() -> None:
    runs = _grid("sig", seed=[0, 1, 2]).run(thunks.die_on_seed_one, fail_fast=False)
    assert _statuses(runs)[0] == "finished" and _statuses(runs)[2] == "finished"
    assert _statuses(runs)[1] in ("crashed", "running", "killed")


def test_the_thunks_init_joins_the_variant_run() -> None:
    runs = _grid("join", lr=[0.1, 0.2]).run(thunks.train)
    assert len(Api().runs()) == 2
    for run, lr in zip(runs, [0.1, 0.2], strict=True):
        assert run.name == f"join_lr{str(lr).replace('.', '-')}"
        assert run.group == "join"
        assert run.config == {"lr": lr, "seed": 0, "from_script": True}
        assert run.summary["loss"] == pytest.approx(lr * 10)
        assert str(run.status) == "finished"


def test_call_experiment_returns_the_run_and_captures_stdout(tmp_path: Path) -> None:
    run_id = runlab.call_experiment("solo", thunks.train, seed=3, lr=0.5)
    run = Api().run(run_id)
    assert (run.name, run.config["seed"], run.config["lr"]) == ("solo", 3, 0.5)
    log = (run.dir / "files" / "output.log").read_text()
    assert f"training with lr=0.5 into {tmp_path / 'data'}/solo/solo_s3" in log


def test_a_failure_carries_the_childs_traceback_and_fails_the_run() -> None:
    with pytest.raises(runlab.ExperimentError) as info:
        runlab.call_experiment("bad", thunks.fail_on, x=2)
    error = info.value
    assert error.traceback is not None
    assert "in fail_on" in error.traceback
    assert "ValueError: boom at x=2" in error.traceback
    assert "boom at x=2" in str(error)
    run = Api().run(error.run_id or "")
    assert str(run.status) == "failed"


def test_lambdas_go_by_value() -> None:
    scale = 7
    run_id = runlab.call_experiment("lam", lambda seed, logger_kwargs: runlab.log({"v": scale}))
    assert Api().run(run_id).summary["v"] == 7


def test_parallel_runs_variants_at_once(tmp_path: Path) -> None:
    grid = _grid("par", seed=[0, 1])
    grid.add("meet", str(tmp_path))
    runs = grid.run(thunks.rendezvous, parallel=2)
    assert _statuses(runs) == ["finished", "finished"]
    assert [run.summary["met"] for run in runs] == [1, 1]


def test_any_executor_runs_the_grid() -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        runs = _grid("pool", x=[1, 3, 4]).run(thunks.fail_on, executor=pool)
    assert _statuses(runs) == ["finished"] * 3
    assert [run.summary["x"] for run in runs] == [1, 3, 4]


def test_fail_fast_stops_launching_and_raises() -> None:
    with pytest.raises(runlab.ExperimentError, match="1 of 3 variants were not launched") as info:
        _grid("ff", x=[1, 2, 3]).run(thunks.fail_on)
    assert "boom at x=2" in (info.value.traceback or "")
    stored = {run.config["x"]: str(run.status) for run in Api().runs()}
    assert stored == {1: "finished", 2: "failed"}


def test_without_fail_fast_every_variant_runs() -> None:
    runs = _grid("all", x=[1, 2, 3]).run(thunks.fail_on, fail_fast=False, parallel=2)
    assert _statuses(runs) == ["finished", "failed", "finished"]


def test_the_thunk_can_be_a_grid_parameter() -> None:
    runs = _grid("algo", fn=[thunks.algo_a, thunks.algo_b]).run("fn")
    assert [run.name for run in runs] == ["algo_fnalgo_a", "algo_fnalgo_b"]
    assert [run.summary["algo"] for run in runs] == [1, 2]
    assert "fn" not in runs[0].config


def test_a_missing_thunk_parameter_is_a_clear_error() -> None:
    with pytest.raises(runlab.ExperimentError, match="thunk='nope' names no grid parameter"):
        _grid("algo", x=[1]).run("nope")


@pytest.mark.skipif(
    any(importlib.util.find_spec(m) for m in ("gymnasium", "gym")), reason="gym is installed"
)
def test_env_name_without_gym_is_a_clear_error() -> None:
    with pytest.raises(runlab.ExperimentError, match="pip install gymnasium"):
        runlab.call_experiment("env", thunks.noop, env_name="CartPole-v1")
    assert Api().runs() == []


def test_num_cpu_without_mpirun_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(runlab.ExperimentError, match="mpirun is not on PATH"):
        runlab.call_experiment("mpi", thunks.noop, num_cpu=2)
    with pytest.raises(runlab.ExperimentError, match="use an integer >= 1 or 'auto'"):
        runlab.call_experiment("mpi", thunks.noop, num_cpu=0)


def test_num_cpu_launches_every_rank_under_mpirun_and_rank_zero_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A minimal mpirun (``-np N cmd...``: N copies, each with its Open MPI rank variable), so
    # the launcher's MPI path runs without an MPI installation on the test machine.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    mpirun = bindir / "mpirun"
    mpirun.write_text(
        '#!/bin/sh\n[ "$1" = -np ] || exit 64\nn=$2; shift 2\ni=0; pids=""\n'
        'while [ $i -lt $n ]; do OMPI_COMM_WORLD_RANK=$i "$@" & pids="$pids $!"; i=$((i+1)); '
        "done\nstatus=0\nfor p in $pids; do wait $p || status=$?; done\nexit $status\n"
    )
    mpirun.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    out.mkdir()
    run_id = runlab.call_experiment("mpi", thunks.note_rank, num_cpu=3, out=str(out))
    assert sorted(p.name for p in out.iterdir()) == ["rank-0", "rank-1", "rank-2"]
    assert (out / "rank-1").read_text() == "1"  # one BLAS thread per rank
    runs = Api().runs()
    assert [r.id for r in runs] == [run_id]
    assert str(runs[0].status) == "finished"
