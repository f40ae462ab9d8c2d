"""Continuing runs: ``init(resume=...)``, ``init(fork_from=...)`` and ``init(resume_from=...)``.

Everything here runs once, in ``init()``; ``log()`` is untouched. :func:`plan` decides what an
``init()`` starts from (a new run, an existing one to resume or rewind, a parent to fork) and
checks the arguments; :func:`prepare` sets up the run directory (a rewind archives the log, a
fork writes the ``base`` frame) and reads back the state the run goes on with: the last step
of every key (steps only, no values), the summary, the config, the descriptive fields.

On disk (see ``runlab.storage._chain``): a fork's log starts with a ``base`` event naming the
parent and the step; a rewind renames ``history.rlog`` to ``archive/history-<k>.rlog`` and
starts a new log whose ``base`` event names it. Nothing is copied. ``run.json`` keeps
``fork``, ``resumed`` and ``rewinds`` lists, ``origin`` (script and working directory, for
``resume="auto"``) and ``writer`` (pid and host, to refuse resuming a run that is alive).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from runlab._errors import RunExistsError, RunNotFound
from runlab._status import RunStatus, derive_status
from runlab.sdk._config import MetricDefinition, SummaryTracker, check_definition
from runlab.sdk._ids import check_id
from runlab.storage._chain import StepScan, archived_name, generation, last_values
from runlab.storage._format import FILE_HEADER, KIND_EVENT, encode_event, frame
from runlab.storage._layout import (
    ARCHIVE_DIR,
    AUTO_DIR,
    HISTORY_FILE,
    RESUMED_DIR,
    RUN_JSON,
    RUNS_DIR,
    read_json,
    write_bytes_atomic,
)

ResumeMode = Literal["allow", "must", "never", "auto"]
RESUME_MODES: tuple[str, ...] = get_args(ResumeMode)
AUTO_STATES = frozenset({RunStatus.CRASHED, RunStatus.KILLED, RunStatus.FAILED})
"""States ``resume="auto"`` picks a run up from: every way a run can stop short of finishing,
except an explicit ``canceled``."""

_STEP_FORMS = "'<run_id>?_step=<N>' or ('<run_id>', N), N an int >= 0"


def check_resume(value: object, source: str = "resume") -> ResumeMode | None:
    """``resume`` as one of :data:`RESUME_MODES` (``True`` is ``"auto"``) or ``None`` (new run).

    Example:
        >>> check_resume(True), check_resume(None), check_resume("must")
        ('auto', None, 'must')
    """
    if value is None or value is False:
        return None
    if value is True:
        return "auto"
    if isinstance(value, str):
        text = value.strip().lower()
        if text in RESUME_MODES:
            return text  # type: ignore[return-value]
        if text in ("true", "1", "yes"):
            return "auto"
        if text in ("false", "0", "no", ""):
            return None
    raise ValueError(
        f"{source}={value!r} is not valid: use one of {', '.join(map(repr, RESUME_MODES))}, "
        "True (= 'auto'), False or None"
    )


def parse_run_step(value: object, what: str) -> tuple[str, int]:
    """``"<run_id>?_step=N"`` or ``(run_id, N)`` as ``(run_id, N)``.

    Example:
        >>> parse_run_step("abc?_step=10", "fork_from"), parse_run_step(("abc", 3), "fork_from")
        (('abc', 10), ('abc', 3))
    """
    run_id: object = None
    step: object = None
    if isinstance(value, str):
        run_id, sep, query = value.partition("?")
        name, eq, number = query.partition("=")
        if sep and eq and name == "_step" and number.strip().isdigit():
            step = int(number)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        run_id, step = value
    valid_step = isinstance(step, int) and not isinstance(step, bool) and step >= 0
    if not (isinstance(run_id, str) and run_id and valid_step):
        raise ValueError(f"{what}={value!r} is not valid: expected {_STEP_FORMS}")
    assert isinstance(step, int)
    return check_id(run_id), step


@dataclass(frozen=True)
class Plan:
    """What an ``init()`` starts from."""

    kind: Literal["new", "resume", "fork", "rewind"]
    run_id: str | None
    """The run to resume or rewind, or the custom id of a new run (``None``: a random one)."""
    prior: dict[str, Any] | None = None
    """``run.json`` of the run resumed or rewound, or of the fork's parent."""
    parent: str | None = None
    step: int | None = None
    """The fork or rewind step."""
    auto_key: str | None = None
    """With ``resume="auto"``: the pointer file (under ``runs/.auto/``) to point at this run."""


def plan(
    root: Path,
    run_id: str | None,
    resume: ResumeMode | None,
    fork_from: object,
    resume_from: object,
) -> Plan:
    """Decide what ``init()`` starts from; raise clear errors for what cannot be done.

    Raises:
        RunNotFound: ``resume="must"`` and no such run; a fork's parent or a rewound run
            does not exist.
        RunExistsError: ``resume="never"`` (or ``None``) and the id is taken; the run to resume
            is still running in a live process.
        ValueError: a malformed ``fork_from``/``resume_from``, a step beyond the last logged
            one, a rewind of another run, or arguments that contradict each other.
    """
    runs = root / RUNS_DIR
    if fork_from is not None and resume_from is not None:
        raise ValueError("fork_from and resume_from cannot be combined: pass one of them")
    if fork_from is not None:
        parent, step = parse_run_step(fork_from, "fork_from")
        if resume not in (None, "never"):
            raise ValueError(
                f"fork_from starts a new run; it cannot be combined with resume={resume!r}"
            )
        prior = read_prior(runs, parent, f"cannot fork from run {parent!r}")
        _refuse_shared(prior, parent, "forked")
        _check_step(runs / parent, step, f"fork_from={fork_from!r}", parent)
        return Plan("fork", run_id, prior, parent, step)
    if resume_from is not None:
        target, step = parse_run_step(resume_from, "resume_from")
        if run_id is not None and check_id(run_id) != target:
            raise ValueError(
                f"resume_from={resume_from!r} names run {target!r}, but id={run_id!r}: only the "
                "run itself can be rewound (to start another run from it, use fork_from)"
            )
        prior = read_prior(runs, target, f"cannot rewind run {target!r}")
        _refuse_shared(prior, target, "rewound")
        _check_alive(prior, target, root)
        _check_step(runs / target, step, f"resume_from={resume_from!r}", target)
        return Plan("rewind", target, prior, None, step)
    if resume == "auto" and run_id is None:
        key = auto_key()
        found = _auto_candidate(runs, key, root)
        if found is not None:
            return Plan("resume", found[0], found[1], auto_key=key)
        return Plan("new", None, auto_key=key)
    if run_id is None:
        if resume == "must":
            raise ValueError(
                "resume='must' needs the id of the run to resume: pass id=... or set RUNLAB_RUN_ID"
            )
        return Plan("new", None)
    run_id = check_id(run_id)
    exists = (runs / run_id).is_dir()
    if not exists:
        if resume == "must":
            raise RunNotFound(
                f"resume='must': no run {run_id!r} in {root} to resume (use resume='allow' to "
                "start it when it does not exist)"
            )
        return Plan("new", run_id)
    if resume in (None, "never"):
        hint = "" if resume == "never" else "; pass resume='allow' to resume it"
        raise RunExistsError(
            f"a run with id {run_id!r} already exists in {root}; choose another id{hint}"
        )
    prior = read_prior(runs, run_id, f"cannot resume run {run_id!r}")
    if prior.get("shared"):
        raise ValueError(
            f"run {run_id!r} is a shared run written by several processes: resume each "
            "process with shared=True and its own label (init(id=..., shared=True, "
            "label=..., resume='allow'))"
        )
    _check_alive(prior, run_id, root)
    return Plan("resume", run_id, prior)


def _refuse_shared(prior: dict[str, Any], run_id: str, done: str) -> None:
    """A shared run's history is one log per process: forking or rewinding the owner's alone
    would silently drop the others'."""
    if prior.get("shared"):
        raise ValueError(
            f"run {run_id!r} is a shared run written by several processes; it cannot be "
            f"{done} (its history is one log per process): fork or rewind a plain run"
        )


def read_prior(runs: Path, run_id: str, what: str) -> dict[str, Any]:
    run_id = check_id(run_id)
    path = runs / run_id / RUN_JSON
    try:
        data = read_json(path)
    except FileNotFoundError:
        raise RunNotFound(f"{what}: there is no run {run_id!r} in {runs.parent}") from None
    except (OSError, ValueError) as exc:
        raise RunNotFound(f"{what}: {path} cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise RunNotFound(f"{what}: {path} does not hold a JSON object")
    return data


def _check_step(run_dir: Path, step: int, what: str, run_id: str) -> None:
    from runlab.storage._chain import scan_steps

    last = scan_steps(run_dir).last_step
    if step > last:
        logged = f"its last logged step is {last}" if last >= 0 else "it has logged nothing"
        raise ValueError(f"{what}: step {step} is beyond run {run_id!r}'s history ({logged})")


def _status_of(prior: dict[str, Any]) -> RunStatus | None:
    """The status readers derive from a ``run.json`` (``None`` when it is malformed)."""
    try:
        return derive_status(
            str(prior.get("status")),
            prior.get("heartbeat_at"),
            float(prior.get("heartbeat_interval") or 10.0),
        )
    except (ValueError, TypeError):
        return None


def liveness(prior: dict[str, Any]) -> str | None:
    """Why the run is still being written by a live process (``None`` when it is not)."""
    status = _status_of(prior)
    if status is None:
        return None
    if status is not RunStatus.RUNNING:
        return None
    writer = prior.get("writer")
    if isinstance(writer, dict) and writer.get("host") == host_name():
        pid = writer.get("pid")
        if isinstance(pid, int) and pid > 0 and not pid_alive(pid):
            return None  # killed (SIGKILL, OOM) before its heartbeat lapsed: safe to resume
        return f"process {pid} on this host is still writing it"
    return "its heartbeat is recent (it may be running on another host)"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check_alive(prior: dict[str, Any], run_id: str, root: Path) -> None:
    reason = liveness(prior)
    if reason is not None:
        raise RunExistsError(
            f"run {run_id!r} in {root} is still running ({reason}); one process writes a run "
            "at a time: resume it after it ends"
        )


def origin(cwd: str | None = None) -> dict[str, str]:
    """The script and working directory (``cwd``, by default the current one) of this process
    (what ``resume="auto"`` matches)."""
    cwd = os.getcwd() if cwd is None else cwd
    script = sys.argv[0] if sys.argv and sys.argv[0] else "<interactive>"
    if script not in ("-c", "-m", "<interactive>"):
        script = os.path.normpath(os.path.join(cwd, script))  # abspath, without a getcwd
    return {"script": script, "cwd": cwd}


def host_name() -> str:
    """This machine's name (without importing ``socket``: ``init()`` stays cheap)."""
    uname = getattr(os, "uname", None)
    if uname is not None:
        return str(uname().nodename)
    import socket  # pragma: no cover - Windows

    return socket.gethostname()  # pragma: no cover


_host: tuple[int, str] | None = None


def writer_info() -> dict[str, Any]:
    """``run.json``'s ``writer``: who writes the run (a resume refuses a live writer)."""
    global _host
    pid = os.getpid()
    if _host is None or _host[0] != pid:  # once per process (runs of a sweep start by 1000s)
        _host = (pid, host_name())
    return {"pid": pid, "host": _host[1]}


def auto_key() -> str:
    """The name of this script and directory's ``runs/.auto/`` pointer."""
    import hashlib

    where = origin()
    text = f"{where['script']}\0{where['cwd']}".encode("utf-8", "surrogateescape")
    return hashlib.sha1(text, usedforsecurity=False).hexdigest()[:20]


def _auto_candidate(runs: Path, key: str, root: Path) -> tuple[str, dict[str, Any]] | None:
    try:
        run_id = (runs / AUTO_DIR / key).read_text(encoding="utf-8").strip()
        prior = read_json(runs / check_id(run_id) / RUN_JSON)
    except (OSError, ValueError):
        return None
    if not isinstance(prior, dict) or prior.get("origin") != origin():
        return None
    status = _status_of(prior)
    if status is None:
        return None
    if status is RunStatus.RUNNING and liveness(prior) is None:
        status = RunStatus.CRASHED  # its process is gone: it crashed
    return (run_id, prior) if status in AUTO_STATES else None


def write_auto_pointer(runs: Path, key: str, run_id: str) -> None:
    """Point this script and directory's ``resume="auto"`` at ``run_id``."""
    folder = runs / AUTO_DIR
    folder.mkdir(exist_ok=True)
    write_bytes_atomic(folder / key, run_id.encode("utf-8"))


def mark_resumed(runs: Path, run_id: str) -> None:
    """Leave ``runs/.resumed/<id>`` and touch ``runs/`` so that readers re-check the run."""
    folder = runs / RESUMED_DIR
    folder.mkdir(exist_ok=True)
    (folder / run_id).touch()
    os.utime(runs)


# -- the state a continued run starts with ---------------------------------------------------


@dataclass
class Restored:
    """What a resumed, rewound or forked run goes on with."""

    last_step: int
    key_last_step: dict[str, int]
    system_samples: int
    config: dict[str, Any]
    config_event: dict[str, Any] | None
    tracker: SummaryTracker
    lineage: dict[str, Any]
    """``run.json`` fields: ``fork``, ``resumed``, ``rewinds``."""
    prior: dict[str, Any] = field(default_factory=dict)
    """The resumed run's ``run.json`` (empty for a fork): its fields stand unless given."""


def prepare(plan: Plan, run_dir: Path, config: Mapping[str, Any] | None) -> Restored:
    """Set up ``run_dir`` for the plan (archive, base frame, torn tail) and read the state.

    Called before the run's writer opens the log.
    """
    from runlab.storage._chain import scan_steps

    assert plan.prior is not None
    prior = plan.prior
    now = time.time()
    lineage: dict[str, Any] = {}
    if plan.kind == "fork":
        assert plan.parent is not None and plan.step is not None
        gen = generation(run_dir.parent / plan.parent)
        base = {"type": "base", "run": plan.parent, "step": plan.step, "gen": gen}
        _write_base(run_dir, base)
        scan = scan_steps(run_dir)
        tracker = _tracker_from_history(run_dir, _definitions(prior), scan)
        lineage["fork"] = {"run": plan.parent, "step": plan.step}
        base_config = prior.get("config") if isinstance(prior.get("config"), dict) else {}
        merged = {**(base_config or {}), **dict(config or {})}
        return Restored(scan.last_step, scan.key_last_step, 0, merged, None, tracker, lineage, {})
    for name in ("fork", "resumed", "rewinds"):
        if prior.get(name):
            lineage[name] = prior[name]
    if plan.kind == "rewind":
        assert plan.step is not None
        archived = _archive_log(run_dir)
        _write_base(run_dir, {"type": "base", "log": archived, "step": plan.step})
        scan = scan_steps(run_dir)
        tracker = _tracker_from_history(run_dir, _definitions(prior), scan)
        lineage["rewinds"] = [
            *lineage.get("rewinds", []),
            {"at": now, "step": plan.step, "archive": archived},
        ]
    else:
        scan = scan_steps(run_dir)
        tracker = _tracker_from_summary(prior, scan.last_frames)
        scan.last_frames.clear()  # drop the views into the log before it may be truncated
        report = scan.report
        if report.torn_tail and report.valid_end >= len(FILE_HEADER):
            # Only garbage follows the last intact frame (a write torn by a SIGKILL).
            os.truncate(run_dir / HISTORY_FILE, report.valid_end)
    lineage["resumed"] = [*lineage.get("resumed", []), {"at": now, "step": scan.last_step + 1}]
    merged, event = _merge_config(prior.get("config"), config, scan.last_step + 1)
    return Restored(
        scan.last_step,
        scan.key_last_step,
        scan.system_samples,
        merged,
        event,
        tracker,
        lineage,
        prior,
    )


def _write_base(run_dir: Path, event: dict[str, Any]) -> None:
    write_bytes_atomic(run_dir / HISTORY_FILE, FILE_HEADER + frame(KIND_EVENT, encode_event(event)))


def _archive_log(run_dir: Path) -> str:
    """Rename the run's log to ``archive/history-<k>.rlog`` (k: one more than the last)."""
    (run_dir / ARCHIVE_DIR).mkdir(exist_ok=True)
    name = archived_name(generation(run_dir) + 1)
    os.rename(run_dir / HISTORY_FILE, run_dir / name)
    return name


def _merge_config(
    old: Any, new: Mapping[str, Any] | None, at_step: int
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The stored config with ``new``'s keys added or updated, and the change as an event."""
    from runlab.sdk._config import Config

    merged: dict[str, Any] = dict(old) if isinstance(old, dict) else {}
    if not new:
        return merged, None
    changed: dict[str, Any] = {}
    previous: dict[str, Any] = {}
    for key, value in Config(new).to_dict().items():
        if key in merged and merged[key] == value:
            continue
        if key in merged:
            previous[key] = merged[key]
        changed[key] = value
        merged[key] = value
    if not changed:
        return merged, None
    event = {"type": "config_change", "changed": changed, "previous": previous, "at_step": at_step}
    return merged, event


def _definitions(prior: Mapping[str, Any]) -> list[MetricDefinition]:
    """The ``define_metric`` rules stored in ``run.json`` (unreadable ones are skipped)."""
    out: list[MetricDefinition] = []
    metrics = prior.get("metrics")
    if not isinstance(metrics, dict):
        return out
    for name, spec in metrics.items():
        if not isinstance(spec, dict):
            continue
        try:
            definition = check_definition(
                name, spec.get("summary") or "last", spec.get("goal"), spec.get("step_metric")
            )
        except ValueError:
            continue
        graph = spec.get("graph")
        out.append(
            MetricDefinition(
                definition.name,
                definition.summary,
                definition.goal,
                definition.step_metric,
                graph if isinstance(graph, str) else None,
            )
        )
    return out


def _tracker_from_history(
    run_dir: Path, definitions: list[MetricDefinition], scan: StepScan
) -> SummaryTracker:
    """A summary folded from the run's (stitched) history, under the stored rules: a ``last``
    key costs one column of one block; only keys with another rule read all their values."""
    from runlab.storage._reader import read_series

    tracker = SummaryTracker()
    for definition in definitions:
        tracker.define(definition)
    folded = [k for k in scan.key_last_step if _rule(tracker, k) not in (None, "last")]
    last = {k: v for k, v in scan.last_frames.items() if k not in folded}
    tracker.computed.update(last_values(last))
    if folded:
        for key, series in read_series(run_dir, folded).items():
            if len(series.values):
                tracker.update({key: (series.values.tolist(), [(0, len(series.values))])})
    scan.last_frames.clear()
    return tracker


def _rule(tracker: SummaryTracker, key: str) -> str | None:
    rule = tracker.rule(key) if tracker.definitions else None
    return None if rule is None else rule.summary


def _tracker_from_summary(
    prior: Mapping[str, Any], last_frames: dict[str, tuple[memoryview, int | None]]
) -> SummaryTracker:
    """The stored summary, with each ``last``-summarised key's value taken from the log (exact
    even when ``run.json`` lags the log after a SIGKILL)."""
    tracker = SummaryTracker()
    for definition in _definitions(prior):
        tracker.define(definition)
    summary = prior.get("summary")
    if isinstance(summary, dict):
        tracker.computed.update(summary)
    state = prior.get("summary_state")
    means = state.get("mean") if isinstance(state, dict) else None
    if isinstance(means, dict):
        for key, pair in means.items():
            if isinstance(pair, list) and len(pair) == 2:
                tracker._mean[key] = (float(pair[0]), int(pair[1]))
    frames = {k: v for k, v in last_frames.items() if _rule(tracker, k) in (None, "last")}
    tracker.computed.update(last_values(frames))
    return tracker


def mean_state(tracker: SummaryTracker) -> dict[str, Any] | None:
    """The running means' (total, count), stored so a resumed run's means go on exactly."""
    if not tracker._mean:
        return None
    return {"mean": {k: [total, count] for k, (total, count) in tracker._mean.items()}}
