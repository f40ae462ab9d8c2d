"""``runlab watch``: mark crashed runs promptly and alert on crashes and stalls.

A small loop over :class:`runlab.sdk._watch.Watcher` passes: ``--once`` for one pass, otherwise
every ``--interval`` seconds until Ctrl-C or SIGTERM. Each pass prints one line per run it
marked crashed or alerted about, then waits (a few seconds at most) for its alerts to go out.
Sinks come from the watch process's environment (``RUNLAB_ALERT_WEBHOOK`` and friends).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from runlab.cli._common import DirOption, err, fail, out, store_dir

ALERT_WAIT = 10.0
"""Seconds a pass waits at most for its alerts to be delivered."""

_STYLES = {"marked crashed": "bold red", "crashed": "red", "stalled": "magenta"}


def watch(
    dir: DirOption = None,
    interval: Annotated[
        float,
        typer.Option("--interval", "-i", min=0.1, help="Seconds between passes."),
    ] = 5.0,
    once: Annotated[bool, typer.Option("--once", help="Make one pass and exit.")] = False,
) -> None:
    """Watch running runs: mark crashed ones at once, alert on crashes and stalls."""
    root = store_dir(dir)
    path = Path(root)
    if not path.is_dir():
        reason = "is not a directory" if path.exists() else "does not exist"
        fail(f"No run store at {root} (directory {reason})")
    from rich.text import Text

    from runlab._errors import RunlabError
    from runlab.sdk._watch import Watcher, wait_for_alerts

    warned: set[str] = set()

    def on_fault(what: str, exc: BaseException) -> None:
        if what not in warned:
            warned.add(what)
            err().print(Text(f"runlab watch: {what} failed: {exc}", style="yellow"))

    try:
        watcher = Watcher(root, on_fault=on_fault)
    except RunlabError as exc:
        fail(f"Cannot watch {root}: {exc}")
    stop = threading.Event()
    previous = _on_sigterm(stop)
    console = out()
    if not once:
        names = ", ".join(s.name for s in watcher.sinks) or "no alert sinks configured"
        console.print(
            f"Watching {root} every {interval:g} s ({names}); Ctrl-C stops", soft_wrap=True
        )
    try:
        while True:
            try:
                events = watcher.scan()
            except RunlabError as exc:
                on_fault("a pass", exc)
                events = []
            for event in events:
                line = Text(f"{event.run_id} ", style="bold")
                line.append(event.kind, style=_STYLES.get(event.kind, ""))
                line.append(f": {event.detail}")
                console.print(line, soft_wrap=True)
            wait_for_alerts(ALERT_WAIT)
            if once or stop.wait(interval):
                break
    except KeyboardInterrupt:
        pass
    finally:
        watcher.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _on_sigterm(stop: threading.Event) -> Any:
    """Let SIGTERM end the loop after the current pass (only from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, handler)
    return signal.SIG_DFL if previous is None else previous
