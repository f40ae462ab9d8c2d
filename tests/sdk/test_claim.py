"""Only one process takes over an ended run: ``runlab.sdk._claim``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sdk_helpers import start

from runlab import RunExistsError
from runlab.sdk._claim import CLAIMS_DIR, claim
from runlab.storage._layout import RUN_JSON, read_json


def ended_run(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    with start(tmp_path, id="r1") as run:
        run.log({"loss": 1.0})
    prior: dict[str, object] = read_json(run.dir / RUN_JSON)
    return run.dir, prior


def test_a_second_claim_of_the_same_session_is_refused_while_the_first_lives(
    tmp_path: Path,
) -> None:
    home, prior = ended_run(tmp_path)
    claim(home, prior, "cannot resume run 'r1'")  # this (live) process holds it now
    with pytest.raises(RunExistsError, match=r"resuming it right now \(process \d+ on this host"):
        claim(home, prior, "cannot resume run 'r1'")
    with pytest.raises(RunExistsError, match="resuming it right now"):
        start(tmp_path, id="r1", resume="must")


def test_a_claim_whose_process_died_is_passed_over(tmp_path: Path) -> None:
    home, prior = ended_run(tmp_path)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    claim(home, prior, "x")
    (taken,) = (home / CLAIMS_DIR).iterdir()
    data = json.loads(taken.read_text())
    taken.write_text(json.dumps({**data, "pid": int(dead.stdout)}))  # its claimer is gone
    resumed = start(tmp_path, id="r1", resume="must")
    resumed.log({"loss": 2.0})
    resumed.finish()
    assert read_json(resumed.dir / RUN_JSON)["status"] == "finished"
    assert len(list((home / CLAIMS_DIR).iterdir())) == 2


def test_a_later_resume_claims_the_new_session(tmp_path: Path) -> None:
    ended_run(tmp_path)
    for k in range(3):  # each resume takes over from the session before it
        with start(tmp_path, id="r1", resume="must") as run:
            run.log({"loss": float(k)})
    assert len(list((run.dir / CLAIMS_DIR).iterdir())) == 3


RACE = """
import sys, time
from pathlib import Path
import runlab

store, go = sys.argv[1], Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
try:
    run = runlab.init(id="r1", resume="must", dir=store, settings={"quiet": True})
except runlab.RunExistsError as exc:
    print("refused", exc)
    sys.exit(3)
time.sleep(1.0)  # still writing when the others try
run.log({"loss": 9.0})
run.finish()
print("resumed")
"""


def test_processes_racing_to_resume_one_run_leave_it_one_writer(tmp_path: Path) -> None:
    ended_run(tmp_path)
    go = tmp_path / "go"
    env = {**os.environ, "RUNLAB_SYSTEM_METRICS_INTERVAL": "0"}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(tmp_path), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(4)
    ]
    go.touch()
    outcomes = [racer.communicate(timeout=60) for racer in racers]
    codes = sorted(racer.returncode for racer in racers)
    assert codes == [0, 3, 3, 3], outcomes
    refused = [out for out, _ in outcomes if out.startswith("refused")]
    assert all("still running" in out or "right now" in out for out in refused), refused
