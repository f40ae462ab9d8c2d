"""What the SDK shows in a terminal: sparklines, the start line and the end-of-run block."""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

import runlab.sdk._terminal
from runlab._console import set_console
from runlab.sdk._terminal import BARS, format_value, print_end, print_start, sparkline

NAN = float("nan")
INF = float("inf")


# -- sparkline -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], ""),
        ([3.0], "▁"),
        ([0, 1], "▁█"),
        (range(8), "▁▂▃▄▅▆▇█"),
        ([7, 6, 5, 4, 3, 2, 1, 0], "█▇▆▅▄▃▂▁"),
        ([2.5, 2.5, 2.5, 2.5], "▁▁▁▁"),
        ([0.0, NAN, 1.0], "▁ █"),
        ([0.0, INF, -INF, 1.0], "▁  █"),
        ([NAN, NAN], "  "),
        ([True, False, True], "█▁█"),
        ([-1e308, 1e308], "▁█"),
    ],
)
def test_sparkline_draws_each_value_as_one_bar(values: list[float], expected: str) -> None:
    assert sparkline(values) == expected


def test_sparkline_buckets_long_series_to_width() -> None:
    assert sparkline(range(1000), width=10) == "▁▂▃▃▄▅▆▆▇█"
    assert len(sparkline(range(1001), width=40)) == 40


def test_sparkline_keeps_a_lone_spike_visible_when_bucketing() -> None:
    values = [0.0] * 1000
    values[503] = 10.0
    line = sparkline(values, width=10)
    assert line == "▁▁▁▁▁█▁▁▁▁"


def test_sparkline_keeps_a_lone_dip_visible_when_bucketing() -> None:
    values = [5.0] * 100
    values[25] = -5.0
    assert sparkline(values, width=10) == "██▁███████"


def test_sparkline_bucket_with_only_nan_is_a_gap() -> None:
    values = [1.0] * 10 + [NAN] * 10 + [2.0] * 10
    assert sparkline(values, width=3) == "▁ █"


def test_sparkline_ignores_nan_inside_a_bucket() -> None:
    assert sparkline([0.0, NAN, 0.0, 1.0, INF, 1.0], width=2) == "▁█"


def test_sparkline_rejects_width_below_one() -> None:
    with pytest.raises(ValueError, match="width=0"):
        sparkline([1.0], width=0)


@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**70), 2**70)),
    st.integers(1, 60),
)
def test_sparkline_length_and_alphabet(values: list[float], width: int) -> None:
    line = sparkline(values, width)
    assert len(line) == min(width, len(values))
    assert set(line) <= set(BARS + " ")
    finite = [v for v in values if math.isfinite(v)]
    if finite and len(values) <= width:
        # Unbucketed: the lowest and highest finite values get the bottom and top bars.
        assert BARS[0] in line
        if min(finite) != max(finite):
            assert BARS[-1] in line


# -- value formatting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.123456789, "0.12346"),
        (123456.0, "1.2346e+05"),
        (2.0, "2"),
        (12, "12"),
        (2**70, str(2**70)),
        (True, "True"),
        (NAN, "nan"),
        (INF, "inf"),
        (-INF, "-inf"),
        (None, "None"),
        ("adam", "adam"),
        ("line one\nline two", "line one line two"),
    ],
)
def test_format_value(value: object, text: str) -> None:
    assert format_value(value) == text


def test_format_value_shortens_long_text() -> None:
    assert format_value("x" * 100, max_width=10) == "x" * 9 + "…"


# -- start line ------------------------------------------------------------------------------------


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def store_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory whose ./runlab is the default store, with runlab's env cleared."""
    for name in ("RUNLAB_DIR", "RUNLAB_SILENT", "RUNLAB_QUIET", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _start(monkeypatch: pytest.MonkeyPatch, stream: io.StringIO, run_dir: Path, **kw: bool) -> str:
    monkeypatch.setattr(sys, "__stderr__", stream)
    print_start("brave-otter-3", "k3j9x0ab", "grasping", run_dir, **kw)
    return stream.getvalue()


def test_start_line_plain_when_not_a_terminal(
    store_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = _start(monkeypatch, io.StringIO(), store_cwd / "runlab" / "runs" / "k3j9x0ab")
    assert line == (
        "runlab: run brave-otter-3 (id k3j9x0ab) in project grasping"
        " → runlab/runs/k3j9x0ab · view: runlab show k3j9x0ab\n"
    )


def test_start_line_coloured_on_a_terminal(
    store_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = _start(monkeypatch, _Tty(), store_cwd / "runlab" / "runs" / "k3j9x0ab")
    assert "\x1b[" in line
    assert line.count("\n") == 1
    plain = line
    for code in ("\x1b[0m", "\x1b[1;34m", "\x1b[1;33m", "\x1b[2m", "\x1b[1m", "\x1b[36m"):
        plain = plain.replace(code, "")
    assert plain.startswith("runlab: run brave-otter-3 (id k3j9x0ab) in project grasping")


def test_start_line_respects_no_color(store_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    line = _start(monkeypatch, _Tty(), store_cwd / "runlab" / "runs" / "k3j9x0ab")
    assert "\x1b[" not in line


def test_start_line_names_a_store_the_cli_would_not_find(
    store_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = store_cwd / "elsewhere" / "my store" / "runs" / "k3j9x0ab"
    line = _start(monkeypatch, io.StringIO(), run_dir)
    assert line.endswith("view: runlab show k3j9x0ab --dir 'elsewhere/my store'\n")


def test_start_line_follows_runlab_dir(store_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLAB_DIR", str(store_cwd / "custom"))
    line = _start(monkeypatch, io.StringIO(), store_cwd / "custom" / "runs" / "k3j9x0ab")
    assert line.endswith("view: runlab show k3j9x0ab\n")


def test_start_line_shows_absolute_path_outside_cwd(
    store_cwd: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = tmp_path_factory.mktemp("other") / "runs" / "k3j9x0ab"
    line = _start(monkeypatch, io.StringIO(), other)
    assert f"→ {other} ·" in line


def test_start_line_silenced_by_quiet_or_env(
    store_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = store_cwd / "runlab" / "runs" / "k3j9x0ab"
    assert _start(monkeypatch, io.StringIO(), run_dir, quiet=True) == ""
    monkeypatch.setenv("RUNLAB_SILENT", "1")
    assert _start(monkeypatch, io.StringIO(), run_dir) == ""


def test_start_line_survives_a_closed_stderr(
    store_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    stream.close()
    monkeypatch.setattr(sys, "__stderr__", stream)
    print_start("a", "b", "c", store_cwd / "runlab" / "runs" / "b")


def test_start_line_does_not_import_rich(tmp_path: Path) -> None:
    # init() has a 30 ms budget; Rich alone costs more than that to import.
    code = (
        "import sys\n"
        "from runlab.sdk._terminal import print_start\n"
        "print_start('n', 'abc', 'p', 'runlab/runs/abc')\n"
        "assert not [m for m in sys.modules if m == 'rich' or m.startswith('rich.')]\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLAB_")}
    src = str(Path(runlab.sdk._terminal.__file__).parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "runlab: run n (id abc) in project p" in done.stderr


# -- end block -------------------------------------------------------------------------------------


@pytest.fixture
def recorded(store_cwd: Path) -> Iterator[Console]:
    console = Console(record=True, width=100, file=io.StringIO())
    set_console(console)
    yield console
    set_console(None)


def test_end_block_golden(recorded: Console, store_cwd: Path) -> None:
    history = {
        "loss": [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125],
        "accuracy": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
        "grad_norm": [1.0, NAN, 1.0, 1.0, 1.0, 1.0, 1.0, INF],
    }
    summary = {"loss": 0.0078125, "accuracy": 0.8, "epoch": 7, "best": NAN, "optimizer": "adam"}
    print_end(
        "jolly-haze-4",
        "pdo5110r",
        "finished",
        history,
        summary,
        store_cwd / "runlab" / "runs" / "pdo5110r",
    )
    assert recorded.export_text() == (
        "runlab:\n"
        "runlab: Run history:\n"
        "runlab:      loss █▄▃▂▁▁▁▁\n"
        "runlab:  accuracy ▁▂▃▄▅▆▇█\n"
        "runlab: grad_norm ▁ ▁▁▁▁▁ \n"
        "runlab:\n"
        "runlab: Run summary:\n"
        "runlab:      loss 0.0078125\n"
        "runlab:  accuracy 0.8\n"
        "runlab:     epoch 7\n"
        "runlab:      best nan\n"
        "runlab: optimizer adam\n"
        "runlab:\n"
        "runlab: run jolly-haze-4 (id pdo5110r) finished → runlab/runs/pdo5110r"
        " · view: runlab show pdo5110r\n"
    )


def test_end_block_without_metrics_is_only_the_final_line(
    recorded: Console, store_cwd: Path
) -> None:
    print_end("a-run", "abc", "failed", {}, {}, store_cwd / "runlab" / "runs" / "abc")
    assert recorded.export_text() == (
        "runlab:\nrunlab: run a-run (id abc) failed → runlab/runs/abc · view: runlab show abc\n"
    )


def test_end_block_limits_keys_and_counts_the_rest(recorded: Console, store_cwd: Path) -> None:
    history = {f"m{i:02d}": [float(i), float(i + 1)] for i in range(25)}
    summary = {f"m{i:02d}": i for i in range(23)}
    print_end("r", "abc", "finished", history, summary, store_cwd / "runlab" / "runs" / "abc")
    text = recorded.export_text()
    assert "runlab: m19 ▁█\n" in text
    assert "m20 ▁█" not in text
    assert "runlab: ... and 5 more\n" in text
    assert "runlab: m19 19\n" in text
    assert "runlab: ... and 3 more\n" in text


def test_end_block_shortens_very_long_keys(recorded: Console, store_cwd: Path) -> None:
    key = "train/" + "x" * 100
    print_end("r", "abc", "finished", {key: [1.0]}, {}, store_cwd / "runlab" / "runs" / "abc")
    lines = recorded.export_text().splitlines()
    assert lines[2] == "runlab: train/" + "x" * 33 + "… ▁"


def test_end_block_colours_status(store_cwd: Path) -> None:
    console = Console(record=True, width=100, file=io.StringIO(), color_system="truecolor")
    set_console(console)
    try:
        print_end("r", "abc", "crashed", {}, {}, store_cwd / "runlab" / "runs" / "abc")
    finally:
        set_console(None)
    assert "\x1b[1;31mcrashed" in console.export_text(styles=True)


def test_end_block_silenced(
    recorded: Console, store_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = store_cwd / "runlab" / "runs" / "abc"
    print_end("r", "abc", "finished", {"a": [1.0]}, {"a": 1.0}, run_dir, quiet=True)
    monkeypatch.setenv("RUNLAB_SILENT", "true")
    print_end("r", "abc", "finished", {"a": [1.0]}, {"a": 1.0}, run_dir)
    assert recorded.export_text() == ""
