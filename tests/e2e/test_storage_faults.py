"""Storage trouble never stops training: the loop completes, the fault is recorded and warned
about once, and whatever could be written is readable.

Each case runs in a child process: it logs through the fault with every warning recorded, then
prints a JSON report (warnings seen, ``run.faults``, steps completed) for the test to check.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from runlab.storage._reader import read_history, scan

STEPS = 60_000

# argv: store dir, file-size limit in bytes (0: none). Reports on its last stdout line.
SCRIPT = """
import json
import resource
import signal
import warnings

import runlab

store, limit = sys.argv[1], int(sys.argv[2])
if limit:
    # A full disk, as one process sees it: writes past `limit` bytes fail with EFBIG.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    run = runlab.init(project="e2e", dir=store, settings={"flush_interval": 0.01})
    done = 0
    for i in range(STEPS):
        # Values that do not compress, so that the log grows by ~16 bytes a step.
        run.log({"x": i * 1.1, "i": i})
        done += 1
    run.finish()

print(json.dumps({
    "done": done,
    "id": run.id,
    "dir": str(run.dir),
    "status": run.status.value,
    "faults": list(run.faults),
    "warnings": [
        [w.category.__name__, str(w.message)] for w in caught
    ],
}))
""".replace("STEPS", str(STEPS))


def run_child(children: Any, store: Path, limit: int = 0) -> dict[str, Any]:
    done = children.run(SCRIPT, str(store), str(limit), timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    # The loop ran to its end; the run ended normally as far as training is concerned.
    assert report["done"] == STEPS
    assert report["status"] == "finished"
    # Recorded, and reported exactly once however many writes failed.
    assert report["faults"], report
    warned = [w for w in report["warnings"] if w[0] == "RunlabWarning"]
    assert len(warned) == 1, report["warnings"]
    assert report["warnings"] == warned, "only runlab's own warning is expected"
    assert "training continues" in warned[0][1]
    return report


def _writes_are_refused(directory: Path) -> bool:
    try:
        (directory / "probe").write_text("x")
    except PermissionError:
        return True
    (directory / "probe").unlink()
    return False


def test_store_path_that_cannot_be_a_directory(children: Any, tmp_path: Path) -> None:
    # Works even for root, whom permissions do not stop: mkdir fails with ENOTDIR.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a regular file where the store's parent should be")

    report = run_child(children, blocker / "store")

    assert "Not a directory" in report["warnings"][0][1]
    assert blocker.read_text() == "a regular file where the store's parent should be"


def test_read_only_store_directory(children: Any, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    store.chmod(0o555)
    try:
        if not _writes_are_refused(store):
            pytest.skip("permissions do not stop this user's writes (root or CAP_DAC_OVERRIDE)")
        report = run_child(children, store)
    finally:
        store.chmod(0o755)

    assert "Permission denied" in report["warnings"][0][1]
    assert not (store / "runs").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_disk_full_keeps_what_was_written(children: Any, tmp_path: Path) -> None:
    limit = 200_000  # well under the ~1 MB the loop logs
    report = run_child(children, tmp_path / "store", limit)

    assert any("File too large" in fault for fault in report["faults"]), report["faults"]
    run_dir = Path(report["dir"])
    log = run_dir / "history.rlog"
    assert log.stat().st_size <= limit
    # Every frame written before the limit is read back: a gap-free prefix of the steps, with
    # the logged values; only the frame the limit cut short is lost.
    frame = read_history(run_dir)
    n = frame.height
    assert n > 5000, f"only {n} rows survived"
    assert n < STEPS
    assert frame["step"].to_list() == list(range(n))
    assert frame["i"].to_list() == list(range(n))
    assert frame["x"].to_list() == [i * 1.1 for i in range(n)]
    report_scan = scan(run_dir)
    assert report_scan.corrupt_ranges in (None, [(report_scan.valid_end, log.stat().st_size)])
    # run.json (small, rewritten whole) still records the end and the faults.
    data = json.loads((run_dir / "run.json").read_text())
    assert data["status"] == "finished"
    assert data["faults"]
    assert os.path.getsize(run_dir / "run.json") < limit
