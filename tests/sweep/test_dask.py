"""A grid on a real Dask cluster (local processes on 127.0.0.1), through client.get_executor()."""

from __future__ import annotations

from pathlib import Path

import launch_thunks as thunks
import pytest

import runlab
from runlab.query import Api

distributed = pytest.importorskip("dask.distributed")


@pytest.mark.slow
def test_a_twenty_variant_grid_runs_on_a_dask_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNLAB_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("RUNLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RUNLAB_SILENT", "1")
    grid = runlab.ExperimentGrid("dask")
    grid.add("x", list(range(20)))
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        runs = grid.run(thunks.fail_on, executor=client.get_executor(), fail_fast=False)
    assert [run.config["x"] for run in runs] == list(range(20))
    stored = {run.config["x"]: str(run.status) for run in Api().runs()}
    assert stored == {x: "failed" if x == 2 else "finished" for x in range(20)}
