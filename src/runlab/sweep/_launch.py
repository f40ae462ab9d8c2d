"""Launch experiments in fresh processes: ``call_experiment`` and ``ExperimentGrid.run``.

Every variant runs in a process of its own, so a thunk that mutates module state cannot leak
into the next variant: ``python -m runlab.sweep._child``, or, for a local grid, a child forked
from a zygote that imported runlab once (:mod:`runlab.sweep._zygote`). The child opens the variant's
runlab run before calling the thunk; the thunk's own ``runlab.init()`` joins that run through
``RUNLAB_JOIN_RUN``. The launch itself (:func:`launch`) is a top-level function of picklable
arguments, so any ``concurrent.futures.Executor`` can run it: a thread pool, a process pool,
Dask's ``client.get_executor()``.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from runlab._errors import ExperimentError
from runlab._settings import Settings
from runlab.sweep._grid import ExperimentGrid as _BaseGrid
from runlab.sweep._grid import setup_logger_kwargs
from runlab.sweep._zygote import ZygotePool, fork_available

if TYPE_CHECKING:
    from runlab.query import RunCollection

NumCpu = int | Literal["auto"]

# Inherited run fields would rename or re-config every child; the launcher sets its own.
_DROPPED_ENV = ("RUNLAB_RUN_ID", "RUNLAB_RUN_NAME", "RUNLAB_RUN_CONFIG", "RUNLAB_JOIN_RUN")
_STDERR_TAIL = 4000


@dataclass(frozen=True)
class Launch:
    """One prepared experiment: everything a (possibly remote) worker needs to run it."""

    name: str
    run_id: str
    payload: bytes
    prefix: tuple[str, ...]
    pythonpath: str
    quiet: bool


@dataclass(frozen=True)
class Outcome:
    """How a launched experiment ended (``traceback`` is the child's, when it failed)."""

    name: str
    run_id: str
    ok: bool
    traceback: str | None
    seconds: float


def launch(job: Launch, zygotes: ZygotePool | None = None) -> Outcome:
    """Run one prepared experiment in a fresh process and wait for it (executor-safe).

    With ``zygotes`` (a local launcher's), the process is forked from a pre-started zygote
    instead of starting an interpreter (see :mod:`runlab.sweep._zygote`); MPI launches always
    start ``mpirun``.
    """
    start = time.perf_counter()
    env = _child_env(job)
    with tempfile.TemporaryDirectory(prefix="runlab-launch-") as tmp:
        payload = Path(tmp) / "payload.pkl"
        payload.write_bytes(job.payload)
        stderr_path = Path(tmp) / "stderr.txt"
        if zygotes is not None and not job.prefix:
            code = zygotes.run(str(payload), env, job.quiet, str(stderr_path))
        else:
            command = [*job.prefix, sys.executable, "-m", "runlab.sweep._child", str(payload)]
            with open(stderr_path, "wb") as stderr:
                code = subprocess.call(
                    command,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL if job.quiet else None,
                    stderr=stderr if job.quiet else None,
                )
        result = payload.with_name(payload.name + ".result.json")
        if result.exists():
            outcome = json.loads(result.read_text(encoding="utf-8"))
            ok, text = bool(outcome["ok"]), outcome["traceback"]
        else:
            tail = ""
            if stderr_path.exists():
                tail = stderr_path.read_text(encoding="utf-8", errors="replace")[-_STDERR_TAIL:]
            ok, text = False, f"the child process exited with code {code} before reporting\n{tail}"
    return Outcome(job.name, job.run_id, ok, text, time.perf_counter() - start)


def _child_env(job: Launch) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env["PYTHONPATH"] = job.pythonpath
    if job.prefix:
        # one BLAS thread per MPI rank, as MPI launchers expect
        env.setdefault("OMP_NUM_THREADS", "1")
        env.setdefault("MKL_NUM_THREADS", "1")
    return env


def prepare(
    exp_name: str,
    thunk: Callable[..., Any],
    seed: Any = 0,
    num_cpu: NumCpu = 1,
    data_dir: str | os.PathLike[str] | None = None,
    datestamp: bool = False,
    kwargs: Mapping[str, Any] | None = None,
    group: str | None = None,
    quiet: bool = False,
) -> Launch:
    """Check and package one experiment; raises :class:`ExperimentError` for what cannot run."""
    import cloudpickle

    from runlab.sdk._ids import new_id

    kwargs = dict(kwargs or {})
    prefix = _mpi_prefix(num_cpu)
    env_name = kwargs.pop("env_name", None)
    if env_name is not None:
        _require_gym(env_name)
    config = _json_safe({**kwargs, **({} if env_name is None else {"env_name": env_name})})
    config["seed"] = _json_safe(seed)
    call_kwargs = {**kwargs, "seed": seed}
    if "logger_kwargs" not in call_kwargs:
        call_kwargs["logger_kwargs"] = setup_logger_kwargs(exp_name, seed, data_dir, datestamp)
    try:
        blob = cloudpickle.dumps((thunk, call_kwargs))
    except Exception as exc:
        raise ExperimentError(
            f"experiment {exp_name!r}: the thunk or its arguments cannot be pickled ({exc})"
        ) from exc
    run_id = new_id()
    init = {
        "id": run_id,
        "name": exp_name or None,
        "group": group,
        "config": config,
        "dir": str(Settings.resolve().dir),
        "seed": seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
    }
    spec = {"init": init, "blob": blob, "env_name": env_name}
    return Launch(exp_name, run_id, pickle.dumps(spec), prefix, _pythonpath(), quiet)


def call_experiment(
    exp_name: str,
    thunk: Callable[..., Any],
    seed: Any = 0,
    num_cpu: NumCpu = 1,
    data_dir: str | os.PathLike[str] | None = None,
    datestamp: bool = False,
    **kwargs: Any,
) -> str:
    """Run ``thunk(**kwargs, seed=seed, logger_kwargs=...)`` in a fresh Python subprocess.

    The experiment is recorded as a runlab run (name ``exp_name``, config the kwargs and seed,
    group ``RUNLAB_RUN_GROUP`` when set) that the thunk's own ``runlab.init()`` joins; its
    stdout and stderr are captured into the run. ``logger_kwargs`` come from
    :func:`setup_logger_kwargs` unless given.

    Args:
        exp_name: the experiment (variant) name.
        thunk: the function to run; pickled with cloudpickle, so lambdas and closures work.
        seed: passed to the thunk as ``seed``.
        num_cpu: processes; above 1 the child runs under ``mpirun -np N``; ``"auto"`` means
            the machine's physical cores.
        data_dir, datestamp: for :func:`setup_logger_kwargs`.
        **kwargs: the thunk's arguments. ``env_name`` becomes ``env_fn``, a function making
            that Gymnasium (or gym) environment.

    Returns:
        The run's id.

    Raises:
        ExperimentError: the thunk raised (``.traceback`` is the child's, ``.run_id`` the
            failed run), or the launch is impossible (no gym for ``env_name``, no ``mpirun``).
    """
    outcome = launch(prepare(exp_name, thunk, seed, num_cpu, data_dir, datestamp, kwargs))
    if not outcome.ok:
        raise failure(outcome)
    return outcome.run_id


def failure(outcome: Outcome) -> ExperimentError:
    """The error reporting a failed launch, with the child's traceback in the message."""
    return ExperimentError(
        f"experiment {outcome.name!r} failed (run {outcome.run_id}); the child's traceback:\n"
        f"{outcome.traceback}",
        traceback=outcome.traceback,
        run_id=outcome.run_id,
    )


def run_grid(
    grid: _BaseGrid,
    thunk: Callable[..., Any] | str,
    num_cpu: NumCpu = 1,
    data_dir: str | os.PathLike[str] | None = None,
    datestamp: bool = False,
    parallel: int = 1,
    executor: Executor | None = None,
    fail_fast: bool = True,
) -> RunCollection:
    """Run every variant of ``grid`` with :func:`call_experiment` semantics (``grid.run``).

    Args:
        thunk: the function, or the name of a grid parameter whose values are functions.
        num_cpu, data_dir, datestamp: as for :func:`call_experiment`.
        parallel: variants at once (each in a process of its own).
        executor: any ``concurrent.futures.Executor`` to launch through instead (Dask's
            ``client.get_executor()``, a process pool); with ``parallel`` > 1 at most that many
            are submitted at once, else all are.
        fail_fast: stop launching at the first failure and raise once running variants end;
            when False every variant runs and failures are listed.

    Returns:
        The variant runs as a :class:`runlab.RunCollection`, in variant order.

    Raises:
        ExperimentError: with ``fail_fast``, the first failure (its traceback and run id).
    """
    from runlab._console import get_console, silenced
    from runlab.sweep._report import Progress, print_summary

    if parallel < 1:
        raise ValueError(f"parallel={parallel!r} must be an integer >= 1")
    grid.print()
    names = grid.names()
    if not silenced():
        shown = "\n".join(sorted(set(names)))
        get_console().print(
            f"[bold green]Preparing to run the following experiments...[/]\n\n{shown}\n"
        )
    jobs = [
        _grid_job(grid, variant, thunk, num_cpu, data_dir, datestamp) for variant in grid.variants()
    ]
    own = executor is None
    pool: Executor = ThreadPoolExecutor(parallel) if executor is None else executor
    limit = parallel if own or parallel > 1 else len(jobs)
    # Locally, variants fork from zygotes that imported runlab once; a remote executor's
    # workers start their own processes.
    zygotes = ZygotePool(_child_env(jobs[0])) if own and jobs and fork_available() else None
    outcomes: dict[int, Outcome] = {}
    try:
        with Progress(len(jobs)) as progress:
            outcomes = _schedule(jobs, pool, limit, fail_fast, progress, zygotes)
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
        if zygotes is not None:
            zygotes.close()
    collection = _collect(jobs, outcomes)
    print_summary(jobs, outcomes, collection)
    failed = [outcomes[i] for i in sorted(outcomes) if not outcomes[i].ok]
    if failed and fail_fast:
        first = failed[0]
        skipped = len(jobs) - len(outcomes)
        raise ExperimentError(
            f"variant {first.name!r} failed (run {first.run_id}); {skipped} of {len(jobs)} "
            f"variants were not launched. The child's traceback:\n{first.traceback}",
            traceback=first.traceback,
            run_id=first.run_id,
        )
    return collection


def _grid_job(
    grid: _BaseGrid,
    variant: dict[str, Any],
    thunk: Callable[..., Any] | str,
    num_cpu: NumCpu,
    data_dir: str | os.PathLike[str] | None,
    datestamp: bool,
) -> Launch:
    name = grid.variant_name(variant)
    kwargs = dict(variant)
    if isinstance(thunk, str):
        if thunk not in kwargs or not callable(kwargs[thunk]):
            raise ExperimentError(
                f"thunk={thunk!r} names no grid parameter whose values are callables; "
                f"the grid's keys are {grid.keys!r}"
            )
        fn = kwargs.pop(thunk)
    else:
        fn = thunk
    seed = kwargs.pop("seed", 0)
    return prepare(name, fn, seed, num_cpu, data_dir, datestamp, kwargs, grid.name or None, True)


def _schedule(
    jobs: list[Launch],
    pool: Executor,
    limit: int,
    fail_fast: bool,
    progress: Any,
    zygotes: ZygotePool | None = None,
) -> dict[int, Outcome]:
    """Launch ``jobs`` with at most ``limit`` in flight; on a failure with ``fail_fast``, stop."""
    outcomes: dict[int, Outcome] = {}
    pending: dict[Future[Outcome], int] = {}
    queue = iter(range(len(jobs)))
    stop = False
    while True:
        while not stop and len(pending) < limit:
            index = next(queue, None)
            if index is None:
                break
            future = (
                pool.submit(launch, jobs[index])
                if zygotes is None
                else pool.submit(launch, jobs[index], zygotes)
            )
            pending[future] = index
        progress.update(outcomes.values(), len(pending))
        if not pending:
            return outcomes
        done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
        for future in done:
            index = pending.pop(future)
            if future.cancelled():
                continue
            error = future.exception()
            if error is not None:
                # the worker itself failed (not the thunk): report it as the variant's failure
                outcome = Outcome(jobs[index].name, jobs[index].run_id, False, repr(error), 0.0)
            else:
                outcome = future.result()
            outcomes[index] = outcome
            if not outcome.ok and fail_fast and not stop:
                stop = True
                for other in pending:
                    other.cancel()


def _collect(jobs: list[Launch], outcomes: Mapping[int, Outcome]) -> RunCollection:
    from runlab._errors import RunNotFound
    from runlab.query import Api, RunCollection

    api = Api()
    views = []
    try:
        for index in sorted(outcomes):
            try:
                views.append(api.run(jobs[index].run_id))
            except RunNotFound:
                continue
    finally:
        api.close()
    return RunCollection(views)


def _mpi_prefix(num_cpu: NumCpu) -> tuple[str, ...]:
    if num_cpu == "auto":
        import psutil

        count = psutil.cpu_count(logical=False) or 1
    elif isinstance(num_cpu, int) and not isinstance(num_cpu, bool) and num_cpu >= 1:
        count = num_cpu
    else:
        raise ExperimentError(f"num_cpu={num_cpu!r} is invalid: use an integer >= 1 or 'auto'")
    if count == 1:
        return ()
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        raise ExperimentError(
            f"num_cpu={num_cpu!r} runs the experiment under MPI, but mpirun is not on PATH; "
            "install an MPI implementation (e.g. Open MPI) or use num_cpu=1"
        )
    return (mpirun, "-np", str(count))


def _require_gym(env_name: str) -> None:
    import importlib.util

    if not any(importlib.util.find_spec(name) for name in ("gymnasium", "gym")):
        raise ExperimentError(
            f"env_name={env_name!r} needs Gymnasium to make the environment, and neither "
            "gymnasium nor gym is installed: pip install gymnasium (or pass env_fn yourself)"
        )


def _pythonpath() -> str:
    # the child imports what the parent can: its sys.path ('' is the working directory)
    entries = [os.getcwd() if entry == "" else entry for entry in sys.path]
    return os.pathsep.join(dict.fromkeys(e for e in entries if os.path.isdir(e)))


def _json_safe(value: Any) -> Any:
    """A config value as JSON: functions and classes by ``__name__``, tuples as lists."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if callable(value) and hasattr(value, "__name__"):
        return str(value.__name__)
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return _json_safe(item())
        except (TypeError, ValueError):
            pass
    return str(value)


class ExperimentGrid(_BaseGrid):
    """Spinning Up's experiment grid (see :class:`runlab.sweep._grid.ExperimentGrid`), runnable."""

    def run(
        self,
        thunk: Callable[..., Any] | str,
        num_cpu: NumCpu = 1,
        data_dir: str | os.PathLike[str] | None = None,
        datestamp: bool = False,
        parallel: int = 1,
        executor: Executor | None = None,
        fail_fast: bool = True,
    ) -> RunCollection:
        """Run every variant in a fresh process; see :func:`run_grid`."""
        return run_grid(self, thunk, num_cpu, data_dir, datestamp, parallel, executor, fail_fast)
