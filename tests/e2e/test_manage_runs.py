"""Move, delete, restore and gc through the real `runlab` command, on runs recorded by real
processes (a finished one, and one still running in another process)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import runlab

SRC = str(Path(__file__).resolve().parents[2] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC, "RUNLAB_SILENT": "1"}

RECORD = """
import sys, time, pathlib, runlab
root, run_id, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
with runlab.init(dir=root, id=run_id, project="a", settings={"heartbeat_interval": 0.3}) as run:
    for step in range(20):
        run.log({"loss": 1.0 / (step + 1)})
    pathlib.Path(root, run_id + ".started").touch()
    deadline = time.monotonic() + hold
    while time.monotonic() < deadline and not pathlib.Path(root, "release").exists():
        time.sleep(0.02)
"""


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runlab", *args, "--dir", str(root)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_move_delete_restore_gc_with_the_cli(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-c", RECORD, str(tmp_path), "done01", "0"], env=ENV, check=True
    )
    live = subprocess.Popen([sys.executable, "-c", RECORD, str(tmp_path), "live01", "60"], env=ENV)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "live01.started").exists():
            assert time.monotonic() < deadline and live.poll() is None
            time.sleep(0.02)

        moved = cli(tmp_path, "mv", "done01", "live01", "--project", "b")
        assert moved.returncode == 0, moved.stderr
        assert {r.id for r in runlab.Api(tmp_path).runs(project="b")} == {"done01", "live01"}

        refused = cli(tmp_path, "delete", "live01", "-y")
        assert refused.returncode == 1 and "still running" in refused.stderr

        deleted = cli(tmp_path, "delete", "done01", "-y")
        assert deleted.returncode == 0, deleted.stderr
        assert [r.id for r in runlab.Api(tmp_path).runs()] == ["live01"]
        assert "done01" in cli(tmp_path, "restore").stdout

        restored = cli(tmp_path, "restore", "done01")
        assert restored.returncode == 0, restored.stderr
        view = runlab.Api(tmp_path).run("done01")
        assert (view.project, len(view.history()["loss"])) == ("b", 20)

        assert cli(tmp_path, "delete", "done01", "-y").returncode == 0
        purged = cli(tmp_path, "gc", "-y")
        assert purged.returncode == 0 and "Purged 1 run" in purged.stdout
        assert not (tmp_path / "trash" / "done01").is_dir()
        reuse = subprocess.run(
            [sys.executable, "-c", RECORD, str(tmp_path), "done01", "0"], env=ENV,
            capture_output=True, text=True,
        )  # fmt: skip
        assert reuse.returncode != 0 and "never reused" in reuse.stderr
    finally:
        (tmp_path / "release").touch()
        live.wait(timeout=30)
    # The moved run kept logging and ended in its new project.
    view = runlab.Api(tmp_path).run("live01")
    assert (view.project, str(view.status)) == ("b", "finished")
