"""Metrics and series: M4 keeps spikes, raw points when few, zoom, live cursor, time axes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

import runlab
from runlab.server import create_app
from runlab.server._series import SeriesCache, decode, m4_indices
from server.server_helpers import BASE, start

N = 1_000_000
SPIKE = 654_321


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, str, Path]:
    root = tmp_path_factory.mktemp("big")
    run = start(root, project="p", name="big")
    for step in range(0, 2000, 100):
        run.log({"sparse": float(step % 7)}, step=step * 500)
    run.finish()
    spiky = start(root, project="p", name="spiky")
    values = np.sin(np.arange(N) / 1000.0)
    values[SPIKE] = 1000.0
    log = spiky.log
    for value in values.tolist():
        log({"y": value})
    spiky.finish()
    client = TestClient(create_app(root), base_url=BASE)
    return client, spiky.id, spiky.dir


def test_metrics_lists_every_key(big: tuple[TestClient, str, Path]) -> None:
    client, run_id, _ = big
    (metric,) = client.get(f"/api/runs/{run_id}/metrics").json()["metrics"]
    assert metric["key"] == "y"
    assert metric["count"] == N
    assert (metric["first_step"], metric["last_step"]) == (0, N - 1)
    assert metric["max"] == 1000.0
    assert metric["min"] == pytest.approx(-1.0, abs=1e-6)


def test_downsampling_keeps_a_single_spike(big: tuple[TestClient, str, Path]) -> None:
    client, run_id, _ = big
    body = client.get(f"/api/runs/{run_id}/series", params={"key": "y", "width": 500}).json()
    assert body["sampled"] is True
    assert body["total"] == N
    assert body["last_step"] == N - 1
    assert len(body["x"]) == len(body["y"]) == len(body["steps"]) <= 4 * 500
    assert 1000.0 in body["y"]
    assert body["steps"][body["y"].index(1000.0)] == SPIKE
    assert body["x"] == sorted(body["x"])
    assert body["steps"][0] == 0 and body["steps"][-1] == N - 1


def test_zoom_returns_raw_points(big: tuple[TestClient, str, Path]) -> None:
    client, run_id, _ = big
    params = {"key": "y", "x_min": SPIKE - 10, "x_max": SPIKE + 10}
    body = client.get(f"/api/runs/{run_id}/series", params=params).json()
    assert body["sampled"] is False
    assert body["steps"] == list(range(SPIKE - 10, SPIKE + 11))
    assert body["x"] == body["steps"]
    assert body["y"][10] == 1000.0


def test_after_step_cursor(big: tuple[TestClient, str, Path]) -> None:
    client, run_id, _ = big
    body = client.get(f"/api/runs/{run_id}/series", params={"key": "y", "after_step": N - 4}).json()
    assert body["steps"] == [N - 3, N - 2, N - 1]
    assert body["sampled"] is False
    end = client.get(f"/api/runs/{run_id}/series", params={"key": "y", "after_step": N}).json()
    assert end["steps"] == [] and end["total"] == N


def test_time_axes(big: tuple[TestClient, str, Path]) -> None:
    client, run_id, _ = big
    url = f"/api/runs/{run_id}/series"
    wall = client.get(url, params={"key": "y", "x": "time", "width": 100}).json()
    assert wall["sampled"] and wall["x"][0] > 1e9
    assert 1000.0 in wall["y"]
    rel = client.get(url, params={"key": "y", "x": "relative", "width": 100}).json()
    assert rel["x"][0] == 0.0
    assert rel["x"][-1] == pytest.approx(wall["x"][-1] - wall["x"][0])


def test_raw_when_few_points_and_sparse_steps(big: tuple[TestClient, str, Path]) -> None:
    client, _, _ = big
    body = client.get("/api/runs/big/series", params={"key": "sparse"}).json()
    assert body["sampled"] is False
    assert body["steps"] == [i * 500 for i in range(0, 2000, 100)]
    assert body["y"] == [float(i % 7) for i in range(0, 2000, 100)]
    zoom = client.get("/api/runs/big/series", params={"key": "sparse", "x_min": 1, "x_max": 50_000})
    assert zoom.json()["steps"] == [50_000]


def test_series_errors(big: tuple[TestClient, str, Path]) -> None:
    client, run_id, _ = big
    url = f"/api/runs/{run_id}/series"
    assert client.get(url, params={"key": "nope"}).status_code == 404
    assert client.get(url).status_code == 422
    assert client.get(url, params={"key": "y", "x": "epoch"}).status_code == 422
    assert client.get(url, params={"key": "y", "width": 0}).status_code == 422
    assert client.get(url, params={"key": "y", "width": 10**9}).status_code == 422


def test_live_series_grows(tmp_path: Path) -> None:
    run = start(tmp_path, project="p", name="live")
    with TestClient(create_app(tmp_path), base_url=BASE) as client:
        for step in range(10):
            run.log({"v": float(step)})
        _wait_points(client, run.id, 10)
        for step in range(10, 25):
            run.log({"v": float(step)})
        body = _wait_points(client, run.id, 25)
        assert body["steps"] == list(range(25))
        tail = client.get(f"/api/runs/{run.id}/series", params={"key": "v", "after_step": 20})
        assert tail.json()["y"] == [21.0, 22.0, 23.0, 24.0]
    run.finish()


def _wait_points(client: TestClient, run_id: str, n: int) -> dict:
    import time

    deadline = time.monotonic() + 10
    while True:
        response = client.get(f"/api/runs/{run_id}/series", params={"key": "v"})
        body = response.json() if response.status_code == 200 else {"total": 0}
        if body["total"] >= n or time.monotonic() > deadline:
            assert body["total"] == n
            return body
        time.sleep(0.05)


def test_cache_reads_only_what_was_appended(tmp_path: Path) -> None:
    import time

    run = start(tmp_path, project="p", name="grow")
    for step in range(100):
        run.log({"a": float(step), "b": float(step)}, step=step * 2)
    cache = SeriesCache(max_bytes=100_000)
    deadline = time.monotonic() + 10
    while cache.get(run.dir, "a", with_times=True).size < 100 and time.monotonic() < deadline:
        time.sleep(0.02)
    first = cache.get(run.dir, "a", with_times=True)
    assert first.size == 100 and first.end > 0
    assert cache.get(run.dir, "a", with_times=False) is first  # unchanged log: same object
    for step in range(100, 150):
        run.log({"a": float(step)}, step=step * 2)
    run.finish()
    grown = cache.get(run.dir, "a", with_times=True)
    full = decode(run.dir, "a", with_times=True)
    assert grown.size == full.size == 150
    assert grown.values.tolist() == full.values.tolist()
    assert grown.step_slice(0, 150).tolist() == list(range(0, 300, 2))
    assert grown.times is not None and full.times is not None
    assert grown.times.tolist() == full.times.tolist()
    gapless = decode(run.dir, "b", with_times=False)
    assert gapless.steps is not None  # every other step: stored


def test_gapless_steps_are_not_stored(tmp_path: Path) -> None:
    run = start(tmp_path, project="p", name="dense")
    for step in range(5, 105):
        run.log({"a": float(step)}, step=step)
    run.finish()
    series = decode(run.dir, "a", with_times=False)
    assert series.steps is None and series.first_step == 5
    assert series.step_slice(0, 3).tolist() == [5, 6, 7]
    assert series.step_index(6) == 1 and series.step_index(6, side="right") == 2


def test_m4_on_gaps_and_nan() -> None:
    x = np.array([0, 1, 2, 100, 101, 102], dtype=np.int64)
    y = np.array([1.0, np.nan, 3.0, 4.0, -5.0, 6.0])
    picked = m4_indices(x, y, 2).tolist()
    assert picked == [0, 2, 3, 4, 5]
    assert m4_indices(None, np.array([np.nan, np.nan, 1.0]), 1).tolist() == [0, 2]


def test_decode_agrees_with_read_series_with_and_without_times(tmp_path: Path) -> None:
    from runlab.storage._reader import read_series

    run = start(tmp_path, project="p", name="mixed")
    for step in range(300):
        row = {"dense": float(step)}
        if step % 7 == 0:
            row["sparse"] = step * 2  # ints, in some rows only
        run.log(row, step=step * 3 if step < 150 else 450 + step)
        if step == 200:
            run.log({"dense": -1.0}, step=450 + step)  # logged twice at one step: last wins
    run.finish()
    expected = read_series(run.dir)
    for key in ("dense", "sparse"):
        values_only = decode(run.dir, key, with_times=False)
        timed = decode(run.dir, key, with_times=True)
        want = expected[key]
        for got in (values_only, timed):
            assert got.values.tolist() == want.values.tolist()
            assert got.step_slice(0, got.size).tolist() == want.steps.tolist()
        assert values_only.times is None
        assert timed.times is not None
        assert timed.times.tolist() == want.timestamps.tolist()


def test_metric_stats_over_many_small_frames(tmp_path: Path) -> None:
    # One frame per log() call (write-through), as a slow training loop writes: the stats
    # gathered across frames are those of the whole series, keys in first-logged order.
    run = runlab.init(
        dir=tmp_path,
        project="p",
        settings={"quiet": True, "capture_output": False, "write_through": True},
    )
    for step in range(300):
        row: dict[str, float | int] = {"b": step * 2, "a": 1.0 / (step + 1)}
        if step == 7:
            row["a"] = float("nan")
        if step >= 100:
            row["late"] = float(step)
        run.log(row)
    run.finish()
    with TestClient(create_app(tmp_path), base_url=BASE) as client:
        metrics = client.get(f"/api/runs/{run.id}/metrics").json()["metrics"]
    by_key = {m["key"]: m for m in metrics if not m["key"].startswith("system/")}
    assert list(by_key) == ["b", "a", "late"]
    assert by_key["b"] | {} == {
        "key": "b", "count": 300, "first_step": 0, "last_step": 299,
        "min": 0.0, "max": 598.0, "last": 598.0,
    }  # fmt: skip
    assert (by_key["a"]["min"], by_key["a"]["max"]) == (1.0 / 300, 1.0)  # NaN skipped
    assert (by_key["late"]["first_step"], by_key["late"]["count"]) == (100, 200)
