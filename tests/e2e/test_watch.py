"""``runlab watch``: a SIGKILLed run is marked crashed at once and announced; a stalled run is
announced once. Real child processes, a local webhook on 127.0.0.1, bounded waits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import runlab
from runlab.cli import app
from runlab.sdk._watch import STATE_FILE, Watcher
from runlab.storage.testing import make_record, write_run

# argv: store, side file. Default heartbeat (10 s): only the pid check can find the crash fast.
SCRIPT = """
run = runlab.init(project="watched", id=sys.argv[3], dir=sys.argv[1],
                  settings={"capture_output": False, "system_metrics_interval": 0})
for i in range(10):
    run.log({"loss": 1.0 / (i + 1)})
run.summary["ready"] = 1
mark(sys.argv[2], 1)
while True:
    time.sleep(0.05)
"""


def watch_once(store: Path, url: str) -> Any:
    env = {"RUNLAB_ALERT_WEBHOOK": url, "RUNLAB_SILENT": "1"}
    result = CliRunner().invoke(app, ["watch", "--once", "--dir", str(store)], env=env)
    assert result.exit_code == 0, result.output
    return result


def start_child(children: Any, run_id: str) -> subprocess.Popen[str]:
    side = children.tmp_path / f"ready-{run_id}"
    proc = children.start(
        "import time\nimport runlab\n" + SCRIPT, str(children.store), str(side), run_id
    )
    children.wait_until(
        lambda: children.read_mark(side) == 1 or proc.poll() is not None,
        timeout=30,
        what="the child run to start",
    )
    assert proc.poll() is None, proc.communicate()[1]
    return proc


def test_a_sigkilled_run_is_marked_crashed_at_once_and_announced_once(
    children: Any, alert_hook: Any
) -> None:
    proc = start_child(children, "victim")
    survivor = start_child(children, "survivor")
    run_dir = children.store / "runs" / "victim"
    assert children.read_run_json(run_dir)["writer"]["pid"] == proc.pid
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    api = runlab.Api(dir=children.store)
    assert api.run("victim").status == "running"  # its heartbeat (10 s) has not lapsed yet
    began = time.monotonic()
    result = watch_once(children.store, f"{alert_hook.url}/hook")
    assert time.monotonic() - began < 15
    assert "victim marked crashed" in result.output
    assert "survivor" not in result.output

    stored = children.read_run_json(run_dir)
    assert stored["status"] == "crashed"
    assert f"process {proc.pid}" in stored["err_msg"]
    assert api.run("victim").status == "crashed"
    assert api.run("survivor").status == "running"
    assert [v.id for v in api.runs(status="crashed")] == ["victim"]

    [(path, body)] = alert_hook.wait_for(1)
    assert path == "/hook"
    assert body["kind"] == "crashed" and body["level"] == "ERROR"
    assert (body["run_id"], body["project"]) == ("victim", "watched")
    assert body["title"] == f"Run {body['run_name']} crashed"
    assert "is gone" in body["text"]
    recorded = (run_dir / "files" / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["kind"] for line in recorded] == ["crashed"]

    watch_once(children.store, f"{alert_hook.url}/hook")  # nothing new: nothing sent
    time.sleep(0.2)
    assert len(alert_hook.items) == 1
    assert "victim" in json.loads((children.store / STATE_FILE).read_text())["sent"]

    survivor.send_signal(signal.SIGTERM)
    children.communicate(survivor, timeout=20)
    assert api.run("survivor").status == "killed"


def test_a_stalled_run_gets_one_alert_per_missed_deadline(tmp_path: Path, alert_hook: Any) -> None:
    settings = {"quiet": True, "capture_output": False, "system_metrics_interval": 0}
    with runlab.init(project="slow", dir=tmp_path, settings=settings) as run:
        watcher = Watcher(tmp_path, runlab.Settings(alert_webhook=f"{alert_hook.url}/hook"))
        try:
            run.report_progress(expect_next_in=0.2)
            _wait(lambda: runlab.Api(dir=tmp_path).run(run.id).status == "stalled", "a stall")
            first = watcher.scan()
            second = watcher.scan()
            assert [(e.run_id, e.kind) for e in first] == [(run.id, "stalled")]
            assert second == []
            [(_, body)] = alert_hook.wait_for(1)
            assert body["kind"] == "stalled" and body["level"] == "WARN"
            assert body["title"] == f"Run {run.name} stalled"
            assert "late" in body["text"]

            run.report_progress(expect_next_in=0.2)  # recovers, then misses again
            _wait(lambda: bool(watcher.scan()), "the second stall", timeout=10)
            alert_hook.wait_for(2)
            assert watcher.scan() == []
            time.sleep(0.2)
            assert [b["kind"] for _, b in alert_hook.items] == ["stalled", "stalled"]
        finally:
            watcher.close()


def test_crashes_from_before_the_store_was_watched_are_not_announced(
    tmp_path: Path, alert_hook: Any
) -> None:
    old = time.time() - 3600
    write_run(tmp_path, make_record("old", created_at=old - 60, heartbeat_at=old))
    result = watch_once(tmp_path, f"{alert_hook.url}/hook")
    assert result.output.strip() == ""
    assert runlab.Api(dir=tmp_path).run("old").status == "crashed"  # derived, not rewritten
    assert json.loads((tmp_path / "runs" / "old" / "run.json").read_text())["status"] == "running"
    time.sleep(0.2)
    assert alert_hook.items == []


def test_a_run_of_another_host_or_a_live_pid_is_not_marked(tmp_path: Path) -> None:
    now = time.time()
    for run_id, writer in (
        ("remote", {"pid": 1, "host": "some-other-host"}),
        ("alive", {"pid": os.getpid(), "host": os.uname().nodename}),
    ):
        directory = write_run(tmp_path, make_record(run_id, created_at=now - 1, heartbeat_at=now))
        data = json.loads((directory / "run.json").read_text())
        data["writer"] = writer
        (directory / "run.json").write_text(json.dumps(data))
    watcher = Watcher(tmp_path, runlab.Settings(), sinks=())
    try:
        assert watcher.scan() == []
    finally:
        watcher.close()
    api = runlab.Api(dir=tmp_path)
    assert {v.id: str(v.status) for v in api.runs()} == {"remote": "running", "alive": "running"}


def test_watch_runs_until_sigterm(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLAB_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "runlab", "watch", "--dir", str(tmp_path), "-i", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        _wait(lambda: (tmp_path / STATE_FILE).exists() or proc.poll() is not None, "a pass")
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Watching" in out


def _wait(predicate: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def test_a_remote_run_whose_heartbeat_lapses_while_watched_is_announced(
    tmp_path: Path, alert_hook: Any
) -> None:
    now = time.time()
    record = make_record("remote", created_at=now - 1, heartbeat_at=now, heartbeat_interval=0.1)
    directory = write_run(tmp_path, record)
    data = json.loads((directory / "run.json").read_text())
    data["writer"] = {"pid": 1, "host": "some-other-host"}  # cannot be checked from here
    (directory / "run.json").write_text(json.dumps(data))
    watcher = Watcher(tmp_path, runlab.Settings(alert_webhook=f"{alert_hook.url}/hook"))
    try:
        assert watcher.scan(now=now) == []  # still beating: nothing to say
        events = watcher.scan(now=now + 1.0)  # three beats (0.3 s) missed
        assert [(e.run_id, e.kind) for e in events] == [("remote", "crashed")]
        assert watcher.scan(now=now + 2.0) == []
    finally:
        watcher.close()
    [(_, body)] = alert_hook.wait_for(1)
    assert "no heartbeat for 1 s" in body["text"]
    assert json.loads((directory / "run.json").read_text())["status"] == "running"  # not ours
