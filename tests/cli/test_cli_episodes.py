"""``runlab episodes RUN``: the episodes table, the success rate per bin, and exit codes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from runlab.cli import app
from runlab.cli._episodes import rate_style
from runlab.storage._format import FILE_HEADER, KIND_EVENT, encode_event, frame
from runlab.storage._layout import HISTORY_FILE
from runlab.storage.testing import make_record, write_run

ENV = {"COLUMNS": "200", "NO_COLOR": "1", "RUNLAB_DIR": None, "RUNLAB_SILENT": None}
FRICTIONS = [0.0, 0.1, 0.3, 0.45, 0.6, 0.7, 0.9, 1.0]


def invoke(args: list[str], env: Mapping[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(app, args, env={**ENV, **(env or {})})


def event(**fields: Any) -> bytes:
    return frame(KIND_EVENT, encode_event(fields))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``grasp-eval``: 8 episodes over friction and gripper (low friction fails), the last one
    cut off by a crash; ``plain``: a run without episodes."""
    root = tmp_path_factory.mktemp("store") / "runlab"
    now = time.time()
    run = write_run(
        root, make_record("gr4sp001", name="grasp-eval", status="finished", ended_at=now)
    )
    frames = []
    for i, friction in enumerate(FRICTIONS):
        gripper = "parallel" if i % 2 else "suction"
        params = {"friction": friction, "gripper": gripper, "pos": [i / 10, 1.0]}
        frames.append(
            event(
                type="episode_start",
                index=i,
                episode_id=f"ep-{i}",
                seed=i,
                params=params,
                start=now - 100 + i,
            )
        )
        if i == len(FRICTIONS) - 1:
            break  # the run crashed during the last episode
        status = "SUCCESS" if friction >= 0.45 else ("FAILED" if i != 2 else "ERRORED")
        frames.append(
            event(
                type="episode_end",
                index=i,
                episode_id=f"ep-{i}",
                status=status,
                err_msg="RuntimeError: physics\nexploded" if status == "ERRORED" else None,
                traceback=None,
                end=now - 100 + i + 1.5,
                metrics={"reward": friction * 10, "grasped": status == "SUCCESS"},
            )
        )
    (run / HISTORY_FILE).write_bytes(FILE_HEADER + b"".join(frames))
    write_run(root, make_record("pl41n001", name="plain", status="finished", ended_at=now))
    return root


def test_prints_the_episodes_then_the_success_rate_per_bin(store: Path) -> None:
    result = invoke(["episodes", "grasp-eval", "--dir", str(store), "--bins", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("grasp-eval  gr4sp001  8 episodes: ")
    assert "4 SUCCESS · 2 FAILED · 1 ERRORED · 1 INTERRUPTED" in lines[0]
    assert lines[0].endswith("success rate 57%")  # 4 of the 7 that ended
    header = lines[1].split()
    assert header[:4] == ["index", "episode_id", "status", "duration"]
    assert header[4:] == ["friction", "gripper", "pos", "reward", "grasped", "error"]
    row2 = lines[4].split()
    assert row2[:4] == ["2", "ep-2", "ERRORED", "1.5s"]
    assert "RuntimeError: physics exploded" in lines[4]  # on one line
    assert lines[9].split()[:4] == ["7", "ep-7", "INTERRUPTED", "-"]
    assert "[0.7, 1]" in lines[9]  # vectors read as lists

    stats = result.output[result.output.index("Success rate per parameter bin") :].splitlines()
    assert stats[1].split() == [
        "parameter",
        "bin",
        "n",
        "rate",
        "SUCCESS",
        "FAILED",
        "ERRORED",
        "INTERRUPTED",
    ]
    rows = [line.split() for line in stats[2:] if line.strip()]
    assert rows[0][:4] == ["friction", "[0,", "0.5)", "4"]
    assert rows[0][4] == "25%" and rows[0][-4:] == ["1", "2", "1", "·"]
    assert rows[1][:4] == ["[0.5,", "1]", "4", "100%"]  # the parameter is named once
    assert rows[1][-4:] == ["3", "·", "·", "1"]
    assert rows[2][:4] == ["gripper", "parallel", "4", "67%"]
    assert rows[3][:4] == ["suction", "4", "50%", "█████░░░░░"]
    assert [r[0] for r in rows if r[0].startswith("pos")] == ["pos[0]", "pos[1]"]


def test_limit_shortens_the_episode_list_and_says_so(store: Path) -> None:
    result = invoke(["episodes", "gr4sp", "--dir", str(store), "--limit", "3"])
    assert result.exit_code == 0, result.output
    assert "5 more episodes not shown (raise --limit 3)" in result.output
    assert " ep-2 " in result.output and " ep-3 " not in result.output


def test_narrow_terminals_drop_parameter_columns_and_bars_first(store: Path) -> None:
    result = invoke(["episodes", "gr4sp001", "--dir", str(store)], env={"COLUMNS": "60"})
    assert result.exit_code == 0, result.output
    assert all(len(line) <= 60 for line in result.output.splitlines())
    assert "friction" not in result.output.splitlines()[1]
    assert "█" not in result.output
    assert "100%" in result.output  # the rates stay; status counts give way


def test_success_rates_are_colour_coded(store: Path) -> None:
    assert [rate_style(r) for r in (1.0, 0.8, 0.79, 0.5, 0.49, 0.0, None)] == [
        "green",
        "green",
        "yellow",
        "yellow",
        "red",
        "red",
        "dim",
    ]
    result = invoke(
        ["episodes", "grasp-eval", "--dir", str(store), "--bins", "2"],
        env={"NO_COLOR": None, "FORCE_COLOR": "1", "TERM": "xterm-256color"},
    )
    assert result.exit_code == 0
    assert "\x1b[32m100%" in result.output  # green
    assert "\x1b[31m 25%" in result.output  # red
    assert "\x1b[33m 67%" in result.output  # yellow


def test_a_run_without_episodes_exits_1_with_a_message(store: Path) -> None:
    result = invoke(["episodes", "plain", "--dir", str(store)])
    assert result.exit_code == 1
    assert "Run pl41n001 (plain) has no episodes" in result.output


def test_an_unknown_run_exits_1(store: Path) -> None:
    result = invoke(["episodes", "nothing-like-it", "--dir", str(store)])
    assert result.exit_code == 1
    assert f"No run matches 'nothing-like-it' in {store}" in result.output


def test_a_missing_store_exits_1(tmp_path: Path) -> None:
    result = invoke(["episodes", "x", "--dir", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_bins_below_one_is_a_usage_error(store: Path) -> None:
    result = invoke(["episodes", "grasp-eval", "--dir", str(store), "--bins", "0"])
    assert result.exit_code == 2


def test_help_lists_the_command() -> None:
    result = invoke(["--help"])
    assert "episodes" in result.output


def _sdk_episodes_work() -> bool:
    try:
        from runlab.scenario import Scenario  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _sdk_episodes_work(), reason="runlab.scenario is not available yet")
def test_a_run_recorded_by_the_sdk(tmp_path: Path) -> None:
    import runlab

    settings = {"quiet": True, "capture_output": False, "capture_git": False}
    with runlab.init(
        dir=tmp_path,
        name="sdk-episodes",
        scenario={"f": "${uniform(0, 1)}"},
        seed=1,
        settings=settings,
    ) as run:
        for _ in range(4):
            with run.create_episode() as episode:
                episode.log({"score": episode.f})
                if episode.f < 0.5:
                    episode.fail("too slippery")
    result = invoke(["episodes", "sdk-episodes", "--dir", str(tmp_path), "--bins", "3"])
    assert result.exit_code == 0, result.output
    assert "4 episodes" in result.output.splitlines()[0]
    assert "000003" in result.output
    assert "Success rate per parameter bin" in result.output
