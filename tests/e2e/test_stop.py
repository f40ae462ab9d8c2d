"""Stopping runs from outside: `runlab stop` / Api.stop reach the run's process within a beat;
a SIGTERM after every run ended is the program's own business."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import runlab

SRC = str(Path(__file__).resolve().parents[2] / "src")

LOOP = """
import sys, time, pathlib, runlab
root, mode = sys.argv[1], sys.argv[2]
run = runlab.init(dir=root, id="stop01", settings={"quiet": True, "heartbeat_interval": 0.3})
stopping = []
if mode == "handler":
    run.on_stop(lambda: stopping.append(True))
pathlib.Path(root, "started").touch()
with run:
    step = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not stopping:
        run.log({"x": float(step)})
        step += 1
        time.sleep(0.01 if mode != "sleep" else 30)
    if stopping:
        run.summary["stopped_at"] = step
        run.finish("killed")
"""


def _start(root: Path, mode: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": SRC, "RUNLAB_SILENT": "1"}
    proc = subprocess.Popen([sys.executable, "-c", LOOP, str(root), mode], env=env)
    deadline = time.monotonic() + 30
    while not (root / "started").exists():
        assert time.monotonic() < deadline and proc.poll() is None, "the run never started"
        time.sleep(0.02)
    return proc


@pytest.mark.parametrize("mode", ["loop", "sleep"])
def test_runlab_stop_interrupts_the_main_thread_and_the_run_ends_killed(
    tmp_path: Path, mode: str
) -> None:
    # "sleep": the main thread is blocked in time.sleep(30), and is woken all the same.
    proc = _start(tmp_path, mode)
    asked = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "runlab", "stop", "stop01", "--dir", str(tmp_path)],
        env={**os.environ, "PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Asked stop01" in result.stdout
    proc.wait(timeout=30)
    assert time.monotonic() - asked < 10  # within a heartbeat, plus process start-up
    view = runlab.Api(tmp_path).run("stop01")
    assert view.status is runlab.RunStatus.KILLED
    assert view.err_msg == "stopped from outside (runlab stop)"
    assert runlab.Api(tmp_path).stop("stop01") == []  # ended: nothing to ask


def test_a_registered_handler_is_called_instead(tmp_path: Path) -> None:
    proc = _start(tmp_path, "handler")
    assert runlab.Api(tmp_path).stop("stop01") == ["stop01"]
    assert proc.wait(timeout=30) == 0  # no KeyboardInterrupt: the loop ended by itself
    view = runlab.Api(tmp_path).run("stop01")
    assert view.status is runlab.RunStatus.KILLED
    assert view.summary["stopped_at"] > 0


def test_sigterm_after_every_run_ended_kills_the_process_quietly(tmp_path: Path) -> None:
    # A program that used runlab earlier (a notebook kernel, a server recording a demo) and
    # gets SIGTERM later dies by SIGTERM as it would without runlab: no Terminated traceback.
    code = (
        "import os, signal, sys, time, runlab\n"
        f"with runlab.init(dir={str(tmp_path)!r}, settings={{'quiet': True}}) as run:\n"
        "    run.log({'x': 1.0})\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGTERM
    assert b"Terminated" not in err, err.decode()


def test_on_stop_takes_a_callable_or_none(tmp_path: Path) -> None:
    run = runlab.init(dir=tmp_path, settings={"quiet": True, "capture_output": False})
    with pytest.raises(TypeError, match=r"on_stop\(handler=5\).*callable"):
        run.on_stop(5)  # type: ignore[arg-type]
    run.on_stop(None)
    run.finish()
