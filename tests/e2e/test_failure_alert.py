"""A script that dies of an uncaught exception (no ``with`` block: runlab's exit hooks end the
run) still sends its failure alert, from a real child process to a webhook on 127.0.0.1."""

from __future__ import annotations

from typing import Any

SCRIPT = """
import runlab

run = runlab.init(project="hooks", id="dies", dir=sys.argv[1],
                  settings={"capture_output": False, "system_metrics_interval": 0})
run.log({"loss": 1.0})
raise ZeroDivisionError("the learning rate was zero")
"""


def test_an_uncaught_exception_sends_the_failure_alert(children: Any, alert_hook: Any) -> None:
    env = children.env(RUNLAB_ALERT_WEBHOOK=f"{alert_hook.url}/hook")
    done = children.run(SCRIPT, str(children.store), env=env, timeout=30)
    assert done.returncode == 1
    assert "ZeroDivisionError" in done.stderr
    [(_, body)] = alert_hook.wait_for(1)
    assert body["kind"] == "failed" and body["run_id"] == "dies"
    assert "ZeroDivisionError: the learning rate was zero" in body["text"]
    assert children.read_run_json(children.store / "runs" / "dies")["status"] == "failed"
