"""Where alerts go: the console, a JSON webhook, a Slack-compatible webhook, email over SMTP.

Each sink has a least level (``Settings.alert_<sink>_level``) and a ``send(alert)`` that raises
on failure; the alert dispatcher (:mod:`runlab.sdk._alerts`) calls it on its own thread, retries
it a few times and reports a sink that keeps failing once per run. A sink's exception may carry
``retry = False`` (an HTTP 4xx: the request itself is wrong) to skip the retries.

Payloads:

- webhook (``RUNLAB_ALERT_WEBHOOK``): ``POST`` of :meth:`Alert.to_json` — ``title``, ``text``,
  ``level``, ``kind``, ``run_id``, ``run_name``, ``project``, ``time``;
- Slack (``RUNLAB_ALERT_SLACK_WEBHOOK``): ``{"text": "<summary>", "blocks": [a header, a section
  with the text, a context line naming the run]}``;
- email (``RUNLAB_ALERT_EMAIL`` + ``RUNLAB_ALERT_SMTP``): subject ``[runlab LEVEL] title``, the
  text and the run in a plain-text body; STARTTLS and login when configured.

httpx and smtplib are imported when a sink first sends, never at ``import runlab``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Literal, Protocol

from runlab._console import get_console, silenced
from runlab._settings import Settings
from runlab.sdk._alerts import Alert, AlertLevel

SinkKind = Literal["console", "webhook", "slack", "email"]
TIMEOUT = 5.0
"""Seconds one delivery may take (connect, send, answer)."""


class Sink(Protocol):
    """Delivers alerts somewhere; ``send`` raises when it could not."""

    @property
    def kind(self) -> SinkKind: ...

    @property
    def name(self) -> str:
        """What fault messages call the sink (``webhook <url>``)."""
        ...

    @property
    def level(self) -> AlertLevel:
        """The least level an alert needs to be sent here."""
        ...

    def send(self, alert: Alert) -> None: ...


class DeliveryError(Exception):
    """A sink refused an alert; ``retry`` says whether trying again could help."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


_STYLES = {AlertLevel.INFO: "cyan", AlertLevel.WARN: "yellow", AlertLevel.ERROR: "bold red"}


@dataclasses.dataclass(frozen=True)
class ConsoleSink:
    """Prints alerts on runlab's console (stderr), unless ``quiet`` or ``RUNLAB_SILENT``."""

    level: AlertLevel = AlertLevel.INFO
    quiet: bool = False
    kind: SinkKind = "console"
    name: str = "the console"

    def send(self, alert: Alert) -> None:
        if silenced(self.quiet):
            return
        from rich.text import Text

        line = Text("runlab: ", style="bold blue")
        line.append(f"[{alert.level.value}] ", style=_STYLES[alert.level])
        line.append(alert.title, style="bold")
        if alert.text:
            line.append(f": {alert.text}")
        if alert.run_name is not None:
            line.append(f" ({alert.run_name} {alert.run_id})", style="dim")
        get_console().print(line)


@dataclasses.dataclass(frozen=True)
class WebhookSink:
    """POSTs each alert as JSON to ``url``."""

    url: str
    level: AlertLevel = AlertLevel.INFO
    kind: SinkKind = "webhook"

    @property
    def name(self) -> str:
        return f"webhook {self.url}"

    def send(self, alert: Alert) -> None:
        _post(self.url, alert.to_json())


@dataclasses.dataclass(frozen=True)
class SlackSink:
    """POSTs each alert to a Slack-compatible incoming webhook (``text`` plus ``blocks``)."""

    url: str
    level: AlertLevel = AlertLevel.INFO
    kind: SinkKind = "slack"

    @property
    def name(self) -> str:
        return f"Slack webhook {self.url}"

    def send(self, alert: Alert) -> None:
        _post(self.url, slack_payload(alert))


@dataclasses.dataclass(frozen=True)
class EmailSink:
    """Sends each alert as a plain-text email through an SMTP server."""

    to: tuple[str, ...]
    host: str
    port: int
    sender: str
    level: AlertLevel = AlertLevel.INFO
    user: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    starttls: bool = False
    kind: SinkKind = "email"

    @property
    def name(self) -> str:
        return f"email via {self.host}:{self.port}"

    def send(self, alert: Alert) -> None:
        import smtplib
        from email.message import EmailMessage

        message = EmailMessage()
        message["Subject"] = f"[runlab {alert.level.value}] {alert.title}"
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        message.set_content(f"{alert.text}\n\n{_run_line(alert)}\n")
        with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user is not None:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)


def slack_payload(alert: Alert) -> dict[str, Any]:
    """The Slack message of an alert: a ``text`` fallback and Block Kit ``blocks``."""
    icon = {AlertLevel.INFO: ":information_source:", AlertLevel.WARN: ":warning:"}.get(
        alert.level, ":rotating_light:"
    )
    summary = f"{icon} [{alert.level.value}] {alert.title}"
    return {
        "text": f"{summary}: {alert.text}" if alert.text else summary,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": summary[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": alert.text or " "}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _run_line(alert)}]},
        ],
    }


def _run_line(alert: Alert) -> str:
    if alert.run_id is None:
        return "runlab"
    return f"run {alert.run_name} ({alert.run_id}), project {alert.project}"


def _post(url: str, payload: dict[str, Any]) -> None:
    import httpx

    try:
        response = httpx.post(url, json=payload, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}", retry=True) from exc
    if response.is_error:
        raise DeliveryError(
            f"HTTP {response.status_code} {response.reason_phrase}",
            retry=response.status_code >= 500 or response.status_code == 429,
        )


def sinks_from_settings(settings: Settings, *, console: bool = True) -> tuple[Sink, ...]:
    """The sinks ``settings`` configure (the console one only when ``console`` too).

    Example:
        >>> [s.name for s in sinks_from_settings(Settings(alert_webhook="http://127.0.0.1:9/x"))]
        ['the console', 'webhook http://127.0.0.1:9/x']
    """
    s = settings
    sinks: list[Sink] = []
    if console and s.alert_console:
        sinks.append(ConsoleSink(AlertLevel(s.alert_console_level), s.quiet))
    if s.alert_webhook:
        sinks.append(WebhookSink(s.alert_webhook, AlertLevel(s.alert_webhook_level)))
    if s.alert_slack_webhook:
        sinks.append(SlackSink(s.alert_slack_webhook, AlertLevel(s.alert_slack_webhook_level)))
    if s.alert_email:
        host, _, port = s.alert_smtp.rpartition(":")
        sinks.append(
            EmailSink(
                to=tuple(a.strip() for a in s.alert_email.split(",") if a.strip()),
                host=host,
                port=int(port),
                sender=s.alert_smtp_from or f"runlab@{_host()}",
                level=AlertLevel(s.alert_email_level),
                user=s.alert_smtp_user,
                password=s.alert_smtp_password,
                starttls=s.alert_smtp_starttls,
            )
        )
    return tuple(sinks)


def _host() -> str:
    uname = getattr(os, "uname", None)
    if uname is not None:
        return str(uname().nodename) or "localhost"
    import socket  # pragma: no cover - Windows

    return socket.gethostname()  # pragma: no cover
