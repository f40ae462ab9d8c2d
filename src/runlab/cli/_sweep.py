"""``runlab sweep SWEEP.yaml``: run a command once per trial, each trial a run in one group.

The YAML file::

    command: python train.py        # shlex-split, run without a shell
    parameters:                     # lists are grid axes; ${...} uses the scenario language
      lr: ${log_uniform(1e-4, 1e-1)}
      batch_size: [32, 64]
    method: random                  # grid (default) or random
    count: 20                       # trials: required for random, caps a grid
    parallel: 2                     # trials at once (default 1)
    seed: 7                         # optional: the random/${...} draws' seed
    project: demo                   # optional
    name: lr-search                 # optional: the sweep's name and run group

Trial k runs ``command --key=value ...`` with ``RUNLAB_RUN_GROUP``, ``RUNLAB_RUN_NAME``,
``RUNLAB_RUN_ID``, ``RUNLAB_RUN_CONFIG`` (JSON), ``RUNLAB_DIR`` and ``RUNLAB_PROJECT`` set, so the
script's own ``runlab.init()`` records the trial's run. Ctrl-C stops the sweep: running trials
get SIGTERM (runlab marks their runs killed), then SIGKILL after a grace period; exit code 130.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from runlab.cli._common import DirOption, fail, out, status_text, store_dir

GRACE = 5.0
"""Seconds a trial has to end after SIGTERM before it is killed."""
_KEYS = ("command", "parameters", "method", "count", "parallel", "seed", "project", "name")
_POLL = 0.05


@dataclass
class _Launch:
    """A trial's command line and environment, and what became of it."""

    index: int
    name: str
    run_id: str
    argv: list[str]
    env: dict[str, str]
    root: str
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    duration: float | None = None
    status: str = "pending"
    exit_code: int | None = None


def sweep(
    file: Annotated[Path, typer.Argument(help="The sweep's YAML file.", show_default=False)],
    dir: DirOption = None,
    parallel: Annotated[
        int | None,
        typer.Option("--parallel", "-p", min=1, help="Trials at once (overrides the file's)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print each trial's command and run nothing.")
    ] = False,
) -> None:
    """Run a command once per trial of a parameter space; each trial is a run."""
    spec = _read(file)
    root = os.path.abspath(store_dir(dir))
    launches = _plan(spec, root)
    console = out()
    if dry_run:
        for launch in launches:
            console.print(f"{launch.name}: {shlex.join(launch.argv)}", soft_wrap=True, markup=False)
        return
    width = parallel if parallel is not None else spec.get("parallel", 1)
    if not isinstance(width, int) or width < 1:
        fail(f"{file}: parallel must be an int >= 1, not {width!r}")
    interrupted = _run_all(launches, width)
    console.print(_table(launches))
    if interrupted:
        raise typer.Exit(130)
    if any(launch.status != "finished" for launch in launches):
        raise typer.Exit(1)


def _read(file: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(file.read_text())
    except (OSError, yaml.YAMLError) as exc:
        fail(f"Cannot read sweep file {file}: {exc}")
    if not isinstance(data, dict):
        fail(f"{file}: a sweep file is a mapping with keys {', '.join(_KEYS)}")
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        fail(f"{file}: unknown keys {', '.join(unknown)}; allowed: {', '.join(_KEYS)}")
    command = data.get("command")
    if not command or not isinstance(command, (str, list)):
        fail(f"{file}: 'command' must name the program to run, e.g. 'python train.py'")
    if not isinstance(data.get("parameters", {}), dict):
        fail(f"{file}: 'parameters' must be a mapping of names to values, lists or ${{...}}")
    return data


def _plan(spec: dict[str, Any], root: str) -> list[_Launch]:
    from runlab._errors import RunlabError
    from runlab.sdk._ids import new_id
    from runlab.sweep._search import trials

    name = str(spec.get("name") or f"sweep-{secrets.token_hex(3)}")
    seed = spec.get("seed")
    seed = random.getrandbits(63) if seed is None else seed
    command = spec["command"]
    base = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
    if spec.get("method") == "random" and spec.get("count") is None:
        fail("Bad sweep: method 'random' needs count, the number of trials")
    try:
        planned = trials(
            spec.get("parameters") or {}, name, spec.get("method", "grid"), spec.get("count"), seed
        )
    except (RunlabError, TypeError) as exc:
        fail(f"Bad sweep: {exc}")
    launches = []
    for trial in planned:
        run_id = new_id()
        env = {
            **os.environ,
            "RUNLAB_DIR": root,
            "RUNLAB_RUN_GROUP": name,
            "RUNLAB_RUN_NAME": trial.name,
            "RUNLAB_RUN_ID": run_id,
            "RUNLAB_RUN_CONFIG": json.dumps(trial.params),
        }
        if spec.get("project"):
            env["RUNLAB_PROJECT"] = str(spec["project"])
        argv = base + [f"--{key}={_arg(value)}" for key, value in trial.params.items()]
        launches.append(_Launch(trial.index, trial.name, run_id, argv, env, root))
    return launches


def _arg(value: Any) -> str:
    """A parameter as a command-line value: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _run_all(launches: list[_Launch], width: int) -> bool:
    """Run the launches, ``width`` at a time; True when stopped by Ctrl-C."""
    waiting = list(reversed(launches))
    running: list[_Launch] = []
    try:
        while waiting or running:
            while waiting and len(running) < width:
                running.append(waiting.pop())  # listed first: a Ctrl-C now still stops it
                _start(running[-1])
            for launch in list(running):
                if _reap(launch):
                    running.remove(launch)
            time.sleep(_POLL)
    except KeyboardInterrupt:
        _stop(running)
        for launch in waiting:
            launch.status = "not started"
        return True
    return False


def _start(launch: _Launch) -> None:
    launch.started = time.monotonic()
    try:
        # A session of its own: the terminal's Ctrl-C reaches only us, and we stop the
        # trial (and anything it started) deliberately.
        launch.process = subprocess.Popen(launch.argv, env=launch.env, start_new_session=True)
    except OSError as exc:
        launch.status, launch.duration = f"not started: {exc}", 0.0
        return
    launch.status = "running"


def _reap(launch: _Launch) -> bool:
    """Record the trial's end if it has ended; True then."""
    if launch.process is None:
        return True
    code = launch.process.poll()
    if code is None:
        return False
    launch.exit_code = code
    launch.duration = time.monotonic() - launch.started
    if launch.status == "running":
        launch.status = "finished" if code == 0 else "failed"
    return True


def _stop(running: list[_Launch]) -> None:
    """SIGTERM every running trial, then SIGKILL those still alive after :data:`GRACE`."""
    running = [launch for launch in running if not _reap(launch)]
    for launch in running:
        launch.status = "killed"
        _signal(launch, signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    try:
        while any(not _reap(launch) for launch in running) and time.monotonic() < deadline:
            time.sleep(_POLL)
    except KeyboardInterrupt:  # a second Ctrl-C: no more waiting
        pass
    for launch in running:
        if not _reap(launch):
            _signal(launch, signal.SIGKILL)
            assert launch.process is not None
            launch.process.wait()
            _reap(launch)
            # It had no time to record its end (still starting up, or a slow finish).
            from runlab.storage._layout import end_dead_run, run_dir

            end_dead_run(
                run_dir(launch.root, launch.run_id),
                "killed",
                f"stopped by runlab sweep (Ctrl-C): killed after {GRACE:g} s without ending",
                time.time(),
            )


def _signal(launch: _Launch, signum: signal.Signals) -> None:
    process = launch.process
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):  # it ended just now
        os.killpg(process.pid, signum)


def _table(launches: list[_Launch]) -> Any:
    from rich.table import Table

    table = Table(title="sweep", title_justify="left")
    for column in ("trial", "run", "status", "exit code", "duration"):
        table.add_column(column, justify="right" if column in ("exit code", "duration") else "left")
    for launch in launches:
        status = launch.status.split(":")[0]
        table.add_row(
            launch.name,
            launch.run_id,
            status_text(status) if status in _STATUSES else launch.status,
            "" if launch.exit_code is None else str(launch.exit_code),
            "" if launch.duration is None else f"{launch.duration:.1f}s",
        )
    return table


_STATUSES = ("finished", "failed", "killed")
