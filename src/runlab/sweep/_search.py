"""``runlab.sweep``: run a function over a parameter space, one tracked run per trial.

Trials run in this process (in threads with ``parallel=N``, or through any
``concurrent.futures.Executor``). Grid and random trials are fixed by the space and the seed
alone; Optuna trials come from a seeded TPE sampler told each trial's metric.

>>> import tempfile
>>> from runlab.sweep._search import sweep
>>> rc = sweep(lambda x, y: (x - 1) ** 2 + y, {"x": [0, 1, 2], "y": 0.5},
...            dir=tempfile.mkdtemp(), name="demo")
>>> rc.to_list("name"), rc.to_list("objective")
(['demo-0', 'demo-1', 'demo-2'], [1.5, 0.5, 1.5])
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import itertools
import math
import numbers
import os
import random
import secrets
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from runlab._errors import RunlabError, RunlabWarning

if TYPE_CHECKING:
    from runlab._settings import Settings
    from runlab.query._collection import RunCollection
    from runlab.scenario import Scenario
    from runlab.storage._layout import RunRecord
    from runlab.storage._spool import Spool

Method = Literal["grid", "random", "optuna"]
Goal = Literal["minimize", "maximize"]
DEFAULT_METRIC = "objective"
_ONE_ARGUMENT = ("config", "params")
# Trials are bookkeeping-light: printing a start line and capturing output per trial is noise.
_TRIAL_SETTINGS: dict[str, Any] = {"quiet": True, "capture_output": False}
SPOOL_MIN_TRIALS = 16
"""In-process sweeps of at least this many trials hand their runs' file-system work to a
helper process (``runlab.storage._spool``); fewer trials do not pay for starting it."""


class SweepError(RunlabError, ValueError):
    """A sweep that cannot run as asked: a bad option, space or metric."""


@dataclass(frozen=True)
class Trial:
    """One trial's place in a sweep: its index, run name and parameter values."""

    index: int
    name: str
    params: dict[str, Any]


@dataclass(frozen=True)
class TrialOutcome:
    """What running a trial gave: its run id, its metric value (if any) and its error."""

    trial: Trial
    run_id: str
    value: float | None = None
    error: str | None = None
    record: RunRecord | None = None
    """The run's record as it ended (spares reading every run back from disk)."""


@dataclass(frozen=True)
class _Job:
    """Everything a worker needs to run one trial (picklable for process executors)."""

    fn: Callable[..., Any]
    trial: Trial
    group: str
    metric: str | None
    project: str | None
    dir: str | None
    settings: dict[str, Any] = field(default_factory=dict)
    spool: Spool | None = field(default=None, compare=False, repr=False)
    """Where in-process trials' runs do their file-system work (``None`` with an executor)."""


def check_option(value: object, options: Any, what: str) -> None:
    """Raise :class:`SweepError` unless ``value`` is one of the ``Literal`` ``options``."""
    allowed = get_args(options)
    if value not in allowed:
        listed = ", ".join(repr(a) for a in allowed)
        raise SweepError(f"{what}={value!r} is not one of {listed}")


def sweep(
    fn: Callable[..., Any],
    space: Mapping[str, Any],
    n: int | None = None,
    method: Method = "grid",
    metric: str | None = None,
    goal: Goal = "minimize",
    parallel: int = 1,
    executor: Executor | None = None,
    seed: int | None = None,
    project: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
    settings: Settings | Mapping[str, Any] | None = None,
) -> RunCollection:
    """Run ``fn`` once per trial of ``space``, each trial a run in the sweep's group.

    Each trial is ``with runlab.init(group=name, name=f"{name}-{k}", config=params): fn(...)``.
    ``fn`` is called as ``fn(**params)``, or as ``fn(params)`` when its only parameter is a
    positional one named ``config`` or ``params``. A returned number is logged as ``metric``
    (and is the value Optuna optimises); a returned dict is logged as is. A trial that raises
    is recorded as a failed run and the sweep goes on; failures are reported in one warning.

    Without an ``executor``, a sweep of :data:`SPOOL_MIN_TRIALS` trials or more hands its
    runs' file-system work to a helper process (:mod:`runlab.storage._spool`) while the next
    trials run; a trial's run is listed from its writer's first tick or when it ends, and every
    record is on disk when ``sweep()`` returns.

    Args:
        fn: the trial function.
        space: top-level list values are grid axes; ``${...}`` strings use the scenario
            language (:class:`runlab.scenario.Scenario`); anything else is a constant.
        n: trials: required for ``random`` and ``optuna``; for ``grid`` it caps the product.
        method: ``grid`` (the cartesian product of the list axes, first key slowest; any
            ``${...}`` values are drawn for trial k from (seed, k)); ``random`` (trial k's
            values from (seed, k) alone, list values drawn uniformly); ``optuna`` (Optuna's
            TPE sampler seeded with ``seed``; ``pip install runlab[optuna]``).
        metric: the metric name for a returned number (default ``objective``); for Optuna,
            the key of a returned dict to optimise.
        goal: ``minimize`` or ``maximize`` (Optuna's direction).
        parallel: trials in flight at once: threads in this process, or futures of ``executor``.
        executor: a ``concurrent.futures.Executor`` to run trials on (every worker must see
            ``dir``); ``fn`` must then be picklable if the executor pickles.
        seed: the sweep's seed; drawn at random when omitted.
        project, dir, settings: passed to every trial's ``runlab.init()``.
        name: the sweep's name and its runs' group (default ``sweep-<random>``).

    Returns:
        The trials' runs, in trial order.

    Raises:
        SweepError: a bad option, a space Optuna cannot search, or a missing metric.
    """
    check_option(method, Method, "method")
    check_option(goal, Goal, "goal")
    if not isinstance(parallel, int) or parallel < 1:
        raise SweepError(f"parallel={parallel!r} must be an int >= 1")
    if n is not None and (not isinstance(n, int) or n < 0):
        raise SweepError(f"n={n!r} must be an int >= 0 or None")
    if method != "grid" and n is None:
        raise SweepError(f"method={method!r} needs n, the number of trials")
    group = name or f"sweep-{secrets.token_hex(3)}"
    seed = random.getrandbits(63) if seed is None else seed
    extra = _settings_dict(settings)
    job = _Job(fn, Trial(0, "", {}), group, metric, project, _fspath(dir), extra)
    source: _Source
    if method == "optuna":
        source = _OptunaSource(space, n or 0, seed, goal, metric)
    else:
        source = _FixedSource(trials(space, group, method, n, seed))
    if executor is None and source.planned >= SPOOL_MIN_TRIALS:
        # trials in this process: a helper does their runs' file-system work meanwhile
        from runlab.sdk._run_dir import spool_for

        job = dataclasses.replace(job, spool=spool_for(_trial_settings(job).dir))
    try:
        outcomes = _drive(job, source, parallel, executor)
    finally:
        if job.spool is not None:
            from runlab.storage._spool import park

            park(job.spool)  # every trial's record is on disk when sweep() returns
    _warn_failures(group, outcomes)
    return _collection(outcomes, job.dir)


# -- trials ------------------------------------------------------------------------------------


def trials(
    space: Mapping[str, Any],
    name: str,
    method: Literal["grid", "random"],
    n: int | None,
    seed: int,
) -> list[Trial]:
    """The grid or random trials of ``space`` (see :func:`sweep`), named ``<name>-<k>``."""
    check_option(method, Literal["grid", "random"], "method")
    if not isinstance(space, Mapping):
        raise SweepError(f"a sweep space must be a mapping, not {type(space).__name__}")
    axes = {k: v for k, v in space.items() if isinstance(v, list)}
    for key, values in axes.items():
        if not values:
            raise SweepError(f"parameter {key!r} has an empty list of values")
    scenario = _scenario({k: v for k, v in space.items() if k not in axes})
    if method == "grid":
        points: Iterator[tuple[Any, ...]] = itertools.product(*axes.values())
        count = math.prod(len(v) for v in axes.values())
        count = count if n is None else min(n, count)
    else:
        assert n is not None
        points, count = _uniform_points(scenario, seed, list(axes.values())), n
    out = []
    for k, point in zip(range(count), points, strict=False):
        drawn = scenario.sample_episode(seed, k)
        chosen = dict(zip(axes, point, strict=True))
        params = {key: chosen[key] if key in chosen else drawn[key] for key in space}
        out.append(Trial(k, f"{name}-{k}", params))
    return out


def _uniform_points(
    scenario: Scenario, seed: int, axes: list[list[Any]]
) -> Iterator[tuple[Any, ...]]:
    for k in itertools.count():
        # trial k's own stream: reproducible from (seed, k) like the ${...} values
        rng = random.Random(scenario.episode_seed(seed, k))
        yield tuple(rng.choice(values) for values in axes)


def _scenario(spec: Mapping[str, Any]) -> Scenario:
    from runlab.scenario import Scenario

    return Scenario(dict(spec))


# -- running -----------------------------------------------------------------------------------


class _Source:
    """Where trials come from, and who hears how they went."""

    planned = 0
    """How many trials there will be."""

    def next(self, job: _Job) -> Trial | None:
        raise NotImplementedError

    def report(self, outcome: TrialOutcome) -> None:
        """Hear a finished trial (Optuna tells its study)."""


class _FixedSource(_Source):
    def __init__(self, planned: list[Trial]) -> None:
        self.planned = len(planned)
        self._planned = iter(planned)

    def next(self, job: _Job) -> Trial | None:
        return next(self._planned, None)


def _drive(
    job: _Job, source: _Source, parallel: int, executor: Executor | None
) -> list[TrialOutcome]:
    """Run trials, at most ``parallel`` at once, in trial order of the result."""
    outcomes: list[TrialOutcome] = []
    if parallel == 1 and executor is None:
        while (trial := source.next(job)) is not None:
            outcome = run_trial(_with_trial(job, trial))
            source.report(outcome)
            outcomes.append(outcome)
        return outcomes
    own = executor is None
    pool = ThreadPoolExecutor(parallel, thread_name_prefix="runlab-sweep") if own else executor
    assert pool is not None
    pending: dict[Future[TrialOutcome], Trial] = {}
    try:
        while True:
            while len(pending) < parallel and (trial := source.next(job)) is not None:
                pending[pool.submit(run_trial, _with_trial(job, trial))] = trial
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                pending.pop(future)
                outcome = future.result()
                source.report(outcome)
                outcomes.append(outcome)
    finally:
        for future in pending:
            future.cancel()
        if own:
            pool.shutdown(wait=True)
    return sorted(outcomes, key=lambda o: o.trial.index)


def _with_trial(job: _Job, trial: Trial) -> _Job:
    return dataclasses.replace(job, trial=trial)


def run_trial(job: _Job) -> TrialOutcome:
    """Run one trial as a run (module level, so process executors can pickle it)."""
    import runlab
    from runlab.sdk._run_dir import spooled

    trial, metric = job.trial, job.metric or DEFAULT_METRIC
    with spooled(job.spool):
        run = runlab.init(
            project=job.project,
            name=trial.name,
            group=job.group,
            config=trial.params,
            dir=job.dir,
            settings=_trial_settings(job),
        )
    value: float | None = None
    try:
        with run:
            result = _call(job.fn, trial.params)
            if _is_number(result):
                value = float(result)
                run.log({metric: result})
                run.summary[metric] = result
            elif isinstance(result, Mapping):
                run.log(result)
                if job.metric is not None and _is_number(result.get(job.metric)):
                    value = float(result[job.metric])
    except Exception as exc:  # the trial failed; its run says so and the sweep goes on
        return TrialOutcome(trial, run.id, None, f"{type(exc).__name__}: {exc}", run._record())
    return TrialOutcome(trial, run.id, value, None, run._record())


_resolved: dict[tuple[Any, ...], Settings] = {}


def _trial_settings(job: _Job) -> Settings:
    """The trials' settings, resolved (environment included) once per process and sweep."""
    from runlab._settings import Settings

    merged = {**_TRIAL_SETTINGS, **job.settings}
    try:
        key: tuple[Any, ...] | None = (os.getpid(), job.dir, tuple(sorted(merged.items())))
        hit = _resolved.get(key)  # type: ignore[arg-type]
    except TypeError:  # an unhashable setting value
        key, hit = None, None
    if hit is None:
        hit = Settings.resolve(merged, dir=job.dir)
        if key is not None:
            if len(_resolved) > 32:
                _resolved.clear()
            _resolved[key] = hit
    return hit


def _call(fn: Callable[..., Any], params: dict[str, Any]) -> Any:
    return fn(params) if _takes_params(fn) else fn(**params)


def _takes_params(fn: Callable[..., Any]) -> bool:
    try:
        return _takes_params_cached(fn)
    except TypeError:  # an unhashable callable
        return _inspect_takes_params(fn)


@functools.lru_cache(maxsize=64)
def _takes_params_cached(fn: Callable[..., Any]) -> bool:
    return _inspect_takes_params(fn)


def _inspect_takes_params(fn: Callable[..., Any]) -> bool:
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return (
        len(parameters) == 1
        and parameters[0].kind in positional
        and parameters[0].name in _ONE_ARGUMENT
    )


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _settings_dict(settings: Settings | Mapping[str, Any] | None) -> dict[str, Any]:
    if settings is None:
        return {}
    if isinstance(settings, Mapping):
        return dict(settings)
    import dataclasses

    return dataclasses.asdict(settings)


def _fspath(dir: str | os.PathLike[str] | None) -> str | None:
    return None if dir is None else os.fspath(dir)


def _warn_failures(group: str, outcomes: list[TrialOutcome]) -> None:
    failed = [o for o in outcomes if o.error is not None]
    if not failed:
        return
    lines = "".join(f"\n  {o.trial.name} ({o.run_id}): {o.error}" for o in failed)
    message = f"sweep {group}: {len(failed)} of {len(outcomes)} trials failed:{lines}"
    warnings.warn(message, RunlabWarning, stacklevel=3)


def _collection(outcomes: list[TrialOutcome], dir: str | None) -> RunCollection:
    from runlab.query._api import RunView
    from runlab.query._collection import RunCollection
    from runlab.query._load import _open_store

    store = _open_store(dir)
    return RunCollection(
        RunView(o.record or store.read_record(o.run_id), store.run_dir(o.run_id)) for o in outcomes
    )


# -- Optuna ------------------------------------------------------------------------------------


class _OptunaSource(_Source):
    """Trials asked of an Optuna study (``ask``/``tell``), the space converted to suggestions."""

    def __init__(
        self, space: Mapping[str, Any], n: int, seed: int, goal: Goal, metric: str | None
    ) -> None:
        try:
            import optuna
        except ImportError:
            raise SweepError("method='optuna' needs Optuna: pip install runlab[optuna]") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self._axes = {k: v for k, v in space.items() if isinstance(v, list)}
        self._scenario = _scenario({k: v for k, v in space.items() if k not in self._axes})
        self._suggest = {
            path: _suggestion(path, d) for path, d in self._scenario.parameters.items()
        }
        self._keys = list(space)
        sampler = optuna.samplers.TPESampler(seed=seed % 2**32)
        self._study = optuna.create_study(direction=goal, sampler=sampler)
        self._n, self._asked = n, 0
        self.planned = n
        self._metric = metric
        self._open: dict[int, Any] = {}

    def next(self, job: _Job) -> Trial | None:
        if self._asked >= self._n:
            return None
        k, self._asked = self._asked, self._asked + 1
        ask = self._study.ask()
        drawn = self._scenario._resolve({p: s(ask) for p, s in self._suggest.items()})
        for key, values in self._axes.items():
            drawn[key] = ask.suggest_categorical(key, values)
        self._open[k] = ask
        return Trial(k, f"{job.group}-{k}", {key: drawn[key] for key in self._keys})

    def report(self, outcome: TrialOutcome) -> None:
        ask = self._open.pop(outcome.trial.index)
        if outcome.error is None and outcome.value is None:
            self._study.tell(ask, state=self._optuna.trial.TrialState.FAIL)
            wanted = repr(self._metric) if self._metric else "a number"
            raise SweepError(
                f"trial {outcome.trial.name} ({outcome.run_id}) returned no value for "
                f"method='optuna': return a number, or a dict with key {wanted} (metric=)"
            )
        if outcome.error is not None or outcome.value is None or math.isnan(outcome.value):
            self._study.tell(ask, state=self._optuna.trial.TrialState.FAIL)
        else:
            self._study.tell(ask, outcome.value)


_SUGGESTED = ("uniform", "log_uniform", "randint", "categorical", "discrete")


def _suggestion(path: str, dist: Any) -> Callable[[Any], Any]:
    """The Optuna ``suggest_*`` call matching a scenario distribution."""
    args = dist.args
    if dist.shape or dist.family not in _SUGGESTED:
        listed = ", ".join(f"{n}(...)" for n in _SUGGESTED)
        raise SweepError(
            f"method='optuna' cannot search {path}: {dist.text or dist}; use one of {listed} "
            "(scalar forms, no size=) or a list of values"
        )
    if dist.family == "uniform":
        return lambda t: t.suggest_float(path, args["low"], args["high"])
    if dist.family == "log_uniform":
        return lambda t: t.suggest_float(path, args["low"], args["high"], log=True)
    if dist.family == "randint":
        return lambda t: t.suggest_int(path, args["low"], args["high"])
    if args.get("weights") is not None or args.get("probs") is not None:
        raise SweepError(
            f"method='optuna' cannot search {path}: {dist.text or dist}; Optuna's categorical "
            "suggestions have no weights, drop them"
        )
    choices = list(args["choices"] if dist.family == "categorical" else args["values"])
    return lambda t: t.suggest_categorical(path, choices)
