"""One daemon thread serving many clients, each on its own deadline.

Runs of a sweep start and end by the thousand, and a thread started and joined per run (per
log writer, per system-metrics sampler) would cost more than a short run itself. So each of
those is one :class:`Ticker` per process, and every open run is a client of it.

A client is due when its ``deadline`` (``time.monotonic()``) has passed or when it asked for a
turn (``wanted``); its ``turn`` must move the deadline on and must not raise. The thread sleeps
until the soonest deadline, and is woken early only when a client asks (``wake``) or a new
client's deadline comes before that: waking a thread is a GIL hand-off on the caller's thread.
"""

from __future__ import annotations

import math
import os
import threading
import time
from typing import Protocol


class Client(Protocol):
    """What a :class:`Ticker` serves."""

    deadline: float
    """When the next turn is due (``time.monotonic()`` seconds)."""
    wanted: bool
    """Set to ask for a turn now; the ticker clears it before the turn."""

    def turn(self, now: float) -> None:
        """Do the work that is due and move ``deadline`` on; never raise."""


class Ticker:
    """A daemon thread giving each client a turn when it is due.

    Args:
        name: the thread's name.
        idle_exit: seconds without clients after which the thread ends (the next ``add``
            starts a new one); ``None`` keeps it waiting, at no cost, forever.
    """

    def __init__(self, name: str, idle_exit: float | None = None) -> None:
        self.name = name
        self.pid = os.getpid()
        self._idle_exit = idle_exit
        self._lock = threading.Lock()
        self._clients: list[Client] = []
        self._event = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_at = math.inf
        """When the thread next wakes by itself (guarded by ``_lock``)."""

    def add(self, client: Client) -> None:
        """Serve ``client`` from now on (its ``deadline`` must be set)."""
        with self._lock:
            self._clients.append(client)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            sooner = client.deadline < self._wake_at
        if sooner:
            self._event.set()

    def remove(self, client: Client) -> None:
        """Stop serving ``client`` (a turn in progress still completes)."""
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)
            idle = not self._clients and self._idle_exit is not None
        if idle:  # start counting the idle time now, not at the removed client's deadline
            self._event.set()

    def wake(self) -> None:
        """Make the thread look at its clients now (set a client's ``wanted`` first)."""
        self._event.set()

    def is_current(self) -> bool:
        """Whether the caller is this ticker's thread."""
        return threading.current_thread() is self._thread

    def alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _loop(self) -> None:
        idle_since: float | None = None
        while True:
            with self._lock:
                clients = list(self._clients)
            now = time.monotonic()
            for client in clients:
                if client.wanted or now >= client.deadline:
                    client.wanted = False
                    client.turn(now)
            with self._lock:  # a client added from here on compares with this wake time
                timeout: float | None
                if self._clients:
                    idle_since = None
                    self._wake_at = min(c.deadline for c in self._clients)
                    timeout = max(0.0, self._wake_at - time.monotonic())
                else:
                    idle_since = idle_since if idle_since is not None else time.monotonic()
                    if self._idle_exit is not None and now - idle_since >= self._idle_exit:
                        self._thread = None  # under the lock: the next add() starts another
                        self._wake_at = math.inf
                        return
                    self._wake_at = math.inf
                    timeout = self._idle_exit
            self._event.wait(timeout)
            self._event.clear()


_tickers: dict[str, Ticker] = {}
_tickers_lock = threading.Lock()


def ticker(name: str, idle_exit: float | None = None) -> Ticker:
    """This process's ticker of that name (a forked child gets its own: the parent's thread
    is not in it)."""
    found = _tickers.get(name)
    if found is not None and found.pid == os.getpid():
        return found
    with _tickers_lock:
        found = _tickers.get(name)
        if found is None or found.pid != os.getpid():
            found = _tickers[name] = Ticker(name, idle_exit)
        return found
