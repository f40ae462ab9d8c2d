"""One measurement per process: ``python bench/_measures.py NAME PARAMS_JSON OUT_JSON``.

``bench/run.py`` starts this file once per measurement so that imports, allocator state and the
writer thread of one figure never leak into the next. Each measure writes its raw numbers as JSON
to ``OUT_JSON`` (not stdout: a run with default settings tees stdout into its own log).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import _workload

Result = dict[str, Any]


def _settings(runlab: Any, defaults: bool) -> Any:
    """Default settings, or every ``capture_*`` off so that only the log path is measured."""
    if defaults:
        return None
    names = {f.name for f in dataclasses.fields(runlab.Settings)}
    off = {name: False for name in names if name.startswith("capture_")}
    return runlab.Settings(**off, **({"quiet": True} if "quiet" in names else {}))


def _init(runlab: Any, root: str, defaults: bool, name: str) -> Any:
    return runlab.init(project="bench", name=name, dir=root, settings=_settings(runlab, defaults))


def _history_bytes(run: Any) -> int:
    return (Path(run.dir) / "history.rlog").stat().st_size


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


# -- 1. caller cost of log() ------------------------------------------------------------------


def _time_floor(rows: list[dict[str, float]], n: int) -> float:
    """Seconds per call of the cheapest thing a logger can do: stamp, copy, append."""
    buf: list[tuple[int, float, dict[str, float]]] = []
    append = buf.append
    now = time.time
    mask = len(rows) - 1
    t0 = time.perf_counter()
    for step in range(n):
        append((step, now(), dict(rows[step & mask])))
    elapsed = time.perf_counter() - t0
    del buf
    return elapsed / n


def _time_log(log: Callable[..., Any], rows: list[dict[str, float]], n: int) -> float:
    """Seconds per ``log()`` call, in the same loop shape as :func:`_time_floor`."""
    mask = len(rows) - 1
    t0 = time.perf_counter()
    for step in range(n):
        log(rows[step & mask])
    return (time.perf_counter() - t0) / n


def log_cost(p: Result) -> Result:
    import runlab

    rows = [dict(zip(_workload.KEYS, r, strict=True)) for r in _row_pool(1024)]
    floor: list[float] = []
    sdk: list[float] = []
    finish: list[float] = []
    threads = 0
    for rep in range(p["repeats"]):
        floor.append(_time_floor(rows, p["calls"]))
        gc.collect()
        run = _init(runlab, p["root"], p["defaults"], f"log-cost-{rep}")
        threads = threading.active_count()
        sdk.append(_time_log(run.log, rows, p["calls"]))
        t0 = time.perf_counter()
        run.finish()
        finish.append(time.perf_counter() - t0)
        gc.collect()
    return {
        "calls": p["calls"],
        "repeats": p["repeats"],
        "defaults": p["defaults"],
        "floor_s": statistics.median(floor),
        "log_s": statistics.median(sdk),
        "floor_all_s": floor,
        "log_all_s": sdk,
        "finish_s": finish,
        "threads_while_running": threads,
        "diagnosis": _diagnose_log(runlab, rows, p),
    }


class _GcClock:
    """Counts collections per generation and the time they take (a ``gc.callbacks`` hook)."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.count[info["generation"]] += 1
            self.seconds[info["generation"]] += time.perf_counter() - self._t0

    def per_call_us(self, calls: int) -> dict[str, Any]:
        return {"collections": self.count, "us_per_call": sum(self.seconds) / calls * 1e6}


def _diagnose_log(runlab: Any, rows: list[dict[str, float]], p: Result) -> Result:
    """One extra repeat, not part of the figure: where the caller's time goes.

    The garbage collector's share (both loops allocate, the SDK's writer too), and the CPU time
    of the SDK's own threads per call, which the caller pays for through the GIL.
    """
    n = p["calls"]
    floor_clock, log_clock = _GcClock(), _GcClock()
    gc.collect()
    with _gc_clock(floor_clock):
        _time_floor(rows, n)
    gc.collect()
    cpu_before = _thread_cpu()
    with _gc_clock(log_clock):
        run = _init(runlab, p["root"], p["defaults"], "log-cost-diagnosis")
        _time_log(run.log, rows, n)
    cpu_after = _thread_cpu()
    run.finish()
    return {
        "floor_gc": floor_clock.per_call_us(n),
        "log_gc": log_clock.per_call_us(n),
        "sdk_thread_cpu_us_per_call": {
            name: (cpu - cpu_before.get(name, 0.0)) / n * 1e6 for name, cpu in cpu_after.items()
        },
    }


@contextlib.contextmanager
def _gc_clock(clock: _GcClock) -> Iterator[None]:
    gc.callbacks.append(clock)
    try:
        yield
    finally:
        gc.callbacks.remove(clock)


def _thread_cpu() -> dict[str, float]:
    """CPU seconds so far of every thread but the main one, by thread name."""
    import psutil

    names = {t.native_id: t.name for t in threading.enumerate()}
    main = threading.main_thread().native_id
    return {
        names.get(t.id, str(t.id)): t.user_time + t.system_time
        for t in psutil.Process().threads()
        if t.id != main
    }


def _row_pool(n: int) -> list[tuple[float, ...]]:
    cols = _workload.training_columns(n)
    return list(zip(*(cols[k].tolist() for k in _workload.KEYS), strict=True))


# -- 2. sustained ingest ----------------------------------------------------------------------


def ingest(p: Result) -> Result:
    import runlab
    from runlab.storage._reader import read_series

    rows = _workload.wide_rows(p["width"])
    mask = len(rows) - 1
    calls = max(1, p["points"] // p["width"])
    total: list[float] = []
    drain: list[float] = []
    for rep in range(p["repeats"]):
        gc.collect()
        run = _init(runlab, p["root"], False, f"ingest-{p['width']}-{rep}")
        log = run.log
        t0 = time.perf_counter()
        for step in range(calls):
            log(rows[step & mask])
        t1 = time.perf_counter()
        run.finish()
        t2 = time.perf_counter()
        total.append(t2 - t0)
        drain.append(t2 - t1)
        # Not timed: prove the points reached the log, so the rate is of durable data.
        first = next(iter(rows[0]))
        got = len(read_series(Path(run.dir), [first])[first].values)
        if got != calls:
            raise RuntimeError(f"ingest wrote {got} points of {first!r}, expected {calls}")
    seconds = statistics.median(total)
    return {
        "width": p["width"],
        "calls": calls,
        "points": calls * p["width"],
        "seconds": seconds,
        "points_per_s": calls * p["width"] / seconds,
        "finish_drain_s": statistics.median(drain),
        "all_s": total,
    }


# -- 3. import time ---------------------------------------------------------------------------


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


HEAVY = ("polars", "numpy", "sqlalchemy", "fastapi", "pydantic", "httpx", "yaml", "typer", "rich")


def import_time(p: Result) -> Result:
    py = sys.executable
    bare_cmd = [py, "-c", "pass"]
    import_cmd = [py, "-c", "import runlab"]
    _wall(bare_cmd)  # warm the page cache for both
    _wall(import_cmd)
    bare: list[float] = []
    raw: list[float] = []
    for _ in range(p["repeats"]):
        bare.append(_wall(bare_cmd))
        raw.append(_wall(import_cmd))
    probe = f"import sys, runlab; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([py, "-c", probe], capture_output=True, text=True, check=True)
    traced = subprocess.run(
        [py, "-X", "importtime", "-c", "import runlab"], capture_output=True, text=True, check=True
    )
    return {
        "repeats": p["repeats"],
        "bare_s": statistics.median(bare),
        "raw_s": statistics.median(raw),
        "net_s": statistics.median(raw) - statistics.median(bare),
        "heavy_modules_loaded": [m for m in loaded.stdout.strip().split(",") if m],
        "top_packages_self_ms": _importtime_by_package(traced.stderr),
    }


def _importtime_by_package(trace: str, top: int = 8) -> dict[str, float]:
    """Sum ``-X importtime`` self times per top-level package, largest first."""
    per: dict[str, float] = {}
    for line in trace.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, _, name = (part.strip() for part in line[len("import time:") :].split("|"))
        pkg = name.split(".")[0]
        per[pkg] = per.get(pkg, 0.0) + int(self_us) / 1000
    ranked = sorted(per.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return {k: round(v, 2) for k, v in ranked}


# -- 4 and 5. init / finish with a long history, bytes per point ------------------------------


def lifecycle(p: Result) -> Result:
    import runlab

    calls = p["points"] // len(_workload.KEYS)
    rows = _workload.training_rows(calls)
    first = next(rows)
    t0 = time.perf_counter()
    run = _init(runlab, p["root"], p["defaults"], "lifecycle")
    t1 = time.perf_counter()
    log = run.log
    log(first)
    for row in rows:
        log(row)
    t2 = time.perf_counter()
    run.finish()
    t3 = time.perf_counter()
    history = _history_bytes(run)
    return {
        "defaults": p["defaults"],
        "calls": calls,
        "points": calls * len(_workload.KEYS),
        "init_s": t1 - t0,
        "log_loop_s": t2 - t1,
        "finish_s": t3 - t2,
        "history_bytes": history,
        "run_dir_bytes": _dir_bytes(run.dir),
        "bytes_per_point": history / (calls * len(_workload.KEYS)),
    }


# -- 6. read one key's full history -----------------------------------------------------------


def write_history(p: Result) -> Result:
    """Set-up for :func:`read`: a run of ``steps`` steps of the five training keys."""
    import runlab

    run = _init(runlab, p["root"], False, "read")
    log = run.log
    for row in _workload.training_rows(p["steps"]):
        log(row)
    run.finish()
    return {"run_id": run.id, "run_dir": str(run.dir), "history_bytes": _history_bytes(run)}


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def read(p: Result) -> Result:
    import numpy  # noqa: F401  (the reader's dependencies are not what is measured)
    import polars  # noqa: F401

    import runlab
    from runlab.storage._reader import read_series

    def via_api() -> int:
        return len(runlab.Api(p["root"]).run(p["run_id"]).history(["loss"])["loss"])

    def via_series() -> int:
        return len(read_series(Path(p["run_dir"]), ["loss"])["loss"].values)

    out: Result = {"steps": p["steps"]}
    for name, fn in (("api", via_api), ("read_series", via_series)):
        first_s, n = _timed(fn)
        warm = [_timed(fn)[0] for _ in range(p["repeats"])]
        if n != p["steps"]:
            raise RuntimeError(f"{name} read {n} points of 'loss', expected {p['steps']}")
        out[f"{name}_first_s"] = first_s
        out[f"{name}_warm_s"] = statistics.median(warm)
    return out


# -- 7. resident memory -----------------------------------------------------------------------


def memory(p: Result) -> Result:
    import psutil

    proc = psutil.Process()
    width = p["width"]
    calls = p["points"] // width
    rows = _training_or_wide(calls, width)
    first = next(rows)  # the generator's working set belongs to the "training loop", not the SDK
    gc.collect()
    before_import = proc.memory_info().rss
    import runlab

    gc.collect()
    before_init = proc.memory_info().rss
    run = _init(runlab, p["root"], True, "memory")
    log = run.log
    log(first)
    peak = before_init
    every = max(1, 10_000 // (1 + width // 10))
    for i, row in enumerate(rows, 1):
        log(row)
        if i % every == 0:
            peak = max(peak, proc.memory_info().rss)
    end = proc.memory_info().rss
    peak = max(peak, end)
    run.finish()
    gc.collect()
    after_finish = proc.memory_info().rss
    mb = 1024 * 1024
    return {
        "width": width,
        "points": calls * width,
        "import_mb": (before_init - before_import) / mb,
        "added_mb": (end - before_init) / mb,
        "peak_added_mb": (peak - before_init) / mb,
        "after_finish_added_mb": (after_finish - before_init) / mb,
        "rss_before_import_mb": before_import / mb,
    }


def _training_or_wide(calls: int, width: int) -> Iterator[dict[str, float]]:
    """The training keys, or ``width`` keys with fresh float objects in every payload."""
    if width == len(_workload.KEYS):
        yield from _workload.training_rows(calls)
        return
    pool = _workload.wide_rows(width)
    for i in range(calls):
        # A training loop builds new floats every step; reusing the pool's would hide their cost.
        yield {k: v * 1.000001 for k, v in pool[i % len(pool)].items()}


# -- warm-up ----------------------------------------------------------------------------------


def warmup(p: Result) -> Result:
    """Touch every code path once so its bytecode is cached before anything is timed."""
    import psutil  # noqa: F401

    import runlab
    from runlab.storage._reader import read_series

    for defaults in (True, False):
        run = _init(runlab, p["root"], defaults, "warmup")
        for row in _workload.training_rows(100):
            run.log(row)
        run.finish()
    runlab.Api(p["root"]).run(run.id).history(["loss"])
    read_series(Path(run.dir), ["loss"])
    return {}


EPISODE_SCENARIO = {
    **{f"joint{i}": f"${{uniform({-i}, {i + 1})}}" for i in range(8)},
    **{f"mass{i}": f"${{gaussian({i + 1}, 0.1)}}" for i in range(4)},
    "friction": "${truncated_gaussian(0.8, 0.3, 0.1, 1.5)}",
    "lr": "${log_uniform(0.0001, 0.1)}",
    "arm": "${categorical(['ur5', 'panda', 'kuka'])}",
    "batch": "${discrete(3, [32, 64, 128], [0.3, 0.5, 0.2])}",
    "noise": "${bernoulli(0.1)}",
    "steps": "${randint(10, 100)}",
    "goal": "${uniform_3d([-1, -1, 0], [1, 1, 1])}",
    "light": "${gaussian(0, 1, size=3)}",
}


def episode(p: Result) -> Result:
    """Seconds per ``create_episode()`` + sampling + ``finish()`` with a 20-parameter scenario
    (median of 3 fresh runs, each after 50 warm-up episodes)."""
    import runlab

    assert len(EPISODE_SCENARIO) == 20
    n = p["episodes"]
    per: list[float] = []
    for repeat in range(p.get("repeats", 3)):
        run = runlab.init(
            project="bench",
            dir=p["root"],
            scenario=EPISODE_SCENARIO,
            seed=7 + repeat,
            settings=_settings(runlab, defaults=False),
        )
        create = run.create_episode
        for _ in range(min(50, n)):  # warm-up: imports, caches
            create().finish()
        t0 = time.perf_counter()
        for _ in range(n):
            ep = create()
            ep.finish()
        per.append((time.perf_counter() - t0) / n)
        scenario = run.scenario
        run.finish()
    t0 = time.perf_counter()
    for k in range(n):
        scenario.sample_episode(99, k)
    sample = (time.perf_counter() - t0) / n
    return {"per_episode_s": statistics.median(per), "all_s": per, "sample_s": sample}


# -- 9. many runs: list, tabulate, filter, group -------------------------------------------------


_OPTIMIZERS = ("adam", "sgd", "rmsprop")


def _write_runs(root: str, n: int) -> None:
    """``n`` finished runs with 20 config keys (3 nested) and 5 summary keys, written as
    ``run.json`` files directly: the SDK's own start-up is not what is measured."""
    from runlab.storage._layout import RunRecord
    from runlab.storage.testing import write_run

    for i in range(n):
        config: dict[str, Any] = {f"k{j}": (i * j) % 7 for j in range(15)}
        config["lr"] = 10.0 ** -(i % 5)
        config["optimizer"] = _OPTIMIZERS[i % 3]
        config["model"] = {"depth": i % 4, "width": 64 * (i % 3 + 1), "act": "relu"}
        summary = {
            "loss": 1.0 / (i + 1),
            "accuracy": (i % 100) / 100,
            "val_loss": 0.5 + (i % 10) / 100,
            "epochs": 10,
            "best_step": i % 50,
        }
        record = RunRecord(
            id=f"r{i:06d}",
            project="bench",
            name=f"run-{i}",
            status="finished",
            created_at=1.7e9 + i,
            ended_at=1.7e9 + i + 60.0,
            config=config,
            summary=summary,
        )
        write_run(root, record)


def collection(p: Result) -> Result:
    """Warm ``runlab.runs(dir)`` + ``to_frame()``, and ``filter`` + ``group_by().agg()``."""
    import runlab

    root, n = p["root"], p["runs"]
    t0 = time.perf_counter()
    _write_runs(root, n)
    write_s = time.perf_counter() - t0
    first_s, rc = _timed(lambda: runlab.runs(dir=root))  # indexes every run.json once
    if len(rc) != n:
        raise RuntimeError(f"runlab.runs() listed {len(rc)} runs, expected {n}")

    def query() -> Any:
        picked = rc.filter(optimizer=["adam", "sgd"], lr=(1e-4, 1e-1))
        return picked.group_by("optimizer", "model.depth").agg("lr", n=len)

    lists, frames, queries = [], [], []
    for _ in range(p["repeats"]):
        list_s, rc = _timed(lambda: runlab.runs(dir=root))
        frame_s, frame = _timed(rc.to_frame)
        lists.append(list_s)
        frames.append(list_s + frame_s)
        queries.append(_timed(query)[0])
    if frame.shape != (n, 6 + 20 + 5):
        raise RuntimeError(f"to_frame() has shape {frame.shape}, expected {(n, 31)}")
    return {
        "runs": n,
        "write_s": write_s,
        "first_s": first_s,
        "list_warm_s": statistics.median(lists),
        "frame_warm_s": statistics.median(frames),
        "query_warm_s": statistics.median(queries),
    }


# -- 10. launching a grid: one fresh subprocess and one run per variant ---------------------------


def _noop_variant(seed: int, logger_kwargs: dict[str, str]) -> None:
    """A trivial experiment: only the launch itself costs anything."""


def grid_launch(p: Result) -> Result:
    """``ExperimentGrid.run(noop, parallel=P)`` over ``n`` variants, each in a fresh process."""
    import os

    import runlab

    os.environ["RUNLAB_DIR"] = p["root"]
    os.environ["RUNLAB_DATA_DIR"] = os.path.join(p["root"], "data")
    grid = runlab.ExperimentGrid("bench")
    grid.add("seed", list(range(p["variants"])))
    wall_s, runs = _timed(lambda: grid.run(_noop_variant, parallel=p["parallel"]))
    if [str(r.status) for r in runs] != ["finished"] * p["variants"]:
        raise RuntimeError(f"grid.run() recorded {len(runs)} runs, not all finished")
    return {"variants": p["variants"], "parallel": p["parallel"], "wall_s": wall_s}


# -- 11. in-process sweep trials: one run per call of a no-op function -------------------------


def _noop_trial(x: int) -> None:
    """A trivial trial: only the run around it costs anything."""


def sweep_trials(p: Result) -> Result:
    """``runlab.sweep.sweep(noop, {"x": range(n)})``: trials per second, every run recorded."""
    from runlab.sweep import sweep

    off = {"capture_git": False, "capture_env": False, "capture_packages": False}
    settings = None if p["defaults"] else off
    n = p["trials"]
    sweep(_noop_trial, {"x": [0]}, dir=p["root"], name="warm", settings=settings)
    walls = []
    for _ in range(p.get("repeats", 5)):  # median of several sweeps: one is a fraction of a second
        wall_s, runs = _timed(
            lambda: sweep(_noop_trial, {"x": list(range(n))}, dir=p["root"], settings=settings)
        )
        if [str(r.status) for r in runs] != ["finished"] * n:
            raise RuntimeError(f"sweep() recorded {len(runs)} runs, not all finished")
        walls.append(wall_s)
    return {"trials": n, "defaults": p["defaults"], "wall_s": statistics.median(walls)}


# -- 12. the system-metrics sampler's CPU cost --------------------------------------------------


def system_metrics(p: Result) -> Result:
    """CPU seconds per system-metrics sample: timed in this thread over many quick samples, and
    on the real sampler thread of a run sampling every ``interval`` seconds for ``run_s``."""
    import runlab
    from runlab.system._metrics import _Sources

    Path(p["root"]).mkdir(parents=True, exist_ok=True)  # its disk's free space is a reading
    sources = _Sources(p["root"])
    for _ in range(5):
        sources.read()  # first calls import and cache what psutil needs
    n = p["samples"]
    c0 = time.thread_time()
    for _ in range(n):
        values = sources.read()
    per_sample_s = (time.thread_time() - c0) / n
    sources.close()

    settings = {"system_metrics_interval": p["interval"], "quiet": True, "capture_output": False}
    run = runlab.init(project="bench", name="system", dir=p["root"], settings=settings)
    system = run._system
    time.sleep(0.3)  # settled and primed: what follows is sampling only
    before, samples_before = _thread_cpu().get("runlab-system", 0.0), system.samples
    time.sleep(p["run_s"])
    after, samples_after = _thread_cpu().get("runlab-system", 0.0), system.samples
    run.finish()
    return {
        "keys": len(values),
        "per_sample_s": per_sample_s,
        "thread_samples": samples_after - samples_before,
        "thread_cpu_s": after - before,
    }


# -- 13. the web server: the runs table of 10,000 runs and a 10 M-point chart ------------------


def ui_setup(p: Result) -> Result:
    """Set-up for :func:`ui_serve`: ``runs`` finished runs and one run of ``points`` points of
    one key (with one spike), indexed once as ``runlab ui`` finds an existing store."""
    import math

    import runlab
    from runlab.storage._store import RunStore

    root = p["root"]
    _write_runs(root, p["runs"])
    settings = {
        "quiet": True,
        "capture_output": False,
        "capture_git": False,
        "capture_env": False,
        "capture_packages": False,
        "system_metrics_interval": 0,
    }
    run = runlab.init(project="big", name="big", dir=root, settings=settings)
    log, n = run.log, p["points"]
    spike = n // 3
    for i in range(n):
        log({"loss": math.sin(i * 1e-3) + (50.0 if i == spike else 0.0)})
    run.finish()
    store = RunStore(root)
    store.sync(full=True)
    store.close()
    return {"run_id": run.id, "history_bytes": _history_bytes(run)}


def _serve(root: str) -> tuple[subprocess.Popen[str], str]:
    """``runlab ui`` on ``root`` in a child process (port 0), and the URL it prints."""
    code = f"from runlab.server import serve; serve({root!r}, port=0)"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if " at http://" in line:
            return proc, line.split(" at ", 1)[1].strip()
    raise RuntimeError(f"the server did not start (exit {proc.wait()})")


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (``VmHWM``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6
    return float("nan")  # pragma: no cover - Linux only


def ui_serve(p: Result) -> Result:
    """Request timings against a real ``runlab ui`` process over HTTP, and its memory."""
    import httpx
    import psutil

    proc, url = _serve(p["root"])
    try:
        client = httpx.Client(base_url=url.rstrip("/"), timeout=60)
        server = psutil.Process(proc.pid)
        idle_mb = server.memory_info().rss / 1e6

        def get(path: str, **params: Any) -> float:
            t0 = time.perf_counter()
            response = client.get(path, params=params)
            elapsed = time.perf_counter() - t0
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} {params}: {response.status_code} {response.text}")
            return elapsed

        table = "/api/projects/bench/runs"
        query = {"filter": 'lr >= 1e-3 and optimizer == "adam"', "sort": "summary.loss"}
        chart = f"/api/runs/{p['run_id']}/series"
        out: Result = {"runs": p["runs"], "points": p["points"], "idle_mb": idle_mb}
        out["table_first_s"] = get(table)
        out["table_s"] = statistics.median(get(table) for _ in range(p["repeats"]))
        out["table_query_s"] = statistics.median(get(table, **query) for _ in range(p["repeats"]))
        out["groups_s"] = statistics.median(
            get("/api/projects/bench/groups", by="optimizer") for _ in range(p["repeats"])
        )
        out["table_mb"] = server.memory_info().rss / 1e6
        out["chart_cold_s"] = get(chart, key="loss", width=1000)  # decodes the key
        out["chart_warm_s"] = statistics.median(
            get(chart, key="loss", width=1000) for _ in range(p["repeats"])
        )
        out["chart_zoom_s"] = statistics.median(
            get(chart, key="loss", width=1000, x_min=p["points"] // 4, x_max=p["points"] // 2)
            for _ in range(p["repeats"])
        )
        out["metrics_s"] = get(f"/api/runs/{p['run_id']}/metrics")
        # Wall-time axis: the key decoded again with its timestamps (the worst case for memory).
        out["chart_time_s"] = get(chart, key="loss", width=1000, x="time")
        out["rss_mb"] = server.memory_info().rss / 1e6
        out["peak_rss_mb"] = _peak_rss_mb(proc.pid)
        body = client.get(chart, params={"key": "loss", "width": 1000}).json()
        if body["total"] != p["points"] or max(y for y in body["y"] if y is not None) < 45.0:
            raise RuntimeError("the downsampled chart lost the spike")
        client.close()
    finally:
        proc.terminate()
        proc.wait(10)
    # More first requests, each on a fresh server: a cold chart decodes the key from the log.
    colds = [out["chart_cold_s"]]
    for _ in range(p["cold_repeats"] - 1):
        proc, url = _serve(p["root"])
        try:
            with httpx.Client(base_url=url.rstrip("/"), timeout=60) as fresh:
                # The run page comes first (as in the app): the chart is then the first read
                # of the key, not the server's first request.
                fresh.get(f"/api/runs/{p['run_id']}").raise_for_status()
                t0 = time.perf_counter()
                fresh.get(chart, params={"key": "loss", "width": 1000}).raise_for_status()
                colds.append(time.perf_counter() - t0)
        finally:
            proc.terminate()
            proc.wait(10)
    out["chart_cold_s"] = statistics.median(colds)
    out["chart_colds_s"] = colds
    return out


MEASURES: dict[str, Callable[[Result], Result]] = {
    "warmup": warmup,
    "log_cost": log_cost,
    "ingest": ingest,
    "import_time": import_time,
    "lifecycle": lifecycle,
    "write_history": write_history,
    "read": read,
    "memory": memory,
    "episode": episode,
    "collection": collection,
    "grid_launch": grid_launch,
    "sweep_trials": sweep_trials,
    "ui_setup": ui_setup,
    "ui_serve": ui_serve,
    "system_metrics": system_metrics,
}


def main(argv: list[str]) -> None:
    name, params, out = argv
    result = MEASURES[name](json.loads(params))
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
