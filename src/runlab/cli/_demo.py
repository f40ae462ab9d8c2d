"""``runlab demo``: record a small realistic run store, then open it in the web UI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from runlab._errors import RunlabError
from runlab.cli._common import fail, out


def demo(
    dir: Annotated[
        Path,
        typer.Option("--dir", "-d", help="Where to record the demo runs."),
    ] = Path("runlab-demo"),
    open_browser: Annotated[
        bool,
        typer.Option("--open/--no-open", help="Open the UI in a web browser."),
    ] = True,
    port: Annotated[int, typer.Option("--port", "-p", help="Port of the web UI.")] = 8765,
    host: Annotated[
        str,
        typer.Option("--host", help="Address to bind (loopback by default; others need a token)."),
    ] = "127.0.0.1",
) -> None:
    """Record demo runs into --dir, then serve them in the web UI until Ctrl-C.

    The runs: a training grid, a scenario evaluation, a failed and a crashed run.

    A --dir that already holds runs is reused as it is (delete it to record afresh).
    """
    console = out()
    existing = _run_count(dir)
    if existing:
        console.print(f"Reusing the {existing} runs already in {dir} (delete it to record afresh)")
    else:
        console.print(f"Recording demo runs into {dir} ...")
        start = time.perf_counter()
        made = _record(dir)
        statuses = list(made["status"].values())
        console.print(
            f"Recorded {len(statuses)} runs in {time.perf_counter() - start:.1f} s: "
            f"{statuses.count('finished')} finished (a {len(made['grid'])}-run lr x optimizer "
            f"grid and a scenario evaluation with {made['episodes']} episodes), "
            f"{statuses.count('failed')} failed, {statuses.count('crashed')} crashed"
        )
    console.print(f"Also try: runlab ls --dir {dir}")
    from runlab.server import serve

    try:
        serve(str(dir), host=host, port=port, open_browser=open_browser)
    except RunlabError as exc:
        fail(str(exc))
    except KeyboardInterrupt:  # Ctrl-C: the way to stop it
        pass


def _record(root: Path) -> dict[str, Any]:
    """``record_demo(root)`` in a child process: the SDK's process-wide hooks (SIGTERM, exit,
    output capture) then stay out of the server's process."""
    done = subprocess.run(
        [sys.executable, "-m", "runlab._demo_data", str(root)],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        fail(f"Recording the demo runs into {root} failed (exit code {done.returncode})")
    made: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return made


def _run_count(root: Path) -> int:
    runs = root / "runs"
    if not runs.is_dir():
        return 0
    # hidden names are not runs (markers like .resumed/, directories being deleted)
    return sum(1 for child in runs.iterdir() if child.is_dir() and not child.name.startswith("."))
