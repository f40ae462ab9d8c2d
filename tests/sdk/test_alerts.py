"""``run.alert`` and ``run.report_progress``: what local receivers get, and what readers show.

Alerts go to real servers on 127.0.0.1 (an HTTP server for the JSON and Slack webhooks, aiosmtpd
for email; see ``tests/conftest.py``). Every wait is bounded.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import runlab
from runlab import AlertLevel, RunlabWarning, SettingsError
from runlab.sdk._alerts import ALERTS_FILE, Alert, Dispatcher, RateLimiter

QUICK = {
    "quiet": True,
    "capture_output": False,
    "capture_git": False,
    "capture_packages": False,
    "system_metrics_interval": 0,
}


def start(tmp_path: Path, **settings: Any) -> runlab.Run:
    return runlab.init(project="alerts", dir=tmp_path, settings={**QUICK, **settings})


def alerts_file(run: runlab.Run) -> list[dict[str, Any]]:
    path = run.dir / "files" / ALERTS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_an_alert_reaches_the_webhook_slack_and_email(
    tmp_path: Path, alert_hook: Any, smtp_inbox: Any
) -> None:
    run = start(
        tmp_path,
        alert_webhook=f"{alert_hook.url}/json",
        alert_slack_webhook=f"{alert_hook.url}/slack",
        alert_email="oncall@example.org, lead@example.org",
        alert_smtp=f"127.0.0.1:{smtp_inbox.port}",
        alert_smtp_from="runlab@example.org",
    )
    assert run.alert("Loss spike", "loss 9.1 at step 4", level="WARN") is True
    run.finish()
    alert_hook.wait_for(2)

    [body] = alert_hook.bodies("/json")
    assert body["title"] == "Loss spike"
    assert body["text"] == "loss 9.1 at step 4"
    assert body["level"] == "WARN"
    assert body["kind"] == "user"
    assert (body["run_id"], body["run_name"], body["project"]) == (run.id, run.name, "alerts")
    assert "url" not in json.dumps(body)

    [slack] = alert_hook.bodies("/slack")
    assert "Loss spike" in slack["text"] and "loss 9.1 at step 4" in slack["text"]
    assert [block["type"] for block in slack["blocks"]] == ["header", "section", "context"]
    assert run.id in json.dumps(slack["blocks"])

    [(recipients, message)] = smtp_inbox.wait_for(1)
    assert recipients == ["oncall@example.org", "lead@example.org"]
    assert message["Subject"] == "[runlab WARN] Loss spike"
    assert message["From"] == "runlab@example.org"
    body_text = message.get_payload()
    assert "loss 9.1 at step 4" in body_text and run.id in body_text

    [recorded] = alerts_file(run)
    assert recorded["title"] == "Loss spike" and recorded["level"] == "WARN"
    assert run.faults == ()
    assert runlab.Api(dir=tmp_path).run(run.id).alerts() == [recorded]


def test_runlab_show_lists_a_runs_alerts(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from runlab.cli import app

    with start(tmp_path) as run:
        run.alert("Loss is NaN", "at step 120", level="ERROR")
        run.alert("Slow epoch", level="WARN")
    with (run.dir / "files" / ALERTS_FILE).open("a", encoding="utf-8") as f:
        f.write('{"title": "torn')  # a process killed mid-line: the line is skipped
    assert [a["title"] for a in runlab.Api(dir=tmp_path).run(run.id).alerts()] == [
        "Loss is NaN",
        "Slow epoch",
    ]
    result = CliRunner().invoke(app, ["show", run.id, "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    shown = result.output[result.output.index("Alerts") :]
    assert "[ERROR] Loss is NaN: at step 120" in shown
    assert "[WARN] Slow epoch" in shown


def test_each_sink_passes_only_alerts_at_its_level(tmp_path: Path, alert_hook: Any) -> None:
    run = start(
        tmp_path,
        alert_webhook=f"{alert_hook.url}/json",
        alert_webhook_level="warn",
        alert_slack_webhook=f"{alert_hook.url}/slack",
        alert_slack_webhook_level="ERROR",
    )
    run.alert("note", "fyi", level=AlertLevel.INFO)
    run.alert("odd", "hmm", level="WARNING")
    run.alert("bad", "oh no", level="error")
    run.finish()
    assert [b["title"] for b in alert_hook.bodies("/json")] == ["odd", "bad"]
    assert [b["text"] for b in alert_hook.bodies("/slack")] == [
        ":rotating_light: [ERROR] bad: oh no"
    ]
    assert [a["title"] for a in alerts_file(run)] == ["note", "odd", "bad"]


def test_the_same_title_is_not_sent_again_within_wait_duration(
    tmp_path: Path, alert_hook: Any
) -> None:
    run = start(tmp_path, alert_webhook=f"{alert_hook.url}/json")
    assert run.alert("a", "1", wait_duration=0.3) is True
    assert run.alert("a", "2", wait_duration=0.3) is False
    assert run.alert("b", "3", wait_duration=dt.timedelta(seconds=0.3)) is True
    time.sleep(0.35)
    assert run.alert("a", "4", wait_duration=0.3) is True
    assert run.alert("c", "5") is True  # default wait: one minute
    assert run.alert("c", "6") is False
    run.finish()
    assert [b["text"] for b in alert_hook.bodies("/json")] == ["1", "3", "4", "5"]


def test_rate_limiting_follows_each_titles_own_wait() -> None:
    limiter = RateLimiter()
    assert limiter.admit("x", 10.0, 0.0)
    assert not limiter.admit("x", 10.0, 9.9)
    assert limiter.admit("x", 10.0, 10.0)
    assert limiter.admit("y", 0.0, 10.0) and limiter.admit("y", 0.0, 10.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"level": "LOUD"}, ValueError, "is not one of INFO, WARN, ERROR"),
        ({"wait_duration": -1}, ValueError, "must be >= 0"),
        ({"wait_duration": "1m"}, TypeError, "datetime.timedelta"),
        ({"title": ""}, ValueError, "non-empty str"),
        ({"title": 3}, TypeError, "non-empty str"),
        ({"text": None}, TypeError, "text must be a str"),
    ],
)
def test_bad_alert_arguments_say_what_is_allowed(
    tmp_path: Path, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with start(tmp_path) as run:
        args = {"title": "t", "text": "x", **kwargs}
        with pytest.raises(error, match=message):
            run.alert(**args)


def test_a_failed_run_sends_a_failure_alert_with_its_error(tmp_path: Path, alert_hook: Any) -> None:
    with (
        pytest.raises(ValueError, match="diverged"),
        start(tmp_path, alert_webhook=f"{alert_hook.url}/json") as run,
    ):
        raise ValueError("loss diverged")
    [body] = alert_hook.bodies("/json")  # finish() waited for it
    assert body["kind"] == "failed"
    assert body["level"] == "ERROR"
    assert body["title"] == f"Run {run.name} failed"
    assert "ValueError: loss diverged" in body["text"]
    assert body["run_id"] == run.id
    assert [a["kind"] for a in alerts_file(run)] == ["failed"]


def test_finished_runs_and_runs_without_sinks_send_no_automatic_alert(
    tmp_path: Path, alert_hook: Any
) -> None:
    with start(tmp_path, alert_webhook=f"{alert_hook.url}/json"):
        pass
    with pytest.raises(RuntimeError), start(tmp_path / "b") as quiet_run:
        raise RuntimeError("no sink but the console")
    assert alert_hook.items == []
    assert alerts_file(quiet_run) == []


def test_a_sink_that_is_down_does_not_stop_the_run_and_is_reported_once(
    tmp_path: Path, alert_hook: Any
) -> None:
    with socket.socket() as s:  # a port nothing listens on: connection refused
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    run = start(tmp_path, alert_webhook=dead, alert_slack_webhook=f"{alert_hook.url}/slack")
    began = time.monotonic()
    with pytest.warns(RunlabWarning, match="sending alerts to webhook") as caught:
        for i in range(3):
            run.log({"loss": 1.0 / (i + 1)})
            assert run.alert(f"alert {i}", "x") is True
        with pytest.raises(RuntimeError), run:
            raise RuntimeError("the failure alert cannot go out either")
    assert time.monotonic() - began < 10  # bounded: the dead sink cost no more than retries
    assert len(caught) == 1
    [fault] = run.faults
    assert dead in fault and "refused" in fault.lower()
    assert json.loads((run.dir / "run.json").read_text())["faults"] == [fault]
    assert run.status == "failed"
    # the healthy sink still got every alert, the failure alert included
    assert [b["text"].split("] ")[1].split(":")[0] for b in alert_hook.bodies("/slack")] == [
        "alert 0",
        "alert 1",
        "alert 2",
        f"Run {run.name} failed",
    ]


def test_report_progress_makes_a_late_run_read_stalled_until_the_next_report(
    tmp_path: Path,
) -> None:
    api = runlab.Api(dir=tmp_path)
    with start(tmp_path, flush_interval=0.02) as run:
        run.report_progress(expect_next_in=30)
        _wait(lambda: api.run(run.id).record.progress_deadline is not None, "the deadline")
        assert api.run(run.id).status == "running"
        run.report_progress(expect_next_in=0.2)  # a shorter promise reaches run.json at once
        _wait(lambda: api.run(run.id).status == "stalled", "the run to read stalled")
        assert [v.id for v in api.runs(status="stalled")] == [run.id]
        assert api.runs(status="running") == []
        assert [v.id for v in api.runs(status=["running", "stalled"])] == [run.id]
        assert api.run(run.id).runtime is not None

        run.report_progress(60)
        _wait(lambda: api.run(run.id).status == "running", "the run to read running again")
        _wait(lambda: api.runs(status="stalled") == [], "listings to catch up")  # throttled sync
    assert api.run(run.id).status == "finished"


def test_report_progress_is_cheap_and_checks_its_argument(tmp_path: Path) -> None:
    with start(tmp_path) as run:
        begin = time.perf_counter()
        for _ in range(20_000):
            run.report_progress(30.0)
        assert time.perf_counter() - begin < 1.0  # microseconds per call, with a wide margin
        for bad in (0, -1.0, float("nan"), float("inf"), "5", True, None):
            with pytest.raises(ValueError, match="expect_next_in"):
                run.report_progress(bad)  # type: ignore[arg-type]


def test_alert_settings_come_from_the_environment_with_clear_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {
        "RUNLAB_ALERT_WEBHOOK": "http://127.0.0.1:9/hook",
        "RUNLAB_ALERT_WEBHOOK_LEVEL": "warning",
        "RUNLAB_ALERT_EMAIL": "a@example.org",
        "RUNLAB_ALERT_SMTP": "127.0.0.1:2525",
        "RUNLAB_ALERT_SMTP_STARTTLS": "1",
    }
    s = runlab.Settings.resolve(env=env)
    assert (s.alert_webhook, s.alert_webhook_level) == ("http://127.0.0.1:9/hook", "WARN")
    assert (s.alert_email, s.alert_smtp, s.alert_smtp_starttls) == (
        "a@example.org",
        "127.0.0.1:2525",
        True,
    )
    assert runlab.Settings.resolve(env={"RUNLAB_ALERT_WEBHOOK": ""}).alert_webhook is None
    with pytest.raises(SettingsError, match=r"RUNLAB_ALERT_EMAIL_LEVEL='loud'.*INFO, WARN, ERROR"):
        runlab.Settings.resolve(env={"RUNLAB_ALERT_EMAIL_LEVEL": "loud"})
    with pytest.raises(SettingsError, match="host:port"):
        runlab.Settings.resolve(env={"RUNLAB_ALERT_SMTP": "mail.example.org"})
    with pytest.raises(SettingsError, match="http:// or https://"):
        runlab.Settings(alert_slack_webhook="hooks.slack.com/x")
    assert "password" not in repr(runlab.Settings(alert_smtp_password="hunter2")).split("(")[0]
    assert "hunter2" not in repr(runlab.Settings(alert_smtp_password="hunter2"))


def test_a_disabled_run_sends_nothing(tmp_path: Path, alert_hook: Any) -> None:
    with runlab.init(
        dir=tmp_path, mode="disabled", settings={"alert_webhook": f"{alert_hook.url}/json"}
    ) as run:
        assert run.alert("t", "x") is False
        run.report_progress(1.0)
    assert alert_hook.items == []


def _wait(predicate: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class _Blocking:
    """A sink that holds the dispatcher until released, recording what it got."""

    kind = "webhook"
    name = "blocking test sink"
    level = AlertLevel.INFO

    def __init__(self) -> None:
        self.release = threading.Event()
        self.got: list[str] = []

    def send(self, alert: Alert) -> None:
        self.release.wait(10)
        self.got.append(alert.title)


def _job(sink: Any, title: str, faults: list[str]) -> Any:
    from runlab.sdk._alerts import Outbox, _Job

    outbox = Outbox((sink,), None, lambda what, exc: faults.append(f"{what}: {exc}"))
    return _Job(Alert(title, "", AlertLevel.INFO, None, None, None, 0.0), (sink,), outbox)


def test_a_full_queue_drops_instead_of_blocking_and_drain_is_bounded() -> None:
    sink, faults = _Blocking(), []
    dispatcher = Dispatcher(maxsize=1)
    assert dispatcher.submit(_job(sink, "first", faults))  # taken by the thread, then blocks
    _wait(lambda: not dispatcher._jobs, "the thread to take the first alert")
    assert dispatcher.submit(_job(sink, "second", faults))  # queued
    began = time.monotonic()
    assert not dispatcher.submit(_job(sink, "third", faults))  # full: refused at once
    assert not dispatcher.drain(0.2)
    assert time.monotonic() - began < 2
    sink.release.set()
    assert dispatcher.drain(10)
    assert sink.got == ["first", "second"]


def test_alerts_queued_at_interpreter_shutdown_are_delivered_on_the_callers_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink, faults = _Blocking(), []
    sink.release.set()

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't create new thread at interpreter shutdown")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    dispatcher = Dispatcher()
    assert dispatcher.submit(_job(sink, "late", faults))
    assert sink.got == ["late"]  # already delivered when submit returned
    assert dispatcher.drain(0) and faults == []


def test_module_level_alert_goes_to_the_current_run(tmp_path: Path, alert_hook: Any) -> None:
    with start(tmp_path, alert_webhook=f"{alert_hook.url}/json") as run:
        assert runlab.alert("from module", "via runlab.alert", level="WARN") is True
    assert [(b["title"], b["level"]) for b in alert_hook.bodies("/json")] == [
        ("from module", "WARN")
    ]
    assert [a["title"] for a in alerts_file(run)] == ["from module"]
    with pytest.raises(runlab.RunlabError, match=r"runlab\.init"):
        runlab.alert("no run")
