"""The live run: ``log()`` on the caller's thread, everything else on the writer's."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from runlab._errors import RunFinishedError, RunlabWarning, StepOrderError
from runlab._settings import Settings
from runlab._status import RunStatus
from runlab.sdk import _checks, _current, _hooks, _resume, _services
from runlab.sdk._checks import check_reserved as _check_reserved  # the name _admit() uses
from runlab.sdk._checks import check_step as _check_step  # the name log() uses
from runlab.sdk._config import Config, Summary, SummaryTracker, check_definition, definitions_json
from runlab.sdk._continue import leave_markers, take_over
from runlab.sdk._episode import Episode
from runlab.sdk._episode_book import EpisodeBook
from runlab.sdk._files import save_code, save_file
from runlab.sdk._ids import check_id, new_id, new_name, random_bits
from runlab.sdk._run_dir import active_spool, create_run_dir
from runlab.sdk._samples import Samples
from runlab.sdk._values import FAST_TYPES, normalize
from runlab.storage._format import Columns, Record
from runlab.storage._layout import (
    FILES_DIR,
    HISTORY_FILE,
    RUN_JSON,
    STOP_JSON,
    RunRecord,
    encode_json,
    run_dir,
    runs_dir,
    write_json_atomic,
)
from runlab.storage._writer import HistoryWriter

if TYPE_CHECKING:
    import datetime

    import polars as pl

    from runlab.metrics import Metrics
    from runlab.query._load import TypedViews
    from runlab.query._view import BaseRunView
    from runlab.scenario import Scenario
    from runlab.sdk._alerts import AlertLevel, Outbox
    from runlab.sdk._capture import RunCapture
    from runlab.sdk._shared import Role
    from runlab.storage._spool import Spool
    from runlab.system._metrics import SystemSampler

_time = time.time
STOP_CHECK = 0.5
"""Most seconds between two looks for a stop request (less when heartbeats are faster)."""
_QUEUED_POINTS = 200_000  # ~10 MB of queued Python floats: the SDK's memory bound


class Run:
    """A live run: log metrics, keep config and summary, end in a state.

    Create one with :func:`runlab.init` (or ``with runlab.Run(...) as run``). ``log()`` costs
    microseconds: it validates and queues; a writer thread encodes and appends to the run's
    log at least every ``flush_interval`` seconds.

    Example:
        >>> import runlab, tempfile
        >>> with runlab.init(project="demo", dir=tempfile.mkdtemp(),
        ...                  settings={"quiet": True, "capture_output": False}) as run:
        ...     run.log({"loss": 0.5})
        ...     run.log({"loss": 0.25})
        >>> run.status
        <RunStatus.FINISHED: 'finished'>

    ``Run.load(path_or_paths)`` and ``Run[Config].load(...)`` read finished runs back as
    read-only views (see :mod:`runlab.query`).
    """

    @classmethod
    def load(
        cls,
        source: str | os.PathLike[str] | Iterable[str | os.PathLike[str] | BaseRunView],
        impl_factory: Callable[..., Any] | None = None,
    ) -> Any:
        """A read-only view of the run at a path, or a ``RunCollection`` for an iterable of paths.

        A path is a runlab run directory or an MLflow run directory. ``impl_factory`` builds
        ``view.impl`` from ``artifacts_dir`` (and ``cfg`` when it takes two arguments).

        Raises:
            RunNotFound: a path is neither kind of run directory.
        """
        from runlab.query._load import load  # the query layer imports Polars: only on use

        return load(source, impl_factory)

    def __class_getitem__(cls, params: Any) -> TypedViews:
        """``Run[Config]`` / ``Run[Config, Impl]``: ``.load(...)`` then gives typed views."""
        from runlab.query._load import typed_views

        return typed_views(params)

    def __init__(
        self,
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
    ) -> None:
        self.settings = Settings.resolve(
            settings, dir=os.fspath(dir) if dir is not None else None, project=project, mode=mode
        )
        s = self.settings
        self.project = s.project
        self.group = group
        self.job_type = job_type
        self._scenario = _checks.load_scenario(scenario)
        _checks.check_seed(seed)
        if seed is None and self._scenario is not None:
            seed = random_bits(63)  # drawn and recorded so every episode can be re-created
        self.seed = seed
        self._episodes = EpisodeBook(self)
        self._name = name or new_name()
        self._tags = _checks.check_tags(tags)
        self._notes = notes
        self._description = description
        self._status = RunStatus.RUNNING
        self._finished = False
        self._err_msg: str | None = None
        self._exit_code: int | None = None
        self._traceback: str | None = None
        self._faults: list[str] = []
        self._warned = False
        self._persist_lock = threading.RLock()  # re-entered from a signal handler
        self._dirty = False
        self.start_time = _time()
        self._end_time: float | None = None
        self._beat = self.start_time
        self._outbox: Outbox | None = None
        self._deadline: float | None = None  # report_progress: set on the caller's thread
        self._saved_deadline: float | None = None  # what run.json holds
        self._deadline_saved_at = 0.0
        self._tracker = SummaryTracker()
        self._samples = Samples()
        self.config = Config(config, on_change=self._mark_dirty)
        self.summary = Summary(self._tracker, self._sync, self._mark_dirty)
        self._step = 0
        self._max_step = -1
        self._known: set[str] = set()
        self._capture: RunCapture | None = None
        self._stop_handler: Callable[[], object] | None = None
        self._stop_requested: float | None = None
        self._next_stop_check = 0.0
        self._system: SystemSampler | None = None
        self._output_sink: Any = None
        self._previous = _current.context_run()
        self._shared: Role | None = None
        self._spool: Spool | None = None
        if shared or label is not None:  # one process of a multi-process run (see _shared)
            from runlab.sdk._shared import role

            continues = fork_from is not None or resume_from is not None
            self._shared = role(shared, label, id, continues)
        self._disabled = s.mode == "disabled"
        if self._disabled:
            self.id = check_id(id) if id is not None else new_id()
            self.dir = run_dir(s.dir, self.id)
            self.log = _noop_log  # type: ignore[method-assign]
            _current.make_current(self, latest=False)
            return

        start = _resume.Plan("new", id)
        if self._shared is not None:  # each process resumes its own part (see _shared)
            mode = _resume.check_resume(resume)
            start = self._shared.plan(Path(s.dir), mode, s.heartbeat_interval)
        elif resume is not None or fork_from is not None or resume_from is not None:
            start = _resume.plan(
                Path(s.dir), id, _resume.check_resume(resume), fork_from, resume_from
            )
        if start.kind in ("resume", "rewind"):  # one process takes it over (see _claim)
            from runlab.sdk._claim import claim

            assert start.run_id is not None
            part = run_dir(s.dir, start.run_id)
            if self._shared is not None:
                part = self._shared.home(Path(s.dir))
            claim(part, start.prior or {}, f"cannot resume run {start.run_id!r} in {s.dir}")
        restored = None
        self._cwd = os.getcwd()
        self._lineage: dict[str, Any] = {
            "origin": _resume.origin(self._cwd),
            "writer": _resume.writer_info(),
        }
        if self._shared is not None:
            self.id = self._shared.run_id
            self.dir = self._shared.open(
                Path(s.dir),
                self._on_fault,
                project=self.project,
                name=self._name,
                created_at=self.start_time,
                heartbeat_interval=s.heartbeat_interval,
                resumes=start.kind == "resume",
            )
        elif start.kind in ("resume", "rewind"):
            assert start.run_id is not None
            self.id, self.dir = start.run_id, run_dir(s.dir, start.run_id)
        else:
            spool = active_spool()
            if spool is not None and start.kind == "new" and spool.runs_dir == runs_dir(s.dir):
                self._spool = spool
            self.id, self.dir = create_run_dir(
                Path(s.dir), start.run_id, self._spool, self._on_fault
            )
        self._state_file, self._stop_file = (
            (self.dir / RUN_JSON, self.dir / STOP_JSON)
            if self._shared is None
            else self._shared.files(self.dir)
        )
        if start.kind != "new":
            restored = _resume.prepare(start, self.dir, config)
            given = (project, name, tags, notes, description, group, job_type, seed)
            take_over(self, restored, *given)
            # A stop request was for the process that ended; this one would obey it at once.
            with contextlib.suppress(OSError):
                os.unlink(self._stop_file)
        self._writer = HistoryWriter(
            self.dir / HISTORY_FILE,
            flush_interval=s.flush_interval,
            fsync=s.fsync,
            on_batch=self._on_batch,
            on_tick=self._on_tick,
            on_fault=self._on_fault,
        )
        self._queue = self._writer.queue
        self._append = self._queue.append
        self._cap = 0 if s.write_through else s.buffer_size
        if restored is not None:
            self._writer.key_last_step.update(restored.key_last_step)
            if restored.config_event is not None:
                self._writer.submit_event(restored.config_event)
        if self._spool is None:
            self._persist()
        else:  # the writer's first tick writes it, if the run still runs then (see spooled)
            self._dirty = True
        if self._shared is None or self._shared.owner:  # a rank changes no listing
            leave_markers(Path(s.dir), start, self.id, self._on_fault)
        self._writer.start()
        self._system = _services.start_system_metrics(
            s.system_metrics_interval, self.dir, self._writer.submit_aside, self._on_fault
        )
        if restored is not None and self._system is not None:
            self._system.samples = restored.system_samples  # its sample index goes on
        if s.capture_output:
            self._output_sink = _services.start_output_capture(self.dir, self._on_fault)
        self._capture = _services.start_capture(
            self.dir, s, self._scenario, self.seed, self._on_fault, self._spool, self._cwd
        )
        _hooks.register(self)
        _current.make_current(self)
        from runlab.sdk._terminal import print_start

        print_start(self._name, self.id, self.project, self.dir, s.quiet)

    # -- the hot path ----------------------------------------------------------------

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool = True) -> None:
        """Record scalar metrics at a step.

        Args:
            data: ``{key: number}``; nested dicts become ``a/b`` keys. Values are ints,
                floats, bools, NumPy scalars or 0-d arrays/tensors (anything with ``.item()``).
                NaN and ±inf are stored as such.
            step: the step; by default one past the previous step. A step may repeat
                (merging into that step) but may not go back for a key already logged later.
            commit: when False the step does not advance, so the next call adds to it.

        Raises:
            LogTypeError: a value is not a scalar (names the key and the type).
            LogKeyError: a key is empty, too long, reserved or has control characters.
            StepOrderError: ``step`` is below a key's last step.
            RunFinishedError: the run has finished.
        """
        if (
            type(data) is dict
            and self._known.issuperset(data)
            and FAST_TYPES.issuperset(map(type, data.values()))
        ):
            flat = dict(data)
        else:
            flat = self._admit(data)
        if step is None:
            step = self._step
        elif type(step) is not int or step < 0:
            step = _check_step(step)
        if step < self._max_step:
            self._check_order(flat, step)
        else:
            self._max_step = step
        if commit:
            self._step = step + 1
        elif step >= self._step:
            self._step = step
        self._append((step, _time(), flat))
        if len(self._queue) >= self._cap:
            self._on_full()

    def _admit(self, data: Mapping[str, Any]) -> dict[str, Any]:
        flat = normalize(data)
        if self._scenario is not None:
            for key in flat:
                _check_reserved(key, "metric")
        self._known.update(flat)
        if self._cap and flat:
            self._cap = min(self._cap, self._points_cap(len(flat)))
        return flat

    def _points_cap(self, width: float) -> int:
        # Bound the queue by points, not calls, so wide log() calls cannot pile up memory.
        return min(self.settings.buffer_size, max(256, int(_QUEUED_POINTS / width)))

    def _check_order(self, flat: dict[str, Any], step: int) -> None:
        writer = self._writer
        with writer.lock:
            last = dict(writer.key_last_step)
            for s, _t, d in list(self._queue):
                last.update(dict.fromkeys(d, s))
        for key in flat:
            prev = last.get(key)
            if prev is not None and step < prev:
                raise StepOrderError(
                    f"cannot log {key!r} at step {step}: it was already logged at step {prev} "
                    "and steps may not go back for a key"
                )

    def _on_full(self) -> None:
        if self._cap == 0:
            self._writer.write_through()
        else:
            self._writer.wait_for_room()

    # -- writer-thread callbacks ---------------------------------------------------------

    def _on_batch(self, records: list[Record], cols: Columns) -> None:
        self._tracker.update(cols)
        self._samples.update(cols)
        if self._cap:
            points = sum(len(v) for v, _ in cols.values())
            self._cap = self._points_cap(max(1.0, points / len(records)))

    def _on_tick(self) -> None:
        if self._episodes.open:
            self._episodes.announce_open()
        now = _time()
        if now >= self._next_stop_check:
            self._next_stop_check = now + min(self.settings.heartbeat_interval, STOP_CHECK)
            if self._stop_requested is None and os.path.exists(self._stop_file):
                self._on_stop_request()
        if (
            self._dirty
            or now - self._beat >= self.settings.heartbeat_interval
            or (self._deadline != self._saved_deadline and self._deadline_due(now))
        ):
            self._beat = now
            self._persist()
        if self._spool is not None:  # what this tick (or earlier runs) wrote goes out now
            self._spool.flush()

    def _deadline_due(self, now: float) -> bool:
        """Whether a new ``report_progress`` deadline must reach ``run.json`` on this tick.

        A shorter promise, a first one, or one replacing a deadline less than a second away
        goes out at once; a run reporting every step with a long promise rewrites ``run.json``
        at most once a second for it.
        """
        new, saved = self._deadline, self._saved_deadline
        if new is None or saved is None or new < saved:
            return True
        return saved - now < 1.0 or now - self._deadline_saved_at >= 1.0

    def on_stop(self, handler: Callable[[], object] | None) -> None:
        """Call ``handler`` (on a runlab thread) when someone stops this run from outside
        (``runlab stop``, the UI's Stop button), instead of interrupting the main thread.

        The handler should make the program end the run soon (set a flag the training loop
        checks); the run then ends as it is finished (``killed`` if the handler passes no
        other status to :meth:`finish`). ``None`` restores the default: a
        ``KeyboardInterrupt`` in the main thread, so the run ends ``killed``.
        """
        _checks.check_stop_handler(handler)
        self._stop_handler = handler

    def _on_stop_request(self) -> None:
        self._stop_requested = _time()
        handler = self._stop_handler
        if handler is not None:
            try:
                handler()
            except Exception as exc:  # the user's handler must not kill the writer thread
                self._on_fault("stop handler", exc)
            return
        _hooks.interrupt_main()

    def _on_fault(self, kind: str, exc: BaseException) -> None:
        # Faults can come from ``create_run_dir``, before ``id`` and ``dir`` are set.
        where = getattr(self, "dir", None) or self.settings.dir
        run_id = getattr(self, "id", None) or "(id not chosen yet)"
        message = f"{kind} failed under {where}: {exc}"
        if message in self._faults:
            return
        self._faults.append(message)
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"runlab: run {run_id}: {message}; training continues, unwritten data is "
                "retried on every flush (details in run.faults)",
                RunlabWarning,
                stacklevel=2,
            )

    def _sync(self) -> None:
        if not self._disabled and not self._finished:
            self._writer.flush(wait=True)

    # -- persisted state -------------------------------------------------------------------

    def _mark_dirty(self) -> None:
        if self._disabled:
            return
        self._dirty = True
        if self._finished:
            self._persist()
        else:
            self._writer.wake()

    def _record(self) -> RunRecord:
        return RunRecord(
            id=self.id,
            project=self.project,
            name=self._name,
            status=self._status.value,
            created_at=self.start_time,
            ended_at=self._end_time,
            heartbeat_at=self._beat,
            heartbeat_interval=self.settings.heartbeat_interval,
            group=self.group,
            job_type=self.job_type,
            tags=self._tags,
            notes=self._notes,
            description=self._description,
            config=self.config.to_dict(),
            summary=self._tracker.merged(),
            exit_code=self._exit_code,
            err_msg=self._err_msg,
            seed=self.seed,
            progress_deadline=self._deadline,
        )

    def _persist(self) -> None:
        with self._persist_lock:
            self._dirty = False
            if self._deadline != self._saved_deadline:
                self._saved_deadline, self._deadline_saved_at = self._deadline, _time()
            data = self._record().to_json()
            data["traceback"] = self._traceback
            data["faults"] = self._faults[-20:]
            data["metrics"] = definitions_json(self._tracker)
            data["scenario"] = None if self._scenario is None else self._scenario.to_dict()
            data["episodes"] = self._episodes.count
            data.update(self._lineage)
            means = _resume.mean_state(self._tracker)
            if means is not None:
                data["summary_state"] = means
            if self._shared is not None:
                data.update(self._shared.fields)
            try:
                if self._spool is not None:
                    self._spool.write(self._state_file, encode_json(data), self._on_fault)
                else:
                    write_json_atomic(self._state_file, data)
            except OSError as exc:
                self._on_fault(self._state_file.name, exc)

    # -- user-visible attributes ----------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = str(value)
        self._mark_dirty()

    @property
    def tags(self) -> tuple[str, ...]:
        return self._tags

    @tags.setter
    def tags(self, value: Iterable[str]) -> None:
        self._tags = _checks.check_tags(value)
        self._mark_dirty()

    @property
    def notes(self) -> str | None:
        return self._notes

    @notes.setter
    def notes(self, value: str | None) -> None:
        self._notes = value
        self._mark_dirty()

    @property
    def description(self) -> str | None:
        return self._description

    @description.setter
    def description(self, value: str | None) -> None:
        self._description = value
        self._mark_dirty()

    @property
    def status(self) -> RunStatus:
        return self._status

    @property
    def faults(self) -> tuple[str, ...]:
        """Storage problems met so far (each also warned about once)."""
        return tuple(self._faults)

    @property
    def step(self) -> int:
        """The step the next ``log()`` without ``step=`` will use."""
        return self._step

    # -- alerts and progress ---------------------------------------------------------------

    def alert(
        self,
        title: str,
        text: str = "",
        level: AlertLevel | str = "INFO",
        wait_duration: float | datetime.timedelta | None = None,
    ) -> bool:
        """Send an alert to the configured sinks (console, webhooks, email), off this thread.

        An alert with the same ``title`` sent by this run less than ``wait_duration`` seconds
        ago is not sent again (W&B's rule). Sinks and their least levels come from the
        settings (``RUNLAB_ALERT_WEBHOOK``, ``RUNLAB_ALERT_SLACK_WEBHOOK``,
        ``RUNLAB_ALERT_EMAIL`` + ``RUNLAB_ALERT_SMTP``, ...). Sent alerts are also kept in the
        run's ``files/alerts.jsonl``. A sink that fails is reported once in ``run.faults``.

        Args:
            title: what happened, in a few words; the rate-limiting key.
            text: the details.
            level: ``INFO``, ``WARN`` or ``ERROR`` (or a ``runlab.AlertLevel``).
            wait_duration: seconds (or a ``datetime.timedelta``); default one minute.

        Returns:
            True when the alert was queued, False when the rate limit held it back.

        Raises:
            ValueError: an empty title, an unknown level or a negative wait.
            TypeError: title or text not a str, or a wait that is not a duration.
            RunFinishedError: the run has finished.

        Example:
            >>> import runlab, tempfile
            >>> with runlab.init(dir=tempfile.mkdtemp(), settings={"quiet": True}) as run:
            ...     run.alert("Loss is NaN", "at step 120", level="WARN")
            ...     run.alert("Loss is NaN", "at step 121", level="WARN")  # within a minute
            True
            False
        """
        from runlab.sdk._alerts import Alert, check_alert

        checked, wait = check_alert(title, text, level, wait_duration)
        if self._finished:
            raise RunFinishedError(f"run {self.id} has finished ({self._status}); no more alerts")
        if self._disabled:
            return False
        now = _time()
        outbox = self._alerts()
        if not outbox.limiter.admit(title, wait, now):
            return False
        alert = Alert(title, text, checked, self.id, self._name, self.project, now)
        return outbox.send(alert)

    def report_progress(self, expect_next_in: float) -> None:
        """Promise the next progress report within ``expect_next_in`` seconds.

        A running run that misses its promise reads as ``stalled`` (``Api().run(id).status``,
        ``runlab ls``, the UI) and ``runlab watch`` sends a stall alert for it; the next report
        makes it ``running`` again. Cheap enough to call every step.

        Raises:
            ValueError: ``expect_next_in`` is not a positive, finite number of seconds.
        """
        seconds = _checks.check_expect_next_in(expect_next_in)
        self._deadline = _time() + seconds  # the writer's tick persists it

    def _alerts(self) -> Outbox:
        if self._outbox is None:
            from runlab.sdk._alerts import run_outbox

            self._outbox = run_outbox(self.settings, self.dir / FILES_DIR, self._on_fault)
        return self._outbox

    def define_metric(
        self,
        name: str,
        summary: str = "last",
        goal: str | None = None,
        step_metric: str | None = None,
    ) -> None:
        """Choose how a metric (or a glob such as ``"val/*"``) is summarised.

        Args:
            summary: one of ``min``, ``max``, ``mean``, ``first``, ``last``, ``none``.
            goal: ``minimize`` or ``maximize`` (a display and sweep hint).
            step_metric: the key to plot this metric against.
        """
        definition = check_definition(name, summary, goal, step_metric)
        self._sync()
        self._tracker.define(definition)
        self._mark_dirty()

    # -- ending ------------------------------------------------------------------------------

    def finish(
        self,
        status: RunStatus | str | None = None,
        err_msg: str | None = None,
        exit_code: int | None = None,
    ) -> None:
        """End the run: flush everything, then record its final state (``finished`` default).

        ``status`` may be ``finished``, ``failed``, ``killed`` or ``canceled`` (HumaLab's
        ``FINISHED``/``ERRORED``/``CANCELED`` too). Calling it again does nothing.
        """
        self._end(_checks.check_final_status(status), err_msg, exit_code, None)

    def _end(
        self,
        status: RunStatus,
        err_msg: str | None,
        exit_code: int | None,
        traceback: str | None,
    ) -> None:
        with self._persist_lock:
            if self._finished:
                return
            self._finished = True
        if self._stop_requested is not None and status is RunStatus.KILLED:
            err_msg = "stopped from outside (runlab stop)"
        with _hooks.critical():
            self._finish_now(status, err_msg, exit_code, traceback)

    def _finish_now(
        self,
        status: RunStatus,
        err_msg: str | None,
        exit_code: int | None,
        traceback: str | None,
    ) -> None:
        self.log = self._log_after_finish  # type: ignore[method-assign]
        if self._system is not None:
            self._system.stop()  # its last sample, before the end time and the last flush
        self._status = status
        self._err_msg = err_msg
        self._exit_code = exit_code
        self._traceback = traceback
        self._end_time = _time()
        self._episodes.end_open(status)
        if self._disabled:
            _current.reset_current(self, self._previous)
            return
        if status is RunStatus.FAILED:
            from runlab.sdk._alerts import send_failure

            send_failure(self._alerts(), self.id, self._name, self.project, err_msg, exit_code)
        self._writer.close()
        if self._capture is not None:
            self._capture.join(timeout=10)
        if self._output_sink is not None:
            _services.stop_output_capture(self._output_sink)
            self._output_sink = None
        if self._outbox is not None:
            from runlab.sdk._alerts import FINISH_WAIT, drain

            drain(FINISH_WAIT)  # bounded: the failure alert still goes out, a dead sink waits not
        self._persist()
        if self._spool is not None:  # the record goes out now: a crash from here loses nothing
            self._spool.flush()
        _hooks.unregister(self)
        _current.reset_current(self, self._previous)
        from runlab.sdk._terminal import print_end

        print_end(
            self._name,
            self.id,
            self._status,
            self._samples.values,
            self._tracker.merged(),
            self.dir,
            self.settings.quiet,
        )

    # -- scenarios and episodes ------------------------------------------------------------

    @property
    def scenario(self) -> Scenario | None:
        """The run's scenario (``None`` when the run has none)."""
        return self._scenario

    def create_episode(self, episode_id: str | None = None) -> Episode:
        """Start the next episode: the run's scenario sampled for it from (seed, index) alone.

        Usable as a context manager or ended with ``episode.finish(...)``. Thread-safe.

        Args:
            episode_id: a custom id (unique in the run); ``"<index>"`` zero-padded otherwise.
        """
        if self._finished:
            raise RunFinishedError(f"run {self.id} has finished; it takes no new episodes")
        return self._episodes.create(episode_id)

    def episodes(self) -> pl.DataFrame:
        """The run's episodes so far as a Polars frame (see ``RunView.episodes``)."""
        from runlab.query._episodes import episodes

        self._sync()
        return episodes(self.dir, unfinished="RUNNING")

    def scenario_stats(self, bins: int = 10, outcome: str = "status") -> pl.DataFrame:
        """Outcome counts and success rate per parameter bin or category: where the policy
        fails (see ``RunView.scenario_stats``)."""
        from runlab.query._episodes import scenario_stats

        self._sync()
        return scenario_stats(self.dir, bins, outcome, unfinished="RUNNING")

    def _episode_ended(
        self, episode: Episode, records: list[Record], traceback: str | None, announced: bool
    ) -> None:
        self._episodes.ended(episode, records, traceback, announced)

    def add_metric(self, name: str, metric: Metrics) -> None:
        """Register a run-level metric with a display hint (``runlab.metrics.Metrics``) or a
        reduction (``runlab.metrics.Summary(kind=...)``); then ``run.log({name: value})``."""
        definition = _checks.metric_definition(name, metric)
        self._sync()
        self._tracker.define(definition)
        self._mark_dirty()

    def log_code(self, key: str, code_content: str) -> None:
        """Save code text as an artifact of the run (``artifacts/code/<key>``)."""
        self._save_code(key, code_content, "")

    def _save_code(self, key: str, code_content: str, prefix: str) -> None:
        save_code(self.dir, key, code_content, prefix, self._disabled, self._on_fault)

    def save(self, path: str | os.PathLike[str], name: str | None = None) -> Path:
        """Copy a file into the run's ``files/`` (as ``name``, default its file name).

        Returns:
            The path of the copy.
        """
        return save_file(self.dir, path, name, self._disabled)

    def _detach(self) -> None:
        """Silence this copy of the run in a forked child process (the parent owns it)."""
        if self._system is not None:
            self._system.detach()
        self._disabled = True
        self._finished = True
        self.log = _noop_log  # type: ignore[method-assign]

    def _log_after_finish(self, *args: Any, **kwargs: Any) -> None:
        raise RunFinishedError(f"run {self.id} has finished ({self._status}); start a new run")

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._end(*_hooks.block_end(exc_type, exc, tb))

    def __repr__(self) -> str:
        return f"<runlab.Run {self.id} {self._name!r} project={self.project!r} {self._status}>"


def _noop_log(data: Mapping[str, Any], step: int | None = None, commit: bool = True) -> None:
    return None
