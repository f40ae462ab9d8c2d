"""Fixtures shared by test folders: local receivers for alerts (HTTP webhooks, SMTP), on 127.0.0.1.

``alert_hook``: a stdlib HTTP server in a thread that keeps every JSON body POSTed to it, with
its path. ``smtp_inbox``: an aiosmtpd server that keeps every message it is sent. Both wait with
deadlines (``wait_for``), never forever.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class Received:
    """What a receiver got, in order, with a bounded wait for more."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._cond = threading.Condition()

    def add(self, item: Any) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Any]:
        """The items once at least ``count`` arrived; fails the test after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.items) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"got {len(self.items)} of {count} expected alerts in {timeout} s")
                self._cond.wait(left)
            return list(self.items)


class AlertHook(Received):
    """An HTTP server on 127.0.0.1 keeping ``(path, json body)`` of every POST."""

    def __init__(self) -> None:
        super().__init__()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                hook.add((self.path, json.loads(self.rfile.read(length))))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in self.items if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def alert_hook() -> Iterator[AlertHook]:
    hook = AlertHook()
    try:
        yield hook
    finally:
        hook.close()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (just now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SMTPInbox(Received):
    """Messages an aiosmtpd server on 127.0.0.1 received (``email.message.Message`` each)."""

    port: int


@pytest.fixture
def smtp_inbox() -> Iterator[SMTPInbox]:
    from aiosmtpd.controller import Controller

    inbox = SMTPInbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            message: Message = message_from_bytes(envelope.content)
            inbox.add((envelope.rcpt_tos, message))
            return "250 Message accepted for delivery"

    inbox.port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
