"""Who may talk to the server: a Host-header guard and a bearer token for mutations.

- **Host guard.** A page on another site can make a browser send requests to
  ``127.0.0.1:8765`` through a DNS name it controls (DNS rebinding); such requests carry that
  name in ``Host``. Every request whose ``Host`` is not the bound address (or, bound to
  loopback, ``localhost``/``127.0.0.1``/``[::1]`` with the port) is answered 403.
- **Token.** Bound to any other address, anyone on the network can reach the server, so
  POST/PATCH/PUT/DELETE under ``/api`` need ``Authorization: Bearer <token>``; the token is
  drawn with :mod:`secrets` at start and compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
MUTATIONS = frozenset(("POST", "PUT", "PATCH", "DELETE"))


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    """A fresh random token for one server start."""
    return secrets.token_urlsafe(32)


def allowed_hosts(host: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """The ``Host`` header values the server answers, all lower case."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    names = {shown}
    if is_loopback(host):
        names.update(LOOPBACK_NAMES)
    elif _is_wildcard(host):
        # Bound to every interface: reachable by this machine's names and addresses (the
        # printed URL uses the host name), never by a name an attacker's DNS points here.
        names.update(LOOPBACK_NAMES)
        names.update(_local_names())
    hosts = {f"{name}:{port}".lower() for name in names}
    if port == 80:
        hosts.update(name.lower() for name in names)
    hosts.update(h.lower() for h in extra)
    return frozenset(hosts)


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def _local_names() -> set[str]:
    """This machine's host names and the addresses of its interfaces."""
    import socket

    import psutil

    names = {socket.gethostname(), socket.getfqdn()}
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET:
                names.add(address.address)
            elif address.family == socket.AF_INET6:
                names.add(f"[{address.address.split('%')[0]}]")
    return {name for name in names if name}


class Guard:
    """ASGI middleware: the Host guard for every request, the token for API mutations.

    Args:
        app: the application to protect.
        hosts: accepted ``Host`` values (see :func:`allowed_hosts`); ``None`` accepts any.
        token: the bearer token mutations need, or ``None`` when none is needed.
    """

    def __init__(self, app: ASGIApp, *, hosts: frozenset[str] | None, token: str | None) -> None:
        self.app = app
        self.hosts = hosts
        self.token = token.encode() if token is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if self.hosts is not None and host not in self.hosts:
            await _deny(send, 403, f"host {host!r} is not served here (DNS-rebinding guard)")
            return
        if (
            self.token is not None
            and scope.get("method", "GET") in MUTATIONS
            and str(scope.get("path", "")).startswith("/api")
        ):
            given = headers.get(b"authorization", b"")
            scheme, _, credential = given.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(credential, self.token):
                await _deny(send, 401, "this server needs 'Authorization: Bearer <token>'")
                return
        await self.app(scope, receive, send)


async def _deny(send: Send, status: int, message: str) -> None:
    body = json.dumps({"message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
