"""Episodes read back from run logs: the episodes frame, episode histories, scenario stats.

Most run directories here are written by hand with the log format (so every case, torn tails
included, is exact); the last tests record runs with the real SDK.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runlab.query import Api, EpisodeNotFound, RunView
from runlab.query._episodes import (
    FIXED_COLUMNS,
    episodes,
    scenario_stats,
    scenario_stats_frame,
)
from runlab.storage._episodes import EpisodeRecord, read_episode_history, read_episodes
from runlab.storage._format import (
    FILE_HEADER,
    KIND_EPISODE,
    KIND_EVENT,
    KIND_HISTORY,
    encode_episode,
    encode_event,
    encode_history,
    frame,
)
from runlab.storage._layout import HISTORY_FILE
from runlab.storage.testing import make_record, write_run

T0 = 1_700_000_000.0


# -- writing logs by hand --------------------------------------------------------------------


def start(index: int, params: dict[str, Any], **fields: Any) -> bytes:
    event = {
        "type": "episode_start",
        "index": index,
        "episode_id": f"{index:06d}",
        "seed": 1000 + index,
        "params": params,
        "start": T0 + index,
        **fields,
    }
    return frame(KIND_EVENT, encode_event(event))


def end(
    index: int, status: str = "SUCCESS", metrics: dict[str, Any] | None = None, **fields: Any
) -> bytes:
    event = {
        "type": "episode_end",
        "index": index,
        "episode_id": f"{index:06d}",
        "status": status,
        "err_msg": None,
        "traceback": None,
        "end": T0 + index + 0.5,
        "metrics": metrics or {},
        **fields,
    }
    return frame(KIND_EVENT, encode_event(event))


def history(index: int, rows: Iterable[tuple[int, dict[str, Any]]]) -> bytes:
    records = [(step, T0 + index + step / 100, values) for step, values in rows]
    return frame(KIND_EPISODE, encode_episode(index, records))


def finished_episode(index: int, params: dict[str, Any], status: str = "SUCCESS") -> bytes:
    return start(index, params) + end(index, status)


def write_log(directory: Path, *frames: bytes) -> Path:
    path = directory / HISTORY_FILE
    path.write_bytes(FILE_HEADER + b"".join(frames))
    return path


def finished_run(root: Path, run_id: str = "ep1run", **fields: Any) -> Path:
    return write_run(root, make_record(run_id, status="finished", ended_at=time.time(), **fields))


def view_of(root: Path, run_id: str = "ep1run") -> RunView:
    return Api(root).run(run_id)


def stats_rows(stats: pl.DataFrame, parameter: str) -> list[dict[str, Any]]:
    return stats.filter(pl.col("parameter") == parameter).rows(named=True)


# -- the episodes frame ----------------------------------------------------------------------


def test_episodes_frame_has_fixed_columns_then_parameters_then_metrics(tmp_path: Path) -> None:
    directory = finished_run(tmp_path)
    write_log(
        directory,
        start(0, {"friction": 0.25, "robot.mass": 2, "color": "red", "on": True}),
        history(0, [(0, {"reward": 1.0}), (1, {"reward": 3.0, "done": True})]),
        end(0, "SUCCESS", {"reward": 3.0, "done": True}),
        start(1, {"friction": 0.75, "robot.mass": 3, "color": "blue", "on": False}),
        end(1, "FAILED", {"reward": -1.0}, err_msg="dropped the cube"),
    )
    frame_ = view_of(tmp_path).episodes()
    assert frame_.columns == [
        *FIXED_COLUMNS,
        "friction",
        "robot.mass",
        "color",
        "on",
        "reward",
        "done",
    ]
    assert dict(frame_.schema) == {
        "episode_id": pl.Utf8,
        "index": pl.Int64,
        "seed": pl.Int64,
        "status": pl.Utf8,
        "err_msg": pl.Utf8,
        "start": pl.Float64,
        "end": pl.Float64,
        "duration": pl.Float64,
        "friction": pl.Float64,
        "robot.mass": pl.Int64,
        "color": pl.Utf8,
        "on": pl.Boolean,
        "reward": pl.Float64,
        "done": pl.Boolean,
    }
    first, second = frame_.rows(named=True)
    assert first == {
        "episode_id": "000000",
        "index": 0,
        "seed": 1000,
        "status": "SUCCESS",
        "err_msg": None,
        "start": T0,
        "end": T0 + 0.5,
        "duration": 0.5,
        "friction": 0.25,
        "robot.mass": 2,
        "color": "red",
        "on": True,
        "reward": 3.0,
        "done": True,
    }
    assert second["status"] == "FAILED"
    assert second["err_msg"] == "dropped the cube"
    assert second["reward"] == -1.0
    assert second["done"] is None  # episode 1 never logged it


def test_records_keep_the_traceback_and_episode_looks_up_by_index_or_id(tmp_path: Path) -> None:
    directory = finished_run(tmp_path)
    write_log(
        directory,
        start(0, {"x": 1.0}),
        end(0, "ERRORED", err_msg="ValueError: bad", traceback="Traceback...\nValueError: bad"),
        start(1, {"x": 2.0}, episode_id="custom-id"),
        end(1, episode_id="custom-id"),
    )
    view = view_of(tmp_path)
    record = view.episode(0)
    assert record.traceback == "Traceback...\nValueError: bad"
    assert record.is_finished and record.duration == 0.5
    assert view.episode("custom-id").index == 1
    with pytest.raises(EpisodeNotFound, match="no episode with index 7"):
        view.episode(7)
    with pytest.raises(EpisodeNotFound, match="'000001'"):
        view.episode("000001")  # ids are matched exactly; this one was custom


@pytest.mark.parametrize(
    ("status", "heartbeat_age", "expected"),
    [
        ("running", 0.0, "RUNNING"),  # the run is alive: the episode is still going
        ("running", 3600.0, "INTERRUPTED"),  # the run crashed (heartbeat lapsed)
        ("killed", 0.0, "INTERRUPTED"),
        ("finished", 0.0, "INTERRUPTED"),
    ],
)
def test_an_unfinished_episode_reads_running_only_while_its_run_runs(
    tmp_path: Path, status: str, heartbeat_age: float, expected: str
) -> None:
    now = time.time()
    record = make_record("ep1run", status=status, heartbeat_at=now - heartbeat_age)
    directory = write_run(tmp_path, record)
    write_log(directory, finished_episode(0, {"x": 0.1}), start(1, {"x": 0.9}))
    for statuses in (
        view_of(tmp_path).episodes().get_column("status").to_list(),
        [r.status for r in read_episodes(directory)],  # storage derives it from run.json
    ):
        assert statuses == ["SUCCESS", expected]
    row = view_of(tmp_path).episodes().row(1, named=True)
    assert row["end"] is None and row["duration"] is None and row["x"] == 0.9
    assert read_episodes(directory, unfinished="RUNNING")[1].status == "RUNNING"


def test_metric_columns_that_collide_are_prefixed(tmp_path: Path) -> None:
    directory = finished_run(tmp_path)
    write_log(
        directory,
        start(0, {"friction": 0.5, "status": "open"}),
        end(0, metrics={"seed": 7, "friction": 0.1, "score": 2}),
    )
    frame_ = view_of(tmp_path).episodes()
    assert frame_.columns[len(FIXED_COLUMNS) :] == [
        "friction",
        "param.status",  # a parameter named like a fixed column
        "metric.seed",
        "metric.friction",
        "score",
    ]
    row = frame_.row(0, named=True)
    assert (row["param.status"], row["metric.seed"], row["metric.friction"]) == ("open", 7, 0.1)


def test_vectors_are_list_columns(tmp_path: Path) -> None:
    directory = finished_run(tmp_path)
    write_log(
        directory,
        finished_episode(0, {"pos": [0.0, 1.5, -2.0], "ids": [1, 2]}),
        finished_episode(1, {"pos": [1, 2.5, 3.0], "ids": [3, 4]}),
    )
    frame_ = view_of(tmp_path).episodes()
    assert frame_.schema["pos"] == pl.List(pl.Float64)
    assert frame_.schema["ids"] == pl.List(pl.Int64)
    assert frame_.get_column("pos").to_list() == [[0.0, 1.5, -2.0], [1.0, 2.5, 3.0]]


def test_mixed_types_become_text_and_big_seeds_fit(tmp_path: Path) -> None:
    directory = finished_run(tmp_path)
    write_log(
        directory,
        start(0, {"thing": 1}, seed=2**64 - 1),
        end(0),
        start(1, {"thing": "two"}, seed=5),
        end(1),
    )
    frame_ = view_of(tmp_path).episodes()
    assert frame_.get_column("thing").to_list() == ["1", "two"]
    assert frame_.get_column("seed").to_list() == [2**64 - 1, 5]


def test_a_run_without_episodes_gives_empty_frames(tmp_path: Path) -> None:
    directory = finished_run(tmp_path)
    history_frame = frame(KIND_HISTORY, encode_history([(0, T0, {"loss": 1.0})]))
    write_log(directory, history_frame)
    view = view_of(tmp_path)
    empty = view.episodes()
    assert empty.columns == list(FIXED_COLUMNS) and len(empty) == 0
    assert empty.schema["index"] == pl.Int64 and empty.schema["start"] == pl.Float64
    stats = view.scenario_stats()
    assert stats.columns == ["parameter", "bin", "lo", "hi", "n", "success_rate"]
    assert len(stats) == 0
    with pytest.raises(EpisodeNotFound, match="has no episodes"):
        view.episode_history(0)
    # a run that never wrote a log at all
    finished_run(tmp_path, "nolog1")
    assert len(view_of(tmp_path, "nolog1").episodes()) == 0


def test_torn_tail_keeps_the_episodes_before_it(tmp_path: Path) -> None:
    directory = finished_run(tmp_path)
    intact = [finished_episode(i, {"x": float(i)}) for i in range(3)]
    last_start = start(3, {"x": 3.0})
    last_end = end(3, "FAILED")
    path = write_log(directory, *intact, last_start, last_end)
    path.write_bytes(path.read_bytes()[: -len(last_end) // 2])  # a crash in the middle
    rows = view_of(tmp_path).episodes().select("index", "status", "x").rows()
    assert rows == [
        (0, "SUCCESS", 0.0),
        (1, "SUCCESS", 1.0),
        (2, "SUCCESS", 2.0),
        (3, "INTERRUPTED", 3.0),
    ]


def test_a_corrupt_start_still_gives_the_ended_episode(tmp_path: Path) -> None:
    directory = finished_run(tmp_path)
    bad_start = bytearray(start(1, {"x": 1.0}))
    bad_start[-3] ^= 0xFF  # checksum no longer matches
    write_log(directory, finished_episode(0, {"x": 0.0}), bytes(bad_start), end(1, "FAILED"))
    records = read_episodes(directory)
    assert [(r.index, r.status, r.params) for r in records] == [
        (0, "SUCCESS", {"x": 0.0}),
        (1, "FAILED", {}),
    ]
    assert records[1].episode_id == "000001" and records[1].seed is None


def test_humalab_status_names_are_read_as_their_twins(tmp_path: Path) -> None:
    directory = finished_run(tmp_path)
    write_log(directory, finished_episode(0, {}, "FINISHED"), finished_episode(1, {}, "cancelled"))
    assert [r.status for r in read_episodes(directory)] == ["SUCCESS", "CANCELED"]


# -- episode histories -----------------------------------------------------------------------


def test_episode_history_reads_only_that_episode(tmp_path: Path) -> None:
    directory = finished_run(tmp_path)
    write_log(
        directory,
        start(0, {"x": 0.0}),
        frame(KIND_HISTORY, encode_history([(0, T0, {"reward": 99.0})])),  # the run's own
        history(0, [(0, {"reward": 1.0}), (1, {"reward": 2.0, "dist": 0.5}), (2, {"dist": 0.25})]),
        end(0),
        start(1, {"x": 1.0}, episode_id="second"),
        history(1, [(0, {"reward": -5.0})]),
        end(1, episode_id="second"),
        start(2, {"x": 2.0}),
        end(2),  # logged nothing
    )
    view = view_of(tmp_path)
    first = view.episode_history(0)
    assert first.columns == ["step", "timestamp", "reward", "dist"]
    assert first.get_column("step").to_list() == [0, 1, 2]
    assert first.get_column("reward").to_list() == [1.0, 2.0, None]
    assert first.get_column("dist").to_list() == [None, 0.5, 0.25]
    assert first.get_column("timestamp").to_list() == pytest.approx([T0, T0 + 0.01, T0 + 0.02])
    assert view.episode_history("second").get_column("reward").to_list() == [-5.0]
    only = view.episode_history(0, keys=["dist", "missing"])
    assert only.columns == ["step", "timestamp", "dist", "missing"]
    assert view.episode_history(2).columns == ["step", "timestamp"]
    assert len(view.episode_history(2)) == 0
    assert view.history().get_column("reward").to_list() == [99.0]  # run history unchanged
    assert read_episode_history(directory, 1).get_column("reward").to_list() == [-5.0]
    with pytest.raises(EpisodeNotFound):
        view.episode_history("nope")


# -- scenario stats --------------------------------------------------------------------------


def test_numeric_bins_have_equal_width_edges_labels_and_a_closed_last_bin(
    tmp_path: Path,
) -> None:
    directory = finished_run(tmp_path)
    values = [0.0, 0.1, 0.2, 0.35, 0.6, 0.79, 1.0]
    statuses = ["SUCCESS", "FAILED", "SUCCESS", "SUCCESS", "ERRORED", "SUCCESS", "SUCCESS"]
    write_log(
        directory,
        *(
            finished_episode(i, {"f": v}, s)
            for i, (v, s) in enumerate(zip(values, statuses, strict=True))
        ),
    )
    stats = view_of(tmp_path).scenario_stats(bins=5)
    assert stats.columns == [
        "parameter",
        "bin",
        "lo",
        "hi",
        "n",
        "SUCCESS",
        "FAILED",
        "ERRORED",
        "success_rate",
    ]
    rows = stats_rows(stats, "f")
    labels = ["[0, 0.2)", "[0.2, 0.4)", "[0.4, 0.6)", "[0.6, 0.8)", "[0.8, 1]"]
    assert [r["bin"] for r in rows] == labels
    assert [r["lo"] for r in rows] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])
    assert [r["hi"] for r in rows] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    # 0.2 opens the second bin; 1.0 closes the last one; the empty bin is kept
    assert [r["n"] for r in rows] == [2, 2, 0, 2, 1]
    assert [r["FAILED"] for r in rows] == [1, 0, 0, 0, 0]
    assert [r["success_rate"] for r in rows] == [0.5, 1.0, None, 0.5, 1.0]


def test_ints_are_categories_up_to_bins_distinct_values_then_binned() -> None:
    few = [EpisodeRecord(i, str(i), i, "SUCCESS", params={"k": i % 3}) for i in range(9)]
    rows = scenario_stats_frame(few, bins=3).rows(named=True)
    assert [(r["bin"], r["lo"], r["n"]) for r in rows] == [
        ("0", None, 3),
        ("1", None, 3),
        ("2", None, 3),
    ]
    many = [EpisodeRecord(i, str(i), i, "SUCCESS", params={"k": i}) for i in range(8)]
    labels = scenario_stats_frame(many, bins=2).get_column("bin").to_list()
    assert labels == ["[0, 3.5)", "[3.5, 7]"]


def test_categorical_parameters_sorted_with_counts_and_rates(tmp_path: Path) -> None:
    directory = finished_run(tmp_path)
    episodes_ = [
        ({"color": "red", "grip": True}, "SUCCESS"),
        ({"color": "red", "grip": False}, "FAILED"),
        ({"color": "blue", "grip": True}, "SUCCESS"),
        ({"color": "blue", "grip": True}, "CANCELED"),
        ({"color": "green", "grip": False}, "ERRORED"),
    ]
    write_log(directory, *(finished_episode(i, p, s) for i, (p, s) in enumerate(episodes_)))
    stats = view_of(tmp_path).scenario_stats()
    colors = stats_rows(stats, "color")
    assert [(r["bin"], r["n"], r["success_rate"]) for r in colors] == [
        ("blue", 2, 0.5),  # CANCELED ended, so it counts against the rate
        ("green", 1, 0.0),
        ("red", 2, 0.5),
    ]
    assert all(r["lo"] is None and r["hi"] is None for r in colors)
    grips = stats_rows(stats, "grip")
    assert [(r["bin"], r["SUCCESS"], r["FAILED"], r["ERRORED"], r["CANCELED"]) for r in grips] == [
        ("False", 0, 1, 1, 0),
        ("True", 2, 0, 0, 1),
    ]


def test_vector_parameters_are_split_per_component(tmp_path: Path) -> None:
    directory = finished_run(tmp_path)
    write_log(
        directory,
        finished_episode(0, {"pos": [0.0, 10.0]}, "SUCCESS"),
        finished_episode(1, {"pos": [1.0, 10.0]}, "FAILED"),
        finished_episode(2, {"pos": [0.5, 20.0]}, "FAILED"),
    )
    stats = view_of(tmp_path).scenario_stats(bins=2)
    assert stats.get_column("parameter").unique(maintain_order=True).to_list() == [
        "pos[0]",
        "pos[1]",
    ]
    first = stats_rows(stats, "pos[0]")
    assert [(r["bin"], r["n"], r["success_rate"]) for r in first] == [
        ("[0, 0.5)", 1, 1.0),
        ("[0.5, 1]", 2, 0.0),
    ]
    second = stats_rows(stats, "pos[1]")
    assert [(r["bin"], r["n"]) for r in second] == [("[10, 15)", 2), ("[15, 20]", 1)]


def test_unfinished_episodes_are_counted_but_not_in_the_success_rate(tmp_path: Path) -> None:
    directory = finished_run(tmp_path)
    write_log(
        directory,
        finished_episode(0, {"c": "a"}, "SUCCESS"),
        finished_episode(1, {"c": "a"}, "FAILED"),
        start(2, {"c": "a"}),
    )
    (row,) = view_of(tmp_path).scenario_stats().rows(named=True)
    assert (row["n"], row["INTERRUPTED"], row["success_rate"]) == (3, 1, 0.5)


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40),
    st.integers(1, 12),
)
def test_every_value_lands_in_the_one_bin_whose_edges_hold_it(
    values: list[float], bins: int
) -> None:
    records = [
        EpisodeRecord(i, str(i), i, "SUCCESS", params={"v": v}) for i, v in enumerate(values)
    ]
    rows = scenario_stats_frame(records, bins=bins).rows(named=True)
    assert sum(r["n"] for r in rows) == len(values)
    assert len(rows) == (1 if min(values) == max(values) else bins)
    for v in values:
        holding = [
            r
            for k, r in enumerate(rows)
            if r["lo"] <= v < r["hi"] or (k == len(rows) - 1 and v == r["hi"])
        ]
        assert len(holding) == 1
    assert rows[-1]["bin"].endswith("]") and all(r["bin"].endswith(")") for r in rows[:-1])


def test_a_constant_parameter_is_one_closed_bin_and_labels_tell_close_edges_apart() -> None:
    same = [EpisodeRecord(i, str(i), i, "SUCCESS", params={"g": 9.81}) for i in range(3)]
    (row,) = scenario_stats_frame(same).rows(named=True)
    assert (row["bin"], row["lo"], row["hi"], row["n"]) == ("[9.81, 9.81]", 9.81, 9.81, 3)
    close = [
        EpisodeRecord(i, str(i), i, "SUCCESS", params={"t": 1000.0 + i / 1000}) for i in range(3)
    ]
    labels = scenario_stats_frame(close, bins=2).get_column("bin").to_list()
    assert labels == ["[1000, 1000.001)", "[1000.001, 1000.002]"]


def test_the_scenario_decides_that_a_float_parameter_is_categorical(tmp_path: Path) -> None:
    pytest.importorskip("runlab.scenario")
    directory = finished_run(tmp_path)
    data = json.loads((directory / "run.json").read_text(encoding="utf-8"))
    data["scenario"] = {"level": "${categorical([0.1, 0.5, 0.9])}", "f": "${uniform(0, 1)}"}
    (directory / "run.json").write_text(json.dumps(data), encoding="utf-8")
    levels = [0.1, 0.5, 0.9, 0.9]
    write_log(directory, *(finished_episode(i, {"level": v, "f": v}) for i, v in enumerate(levels)))
    stats = view_of(tmp_path).scenario_stats(bins=2)
    assert [(r["bin"], r["n"], r["lo"]) for r in stats_rows(stats, "level")] == [
        ("0.1", 1, None),
        ("0.5", 1, None),
        ("0.9", 2, None),
    ]
    assert [r["bin"] for r in stats_rows(stats, "f")] == ["[0.1, 0.5)", "[0.5, 0.9]"]


def test_parameters_missing_from_some_episodes_leave_them_out() -> None:
    records = [
        EpisodeRecord(0, "0", 0, "SUCCESS", params={"a": "x", "b": "y"}),
        EpisodeRecord(1, "1", 1, "FAILED", params={"a": "x"}),
    ]
    stats = scenario_stats_frame(records)
    assert stats.select("parameter", "bin", "n").rows() == [("a", "x", 2), ("b", "y", 1)]


def test_a_metric_can_be_the_outcome(tmp_path: Path) -> None:
    directory = finished_run(tmp_path)
    write_log(
        directory,
        start(0, {"c": "a"}),
        end(0, metrics={"success": True, "reward": 1.0}),
        start(1, {"c": "a"}),
        end(1, metrics={"success": False, "reward": 3.0}),
        start(2, {"c": "b"}),
        end(2, metrics={"reward": 5.0, "note": "text"}),
    )
    view = view_of(tmp_path)
    by_flag = view.scenario_stats(outcome="success")
    assert by_flag.columns[5:] == ["count", "mean", "min", "max", "success_rate"]
    assert by_flag.select("bin", "n", "count", "success_rate").rows() == [
        ("a", 2, 2, 0.5),
        ("b", 1, 0, None),
    ]
    by_reward = view.scenario_stats(outcome="reward")
    assert "success_rate" not in by_reward.columns
    assert by_reward.select("bin", "mean", "min", "max").rows() == [
        ("a", 2.0, 1.0, 3.0),
        ("b", 5.0, 5.0, 5.0),
    ]
    with pytest.raises(ValueError, match=r"'status', 'success', 'reward', 'note'"):
        view.scenario_stats(outcome="nope")
    with pytest.raises(ValueError, match="not numeric or boolean"):
        view.scenario_stats(outcome="note")


@pytest.mark.parametrize("bins", [0, -1, 2.5, True])
def test_bins_must_be_a_positive_int(bins: Any) -> None:
    with pytest.raises(ValueError, match="must be an int >= 1"):
        scenario_stats_frame([], bins=bins)


def test_run_dir_functions_serve_a_live_run(tmp_path: Path) -> None:
    directory = write_run(tmp_path, make_record("live01"))  # running, beating
    write_log(directory, finished_episode(0, {"x": 0.0}), start(1, {"x": 1.0}))
    assert episodes(directory).get_column("status").to_list() == ["SUCCESS", "RUNNING"]
    forced = episodes(directory, unfinished="INTERRUPTED").get_column("status").to_list()
    assert forced == ["SUCCESS", "INTERRUPTED"]
    stats = scenario_stats(directory, bins=1, unfinished="RUNNING")
    assert stats.select("n", "SUCCESS", "RUNNING", "success_rate").rows() == [(2, 1, 1, 1.0)]


# -- scenario and artifacts ------------------------------------------------------------------


def test_scenario_text_and_artifacts(tmp_path: Path) -> None:
    directory = finished_run(tmp_path)
    view = view_of(tmp_path)
    assert view.scenario is None and view.artifacts() == []
    artifacts = directory / "artifacts"
    (artifacts / "code").mkdir(parents=True)
    (artifacts / "episodes" / "3" / "code").mkdir(parents=True)
    (artifacts / "scenario.yaml").write_text("friction: ${uniform(0, 1)}\n", encoding="utf-8")
    (artifacts / "seed.json").write_text(json.dumps({"seed": 42}), encoding="utf-8")
    (artifacts / "code" / "agent").write_text("print('hi')\n", encoding="utf-8")
    (artifacts / "episodes" / "3" / "code" / "policy").write_text("pi\n", encoding="utf-8")
    assert view.scenario == "friction: ${uniform(0, 1)}\n"
    names = [p.relative_to(artifacts).as_posix() for p in view.artifacts()]
    assert names == ["code/agent", "episodes/3/code/policy", "scenario.yaml", "seed.json"]
    assert json.loads(view.read_artifact("seed.json")) == {"seed": 42}
    assert view.read_artifact("episodes/3/code/policy") == "pi\n"
    with pytest.raises(FileNotFoundError, match=r"no artifact 'code/nope' \(it has: code/agent"):
        view.read_artifact("code/nope")
    with pytest.raises(FileNotFoundError):
        view.read_artifact("../run.json")  # only artifacts, never other run files


# -- recorded with the real SDK ----------------------------------------------------------------


def _sdk_episodes_work() -> bool:
    try:
        from runlab.scenario import Scenario  # noqa: F401
    except ImportError:
        return False
    return True


sdk = pytest.mark.skipif(not _sdk_episodes_work(), reason="runlab.scenario is not available yet")
QUICK = {"quiet": True, "capture_output": False, "capture_git": False, "capture_packages": False}


@sdk
def test_episodes_recorded_by_the_sdk_read_back(tmp_path: Path) -> None:
    import runlab

    spec = {
        "friction": "${uniform(0, 1)}",
        "mass": "${uniform(1, 2)}",
        "pos": "${uniform_2d([0, 0], [1, 1])}",
        "level": "${categorical([0.1, 0.5, 0.9])}",
    }
    logged: dict[int, list[float]] = {}
    params: dict[int, dict[str, Any]] = {}
    with runlab.init(dir=tmp_path, scenario=spec, seed=1, settings=QUICK) as run:
        for i in range(6):
            with run.create_episode() as episode:
                params[i] = episode.config.to_dict()
                logged[i] = [episode.friction * k for k in range(3)]
                for value in logged[i]:
                    episode.log({"reward": value})
                if i % 3 == 1:
                    episode.finish("FAILED", "missed")
        with pytest.raises(RuntimeError), run.create_episode():
            raise RuntimeError("simulator crashed")
    view = Api(tmp_path).run(run.id)
    frame_ = view.episodes()
    assert frame_.get_column("index").to_list() == list(range(7))
    assert frame_.get_column("status").to_list() == [
        "SUCCESS",
        "FAILED",
        "SUCCESS",
        "SUCCESS",
        "FAILED",
        "SUCCESS",
        "ERRORED",
    ]
    assert frame_.get_column("friction").to_list()[:6] == [params[i]["friction"] for i in range(6)]
    assert frame_.get_column("reward").to_list()[:6] == [logged[i][-1] for i in range(6)]
    errored = view.episode(6)
    assert errored.err_msg == "RuntimeError: simulator crashed"
    assert errored.traceback is not None and "simulator crashed" in errored.traceback
    assert view.episode_history(4).get_column("reward").to_list() == logged[4]
    assert frame_.schema["pos"] == pl.List(pl.Float64)
    assert frame_.get_column("pos").to_list()[:6] == [params[i]["pos"] for i in range(6)]
    stats = view.scenario_stats(bins=3)
    parameters = ["friction", "mass", "pos[0]", "pos[1]", "level"]
    assert stats.get_column("parameter").unique(maintain_order=True).to_list() == parameters
    for parameter in parameters:
        assert sum(r["n"] for r in stats_rows(stats, parameter)) == 7
    assert stats_rows(stats, "friction")[-1]["bin"].endswith("]")
    assert {r["bin"] for r in stats_rows(stats, "level")} <= {"0.1", "0.5", "0.9"}
    assert sum(r["FAILED"] for r in stats_rows(stats, "friction")) == 2
    assert view.scenario is not None and "friction" in view.scenario
    assert json.loads(view.read_artifact("seed.json")) == {"seed": 1}
