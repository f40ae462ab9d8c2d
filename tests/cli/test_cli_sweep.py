"""``runlab sweep SWEEP.yaml``: trials as real subprocesses joining one sweep group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner, Result

import runlab
from runlab.cli import app

ENV = {"COLUMNS": "200", "NO_COLOR": "1", "RUNLAB_DIR": None, "RUNLAB_SILENT": "1"}
SRC = str(Path(runlab.__file__).resolve().parent.parent)

TRAIN = """
import argparse, os, pathlib, time
import runlab

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float)
parser.add_argument("--layers", type=int)
parser.add_argument("--act")
parser.add_argument("--sleep", type=float, default=0)
args = parser.parse_args()
settings = {"quiet": True, "capture_git": False, "capture_packages": False}
with runlab.init(config=vars(args), settings=settings) as run:
    if os.environ.get("MARKS"):  # tells the test this trial is inside its run
        pathlib.Path(os.environ["MARKS"], run.id).touch()
    time.sleep(args.sleep)
    run.log({"loss": args.lr * args.layers})
"""


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(app, args, env=ENV)


def write_sweep(tmp_path: Path, body: str) -> Path:
    (tmp_path / "train.py").write_text(TRAIN)
    path = tmp_path / "sweep.yaml"
    script = tmp_path / "train.py"
    path.write_text(f"command: {sys.executable} {script}\n" + textwrap.dedent(body))
    return path


def test_sweep_runs_each_trial_as_a_run_in_the_group(tmp_path: Path) -> None:
    file = write_sweep(
        tmp_path,
        """
        name: s
        project: demo
        parallel: 2
        parameters:
          lr: [0.1, 0.2]
          layers: [1, 2]
          act: relu
        """,
    )
    store = tmp_path / "store"
    result = invoke(["sweep", str(file), "--dir", str(store)])
    assert result.exit_code == 0, result.output
    for k in range(4):
        assert f"s-{k}" in result.output
    rc = runlab.runs(dir=store).filter(lambda r: r.group == "s").sort("name")
    assert rc.to_list("name") == ["s-0", "s-1", "s-2", "s-3"]
    assert [(r.config["lr"], r.config["layers"]) for r in rc] == [
        (0.1, 1),
        (0.1, 2),
        (0.2, 1),
        (0.2, 2),
    ]
    assert {r.project for r in rc} == {"demo"}
    assert {str(r.status) for r in rc} == {"finished"}
    assert rc.to_list("loss") == pytest.approx([0.1, 0.2, 0.2, 0.4])


def test_dry_run_lists_the_commands(tmp_path: Path) -> None:
    file = write_sweep(
        tmp_path,
        """
        name: d
        method: random
        count: 3
        seed: 5
        parameters:
          lr: ${uniform(0, 1)}
          act: [relu, tanh]
        """,
    )
    store = tmp_path / "store"
    result = invoke(["sweep", str(file), "--dir", str(store), "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split(":")[0] for line in lines] == ["d-0", "d-1", "d-2"]
    assert all("train.py --lr=0." in line and "--act=" in line for line in lines)
    assert result.output == invoke(["sweep", str(file), "--dir", str(store), "--dry-run"]).output
    assert not store.exists()


def test_bad_sweep_files_say_what_is_wrong(tmp_path: Path) -> None:
    file = write_sweep(tmp_path, "colour: red\n")
    result = invoke(["sweep", str(file)])
    assert result.exit_code == 1
    assert "unknown keys colour" in result.output


def interrupt_sweep(
    tmp_path: Path, file: Path, started: int, timeout: float = 30
) -> tuple[subprocess.Popen[bytes], str, list[psutil.Process]]:
    """Run ``runlab sweep file`` in a real process, press Ctrl-C (SIGINT) once ``started``
    trials are inside their runs, and return the process, its output and its trials."""
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, "PYTHONPATH": SRC, "RUNLAB_SILENT": "1", "COLUMNS": "200"}
    env["MARKS"] = str(marks)
    store = tmp_path / "store"
    cli = subprocess.Popen(
        [sys.executable, "-m", "runlab", "sweep", str(file), "--dir", str(store)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while len(list(marks.iterdir())) < started:
            assert time.monotonic() < deadline, "the trials never started their runs"
            assert cli.poll() is None, cli.communicate()[0]
            time.sleep(0.05)
        children = psutil.Process(cli.pid).children(recursive=True)
        cli.send_signal(signal.SIGINT)
        output = cli.communicate(timeout=timeout)[0].decode()
    finally:
        if cli.poll() is None:
            cli.kill()
    return cli, output, children


def test_ctrl_c_kills_the_trials_and_marks_their_runs_killed(tmp_path: Path) -> None:
    file = write_sweep(
        tmp_path,
        """
        name: k
        parallel: 2
        parameters:
          lr: [0.1, 0.2, 0.3]
          layers: 1
          sleep: 60
        """,
    )
    cli, output, children = interrupt_sweep(tmp_path, file, started=2)
    assert len(children) >= 2
    assert cli.returncode == 130, output
    assert "not started" in output
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive
    rc = runlab.runs(dir=tmp_path / "store").filter(lambda r: r.group == "k")
    assert len(rc) == 2
    assert {str(r.status) for r in rc} == {"killed"}, output


@pytest.mark.slow
def test_ctrl_c_marks_a_trial_killed_that_ignores_sigterm(tmp_path: Path) -> None:
    file = write_sweep(
        tmp_path,
        """
        name: stubborn
        parameters:
          lr: 0.1
          layers: 1
          sleep: 60
        """,
    )
    # after its run started, the trial ignores SIGTERM: only the grace period's SIGKILL ends it
    script = tmp_path / "train.py"
    script.write_text(
        TRAIN.replace(
            '    if os.environ.get("MARKS"):',
            "    import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            '    if os.environ.get("MARKS"):',
        )
    )
    cli, output, _ = interrupt_sweep(tmp_path, file, started=1, timeout=60)
    assert cli.returncode == 130, output
    (run,) = runlab.runs(dir=tmp_path / "store")
    assert str(run.status) == "killed", output
    assert run.ended_at is not None
    assert "killed after 5 s" in (run.err_msg or "")
