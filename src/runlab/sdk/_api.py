"""Module-level entry points: ``runlab.init``, ``runlab.log``, ``runlab.finish``."""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable, Mapping
from typing import Any

from runlab._errors import RunlabError
from runlab._settings import Settings
from runlab._status import RunStatus
from runlab.sdk._current import current_run
from runlab.sdk._run import Run


def init(
    project: str | None = None,
    name: str | None = None,
    id: str | None = None,
    config: Mapping[str, Any] | None = None,
    tags: Iterable[str] | None = None,
    notes: str | None = None,
    description: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    seed: int | None = None,
    mode: str | None = None,
    settings: Settings | Mapping[str, Any] | None = None,
    scenario: Any = None,
    resume: bool | str | None = None,
    fork_from: str | tuple[str, int] | None = None,
    resume_from: str | tuple[str, int] | None = None,
    shared: bool = False,
    label: str | None = None,
) -> Run:
    """Start a run and make it the current one.

    Args:
        project: project name (``RUNLAB_PROJECT`` or ``"default"``).
        name: display name; a random ``adjective-noun-N`` when omitted.
        id: custom run id (1-64 of ``A-Za-z0-9_-``); 8 random ``[a-z0-9]`` characters otherwise.
        config: hyperparameters (nested dicts allowed), saved and editable as ``run.config``.
        tags, notes, description, group, job_type: descriptive fields.
        dir: root of the run store (``RUNLAB_DIR`` or ``./runlab``).
        seed: the run's seed (any int), recorded with it; episode k's parameters and seed
            derive from (seed, k) alone.
        mode: ``online`` (default), ``offline`` (same until a server exists) or ``disabled``
            (every call is a cheap no-op).
        settings: a :class:`runlab.Settings` or a dict of its fields.
        scenario: a parameter space sampled afresh for every episode
            (``run.create_episode()``): a dict, YAML text, a YAML file path or a
            ``runlab.Scenario``. With a scenario and no ``seed``, a seed is drawn and recorded.
        resume: go on with an existing run (W&B's semantics): ``"allow"`` resumes run
            ``id`` if it exists, else starts it; ``"must"`` requires it (``RunNotFound``);
            ``"never"`` or ``None`` refuse an existing id (``RunExistsError``); ``"auto"``
            (or ``True``) resumes the last run started with ``resume="auto"`` from this script
            and directory if it crashed, was killed or failed, else starts a new one. History
            continues after the last step in the log; config given here is merged in.
        fork_from: ``"<run_id>?_step=N"`` or ``(run_id, N)``: a new run that inherits that
            run's config and its history up to step N (by reference), then logs from N + 1.
        resume_from: ``"<id>?_step=N"``: rewind run ``id`` to step N. Its later points are
            archived (``RunView.history(archived=True)``) and logging goes on at N + 1.
        shared: one run written by several processes (the ranks of a DDP/Slurm job): each
            calls ``init(id=<the job's run id>, shared=True, label=...)`` and writes through its
            own log, without locks; readers merge them. Needs ``id`` (or ``RUNLAB_RUN_ID``).
            With ``resume`` (or ``RUNLAB_RESUME``) each process resumes its own part of the
            run after its own last step; ``fork_from``/``resume_from`` are refused. See
            "Multi-process (distributed) runs" in the README and ``runlab.sdk._shared``.
        label: with ``shared``, this process's name in the run (``"rank-3"``: 1-64 of
            ``A-Za-z0-9._-``). The process without a label (or labelled ``"rank-0"``/``"0"``)
            owns the run: its ``run.json``, config, summary and final state; the others write
            only under ``ranks/<label>/``.

    Launchers pass run fields through the environment: ``RUNLAB_RUN_ID``, ``RUNLAB_RUN_NAME``,
    ``RUNLAB_RUN_GROUP`` and ``RUNLAB_RUN_CONFIG`` (a JSON object, under explicit ``config``)
    are used when the argument is not given, ``RUNLAB_RESUME`` (``allow``, ``must``, ``never``,
    ``auto``) when ``resume`` is not (so a requeued Slurm job with the same ``RUNLAB_RUN_ID``
    resumes its run), and with ``RUNLAB_JOIN_RUN=<id>`` an ``init()``
    in a process whose current run has that id returns that run (see ``call_experiment``).

    Returns:
        The :class:`Run`, also usable as a context manager.

    Example:
        >>> import runlab, tempfile
        >>> run = runlab.init(project="demo", config={"lr": 3e-4}, dir=tempfile.mkdtemp(),
        ...                   settings={"quiet": True, "capture_output": False})
        >>> runlab.log({"loss": 1.0})
        >>> run.config.lr
        0.0003
        >>> runlab.finish()
    """
    joined = _joined_run(config)
    if joined is not None:
        return joined
    env = os.environ
    if id is None and env.get("RUNLAB_RUN_ID"):
        id = env["RUNLAB_RUN_ID"]
    name = name if name is not None else env.get("RUNLAB_RUN_NAME") or None
    group = group if group is not None else env.get("RUNLAB_RUN_GROUP") or None
    if env.get("RUNLAB_RUN_CONFIG"):
        config = {**_env_config(env["RUNLAB_RUN_CONFIG"]), **(config or {})}
    if resume is None and fork_from is None and resume_from is None and env.get("RUNLAB_RESUME"):
        from runlab.sdk._resume import check_resume

        resume = check_resume(env["RUNLAB_RESUME"], "RUNLAB_RESUME")
    return Run(
        project=project,
        name=name,
        id=id,
        config=config,
        tags=tags,
        notes=notes,
        description=description,
        group=group,
        job_type=job_type,
        dir=dir,
        seed=seed,
        mode=mode,
        settings=settings,
        scenario=scenario,
        resume=resume,
        fork_from=fork_from,
        resume_from=resume_from,
        shared=shared,
        label=label,
    )


def _joined_run(config: Mapping[str, Any] | None) -> Run | None:
    """The launcher's open run that this ``init()`` joins, if any (``RUNLAB_JOIN_RUN``).

    ``runlab.call_experiment`` and grid launches open the variant's run in the child process
    and then call the user's code; an ``init()`` there joins that run (adding its config)
    instead of starting a second one.
    """
    join = os.environ.get("RUNLAB_JOIN_RUN")
    if not join:
        return None
    run = current_run()
    if run is None or run.id != join:
        return None
    if config:
        run.config.update(config)
    return run


def _env_config(text: str) -> dict[str, Any]:
    import json

    try:
        value = json.loads(text)
    except ValueError as exc:
        raise RunlabError(f"RUNLAB_RUN_CONFIG is not JSON ({exc}): {text[:80]!r}") from None
    if not isinstance(value, dict):
        raise RunlabError(f"RUNLAB_RUN_CONFIG must be a JSON object, not {text[:80]!r}")
    return value


def _require_run() -> Run:
    run = current_run()
    if run is None:
        raise RunlabError("no active run: call runlab.init() first")
    return run


def log(data: Mapping[str, Any], step: int | None = None, commit: bool = True) -> None:
    """``log()`` on the current run (see :meth:`Run.log`)."""
    _require_run().log(data, step=step, commit=commit)


def alert(
    title: str,
    text: str = "",
    level: str = "INFO",
    wait_duration: float | datetime.timedelta | None = None,
) -> bool:
    """``alert()`` on the current run (see :meth:`Run.alert`), like ``wandb.alert``."""
    return _require_run().alert(title, text, level=level, wait_duration=wait_duration)


def finish(
    status: RunStatus | str | None = None, err_msg: str | None = None, exit_code: int | None = None
) -> None:
    """Finish the current run (see :meth:`Run.finish`); does nothing when none is open."""
    run = current_run()
    if run is not None:
        run.finish(status=status, err_msg=err_msg, exit_code=exit_code)
