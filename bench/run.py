"""runlab's performance budget, measured and checked in one run.

Usage::

    python bench/run.py [--quick | --smoke] [--json PATH] [--peers] [--only NAME ...] [--keep]

Prints one table -- figure, value, budget, verdict -- for the budget in DESIGN.md. Every measure
runs in its own Python process (``bench/_measures.py``) against the ``src/`` of this checkout;
runs are written to a fresh temporary store that is deleted afterwards unless ``--keep``.
See ``bench/README.md`` for what each figure means and how it is taken.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

SIZES: dict[str, dict[str, int]] = {
    "full": {
        "log_calls": 200_000,
        "log_repeats": 3,
        "ingest_points": 4_000_000,
        "ingest_repeats": 3,
        "import_repeats": 5,
        "lifecycle_points": 1_000_000,
        "lifecycle_repeats": 3,
        "read_steps": 1_000_000,
        "read_repeats": 5,
        "memory_points": 2_000_000,
        "memory_wide_points": 6_000_000,
        "peer_calls": 20_000,
        "episodes": 5_000,
        "collection_runs": 10_000,
        "collection_repeats": 5,
        "grid_variants": 40,
        "sweep_trials": 300,
        "ui_runs": 10_000,
        "ui_points": 10_000_000,
        "ui_repeats": 7,
        "ui_cold_repeats": 3,
        "system_samples": 2_000,
        "system_run_ms": 3_000,
    },
    "quick": {
        "log_calls": 20_000,
        "log_repeats": 3,
        "ingest_points": 1_000_000,
        "ingest_repeats": 1,
        "import_repeats": 5,
        "lifecycle_points": 1_000_000,
        "lifecycle_repeats": 1,
        "read_steps": 200_000,
        "read_repeats": 5,
        "memory_points": 1_000_000,
        "memory_wide_points": 3_000_000,
        "peer_calls": 5_000,
        "episodes": 1_000,
        "collection_runs": 10_000,
        "collection_repeats": 3,
        "grid_variants": 20,
        "sweep_trials": 50,
        "ui_runs": 10_000,
        "ui_points": 10_000_000,
        "ui_repeats": 5,
        "ui_cold_repeats": 1,
        "system_samples": 500,
        "system_run_ms": 2_000,
    },
    "smoke": {
        "log_calls": 2_000,
        "log_repeats": 1,
        "ingest_points": 2_000,
        "ingest_repeats": 1,
        "import_repeats": 1,
        "lifecycle_points": 2_000,
        "lifecycle_repeats": 1,
        "read_steps": 2_000,
        "read_repeats": 1,
        "memory_points": 2_000,
        "memory_wide_points": 2_000,
        "peer_calls": 200,
        "episodes": 50,
        "collection_runs": 200,
        "collection_repeats": 1,
        "grid_variants": 4,
        "sweep_trials": 5,
        "ui_runs": 200,
        "ui_points": 20_000,
        "ui_repeats": 1,
        "ui_cold_repeats": 1,
        "system_samples": 50,
        "system_run_ms": 300,
    },
}

MEASURE_NAMES = (
    "log",
    "ingest",
    "import",
    "lifecycle",
    "read",
    "memory",
    "episode",
    "collection",
    "grid",
    "sweep",
    "system_metrics",
    "ui",
)


@dataclass
class Figure:
    """One row of the table (and of the JSON ``figures`` list)."""

    id: str
    figure: str
    value: float | None
    unit: str
    shown: str
    budget: float | None = None
    op: str | None = None  # "<=" or ">=" against ``budget``; None for information rows
    ratio: float | None = None  # value / budget
    ok: bool | None = None
    note: str = ""

    @property
    def budget_shown(self) -> str:
        if self.budget is None:
            return "—"
        sep = "" if self.unit.startswith("×") else " "
        return f"{'≤' if self.op == '<=' else '≥'} {self.budget:g}{sep}{self.unit}"

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "FAILED"
        if self.ok is None:
            return self.note or "info"
        word = "ok" if self.ok else ("OVER" if self.op == "<=" else "SHORT")
        extra = f"  ({self.note})" if self.note else ""
        return f"{self.ratio:.2f}× budget  {word}{extra}"


def judged(
    fid: str,
    figure: str,
    value: float,
    unit: str,
    shown: str,
    op: str,
    budget: float,
    note: str = "",
) -> Figure:
    """A row checked against its budget: ``value op budget`` must hold."""
    ok = value <= budget if op == "<=" else value >= budget
    return Figure(fid, figure, value, unit, shown, budget, op, value / budget, ok, note)


def info(fid: str, figure: str, value: float, unit: str, shown: str, note: str = "info") -> Figure:
    """A row reported for context, with no budget."""
    return Figure(fid, figure, value, unit, shown, note=note)


def _n(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1e6:g}M"
    return f"{count / 1e3:g}k" if count >= 1000 else str(count)


# -- running one measure ----------------------------------------------------------------------


class MeasureFailed(RuntimeError):
    pass


def _env(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["RUNLAB_SILENT"] = "1"
    # Time imports as an installed package has them: compiled once, then read from bytecode.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "src"), env.get("PYTHONPATH", "")) if p
    )
    return env


def measure(name: str, params: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Run ``bench/_measures.py NAME`` in a fresh interpreter and return its JSON result."""
    out = workdir / f"result-{name}-{time.monotonic_ns()}.json"
    cpu_before = _cpu_times()
    proc = subprocess.run(
        [sys.executable, str(BENCH / "_measures.py"), name, json.dumps(params), str(out)],
        cwd=REPO,
        env=_env(workdir),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 or not out.exists():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
        raise MeasureFailed(f"{name} exited {proc.returncode}:\n{tail}")
    result: dict[str, Any] = json.loads(out.read_text())
    result["cpu_steal"] = _steal_since(cpu_before)
    return result


def _cpu_times() -> tuple[int, int] | None:
    """(all, stolen) CPU ticks from ``/proc/stat``; None where there is no such file."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(fields), fields[7] if len(fields) > 7 else 0


def _steal_since(before: tuple[int, int] | None) -> float | None:
    """Share of CPU time a hypervisor took from this machine since ``before``.

    On a shared virtual machine this, more than anything in runlab, decides how noisy a figure is.
    """
    after = _cpu_times()
    if before is None or after is None or after[0] == before[0]:
        return None
    return (after[1] - before[1]) / (after[0] - before[0])


def _median_of(runs: list[dict[str, Any]], key: str) -> float:
    values = sorted(r[key] for r in runs)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


# -- the figures ------------------------------------------------------------------------------


def fig_log(size: dict[str, int], root: str, work: Path, raw: dict[str, Any]) -> list[Figure]:
    figures = []
    for defaults in (False, True):
        params = {"calls": size["log_calls"], "repeats": size["log_repeats"], "root": root}
        r = measure("log_cost", {**params, "defaults": defaults}, work)
        raw["log_cost_defaults" if defaults else "log_cost"] = r
        us, floor_us = r["log_s"] * 1e6, r["floor_s"] * 1e6
        if not defaults:
            name = f"log() floor: buf.append ({_n(r['calls'])} calls)"
            figures.append(info("log_floor_us", name, floor_us, "µs", f"{floor_us:.2f} µs/call"))
        figures.append(
            judged(
                "log_ratio_defaults" if defaults else "log_ratio",
                f"log() caller cost, {'defaults' if defaults else 'capture off'}",
                us / floor_us,
                "× floor",
                f"{us:.2f} µs/call = {us / floor_us:.2f}× floor",
                "<=",
                2.5,
            )
        )
        if not defaults:
            diag = r["diagnosis"]
            threads_us = sum(diag["sdk_thread_cpu_us_per_call"].values())
            shown = (
                f"GC {diag['log_gc']['us_per_call']:.2f} µs/call "
                f"(floor's {diag['floor_gc']['us_per_call']:.2f}), "
                f"SDK threads' CPU {threads_us:.2f} µs/call"
            )
            figures.append(
                info("log_breakdown", "log() where the time goes", threads_us, "µs", shown)
            )
    return figures


def fig_ingest(size: dict[str, int], root: str, work: Path, raw: dict[str, Any]) -> list[Figure]:
    figures = []
    for width in (100, 5):
        params = {"width": width, "points": size["ingest_points"], "root": root}
        r = measure("ingest", {**params, "repeats": size["ingest_repeats"]}, work)
        raw[f"ingest_{width}"] = r
        rate = r["points_per_s"] / 1e6
        args = (
            f"ingest_{width}_mpts",
            f"ingest, {width} floats/call ({_n(r['points'])} pts)",
            rate,
            "M points/s",
            f"{rate:.2f} M points/s",
        )
        figures.append(judged(*args, ">=", 2.0) if width == 100 else info(*args))
    return figures


def fig_import(size: dict[str, int], root: str, work: Path, raw: dict[str, Any]) -> list[Figure]:
    r = raw["import_time"] = measure("import_time", {"repeats": size["import_repeats"]}, work)
    net, bare, total = r["net_s"] * 1e3, r["bare_s"] * 1e3, r["raw_s"] * 1e3
    heavy = ", ".join(r["heavy_modules_loaded"]) or "none"
    return [
        judged("import_net_ms", "import runlab (net)", net, "ms", f"{net:.1f} ms", "<=", 100.0),
        info(
            "import_raw_ms",
            "import runlab (raw process)",
            total,
            "ms",
            f"{total:.1f} ms (bare python {bare:.1f} ms)",
            f"heavy modules loaded: {heavy}",
        ),
    ]


def fig_lifecycle(size: dict[str, int], root: str, work: Path, raw: dict[str, Any]) -> list[Figure]:
    runs: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    for _ in range(size["lifecycle_repeats"]):
        for defaults in (True, False):
            params = {"points": size["lifecycle_points"], "root": root, "defaults": defaults}
            runs[defaults].append(measure("lifecycle", params, work))
    raw["lifecycle_defaults"], raw["lifecycle_capture_off"] = runs[True], runs[False]
    short = raw["lifecycle_short"] = measure(
        "lifecycle", {"points": 500, "root": root, "defaults": True}, work
    )
    short_ms = short["finish_s"] * 1e3
    pts = _n(runs[True][0]["points"])
    init_ms = _median_of(runs[True], "init_s") * 1e3
    init_off_ms = _median_of(runs[False], "init_s") * 1e3
    finish_ms = _median_of(runs[True], "finish_s") * 1e3
    bpp = _median_of(runs[True], "bytes_per_point")
    run_dir = f"whole run dir {runs[True][-1]['run_dir_bytes'] / 1024:.0f} KiB"
    return [
        judged("init_ms", "init(), defaults", init_ms, "ms", f"{init_ms:.1f} ms", "<=", 30.0),
        info("init_off_ms", "init(), capture off", init_off_ms, "ms", f"{init_off_ms:.1f} ms"),
        judged(
            "finish_ms",
            f"finish() after {pts} points",
            finish_ms,
            "ms",
            f"{finish_ms:.1f} ms",
            "<=",
            250.0,
        ),
        info(
            "finish_short_ms",
            "finish() of a 100-step run, defaults",
            short_ms,
            "ms",
            f"{short_ms:.1f} ms",
            "info (waits for environment capture)",
        ),
        judged(
            "bytes_per_point",
            f"disk per scalar point ({pts} pts)",
            bpp,
            "B",
            f"{bpp:.2f} B/point",
            "<=",
            10.0,
            run_dir,
        ),
    ]


def fig_read(size: dict[str, int], root: str, work: Path, raw: dict[str, Any]) -> list[Figure]:
    made = measure("write_history", {"steps": size["read_steps"], "root": root}, work)
    params = {**made, "steps": size["read_steps"], "root": root, "repeats": size["read_repeats"]}
    r = measure("read", params, work)
    raw["read"] = {**made, **r}
    pts = _n(size["read_steps"])
    figures = []
    for key, label in (("api", "Api().run().history(['loss'])"), ("read_series", "read_series")):
        warm, first = r[f"{key}_warm_s"] * 1e3, r[f"{key}_first_s"] * 1e3
        shown = f"{warm:.1f} ms warm (first {first:.1f})"
        name = f"read {pts}-pt key, {label}"
        figures.append(judged(f"read_{key}_ms", name, warm, "ms", shown, "<=", 50.0))
    return figures


def fig_memory(size: dict[str, int], root: str, work: Path, raw: dict[str, Any]) -> list[Figure]:
    figures = []
    for width, points in ((5, size["memory_points"]), (100, size["memory_wide_points"])):
        params = {"points": points, "width": width, "root": root}
        r = raw[f"memory_{width}"] = measure("memory", params, work)
        added, peak = r["added_mb"], r["peak_added_mb"]
        figures.append(
            judged(
                f"memory_{width}_added_mb",
                f"SDK resident memory, {width} floats/call ({_n(r['points'])} pts)",
                added,
                "MB",
                f"{added:.1f} MB (peak {peak:.1f})",
                "<=",
                40.0,
            )
        )
    imp = raw["memory_5"]["import_mb"]
    figures.append(
        info("memory_import_mb", "import runlab resident memory", imp, "MB", f"{imp:.1f} MB")
    )
    return figures


def fig_episode(size: dict[str, int], root: str, work: Path, raw: dict[str, Any]) -> list[Figure]:
    r = measure("episode", {"episodes": size["episodes"], "root": root}, work)
    raw["episode"] = r
    us = r["per_episode_s"] * 1e6
    shown = f"{us:.1f} µs/episode (sample alone {r['sample_s'] * 1e6:.1f} µs)"
    name = "episode create+sample+finish, 20 params"
    return [judged("episode_us", name, us, "µs", shown, "<=", 50.0)]


def fig_collection(
    size: dict[str, int], root: str, work: Path, raw: dict[str, Any]
) -> list[Figure]:
    params = {
        "runs": size["collection_runs"],
        "repeats": size["collection_repeats"],
        "root": str(work / "collection"),
    }
    r = raw["collection"] = measure("collection", params, work)
    n = _n(r["runs"])
    frame_ms, query_ms = r["frame_warm_s"] * 1e3, r["query_warm_s"] * 1e3
    listed = (
        f"{frame_ms:.1f} ms warm (list {r['list_warm_s'] * 1e3:.1f}, first {r['first_s']:.2f} s)"
    )
    return [
        judged(
            "collection_frame_ms",
            f"runlab.runs() + to_frame(), {n} runs",
            frame_ms,
            "ms",
            listed,
            "<=",
            300.0,
        ),
        judged(
            "collection_query_ms",
            f"filter + group_by().agg(), {n} runs",
            query_ms,
            "ms",
            f"{query_ms:.1f} ms warm",
            "<=",
            100.0,
        ),
    ]


def fig_grid(size: dict[str, int], root: str, work: Path, raw: dict[str, Any]) -> list[Figure]:
    params = {"variants": size["grid_variants"], "parallel": 2, "root": str(work / "grid")}
    r = raw["grid_launch"] = measure("grid_launch", params, work)
    rate = r["variants"] / r["wall_s"]
    shown = f"{rate:.1f} variants/s ({r['variants']} variants, parallel=2, {r['wall_s']:.2f} s)"
    name = "grid.run(), a fresh process per variant"
    return [judged("grid_variants_per_s", name, rate, "/s", shown, ">=", 20.0)]


def fig_sweep(size: dict[str, int], root: str, work: Path, raw: dict[str, Any]) -> list[Figure]:
    figures = []
    for defaults, label in ((True, "defaults"), (False, "git/env/packages capture off")):
        n = size["sweep_trials"] * (1 if defaults else 4)
        params = {"trials": n, "defaults": defaults, "root": str(work / f"sweep-{defaults}")}
        r = raw[f"sweep_{'defaults' if defaults else 'off'}"] = measure(
            "sweep_trials", params, work
        )
        rate = r["trials"] / r["wall_s"]
        shown = f"{rate:.0f} trials/s ({r['trials']} trials, median {r['wall_s']:.2f} s of 5)"
        name = f"sweep() in-process no-op trials, {label}"
        fid = f"sweep_trials_per_s{'' if defaults else '_capture_off'}"
        figures.append(judged(fid, name, rate, "/s", shown, ">=", 2000.0))
    return figures


def fig_system_metrics(
    size: dict[str, int], root: str, work: Path, raw: dict[str, Any]
) -> list[Figure]:
    interval = 10.0  # the default system_metrics_interval
    params = {
        "samples": size["system_samples"],
        "run_s": size["system_run_ms"] / 1e3,
        "interval": 0.02,
        "root": root,
    }
    r = raw["system_metrics"] = measure("system_metrics", params, work)
    per_sample_ms = r["per_sample_s"] * 1e3
    share = r["per_sample_s"] / interval * 100
    thread = ""
    if r["thread_samples"]:  # CPU clock ticks of 10 ms: only a long run gives a close figure
        thread = f"; its thread: {r['thread_cpu_s'] / r['thread_samples'] * 1e3:.2f} ms/sample"
    shown = f"{share:.4f} % ({per_sample_ms:.2f} ms CPU/sample, {r['keys']} keys{thread})"
    name = "system metrics sampler, % of a core at 10 s"
    return [judged("system_metrics_cost", name, share, "%", shown, "<=", 1.0)]


def fig_ui(size: dict[str, int], root: str, work: Path, raw: dict[str, Any]) -> list[Figure]:
    store = str(work / "ui")
    made = measure(
        "ui_setup", {"root": store, "runs": size["ui_runs"], "points": size["ui_points"]}, work
    )
    params = {
        **made,
        "root": store,
        "runs": size["ui_runs"],
        "points": size["ui_points"],
        "repeats": size["ui_repeats"],
        "cold_repeats": size["ui_cold_repeats"],
    }
    r = raw["ui"] = {**made, **measure("ui_serve", params, work)}
    runs, pts = _n(r["runs"]), _n(r["points"])
    plain, query = r["table_s"] * 1e3, r["table_query_s"] * 1e3
    table = max(plain, query)
    table_shown = (
        f"{table:.1f} ms (all rows {plain:.1f}, filter+sort {query:.1f}, group-by "
        f"{r['groups_s'] * 1e3:.1f}; first {r['table_first_s'] * 1e3:.0f})"
    )
    warm, cold = r["chart_warm_s"] * 1e3, r["chart_cold_s"] * 1e3
    warm_shown = (
        f"{warm:.1f} ms warm (zoom {r['chart_zoom_s'] * 1e3:.1f}; "
        f"first on the time axis {r['chart_time_s'] * 1e3:.0f})"
    )
    cold_shown = (
        f"{cold:.1f} ms (first read of the key: decodes it; metrics {r['metrics_s'] * 1e3:.0f})"
    )
    peak = r["peak_rss_mb"]
    rss_shown = f"{peak:.0f} MB peak (now {r['rss_mb']:.0f}, idle {r['idle_mb']:.0f})"
    return [
        judged(
            "ui_runs_table_10k",
            f"runlab ui runs table, {runs} runs",
            table,
            "ms",
            table_shown,
            "<=",
            300.0,
        ),
        judged(
            "ui_chart_10m",
            f"runlab ui chart, {pts}-pt series, warm",
            warm,
            "ms",
            warm_shown,
            "<=",
            150.0,
        ),
        judged(
            "ui_chart_10m_cold",
            f"runlab ui chart, {pts}-pt series, cold",
            cold,
            "ms",
            cold_shown,
            "<=",
            150.0,
        ),
        judged(
            "ui_rss_mb",
            f"runlab ui resident memory ({runs} runs, {pts}-pt chart)",
            peak,
            "MB",
            rss_shown,
            "<=",
            400.0,
        ),
    ]


FIGURES: dict[str, Callable[[dict[str, int], str, Path, dict[str, Any]], list[Figure]]] = {
    "log": fig_log,
    "ingest": fig_ingest,
    "import": fig_import,
    "lifecycle": fig_lifecycle,
    "read": fig_read,
    "memory": fig_memory,
    "episode": fig_episode,
    "collection": fig_collection,
    "grid": fig_grid,
    "sweep": fig_sweep,
    "ui": fig_ui,
    "system_metrics": fig_system_metrics,
}


# -- output -----------------------------------------------------------------------------------


def render(figures: list[Figure]) -> str:
    header = ("figure", "value", "budget", "verdict")
    rows = [(f.figure, f.shown, f.budget_shown, f.verdict) for f in figures]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(out)


def _runlab_as_peer(
    size: dict[str, int], root: str, work: Path, raw: dict[str, Any]
) -> dict[str, Any] | None:
    """Figure 1's loop at the peers' size and settings (defaults), for the side-by-side."""
    params = {"calls": size["peer_calls"], "repeats": 3, "root": root, "defaults": True}
    try:
        r = measure("log_cost", params, work)
    except MeasureFailed as exc:
        print(f"! {exc}", file=sys.stderr)
        return None
    imported = raw.get("import_time", {}).get("net_s")
    return {
        "peer": "runlab",
        "version": "this checkout",
        "calls": r["calls"],
        "log_s": r["log_s"],
        "floor_s": r["floor_s"],
        "close_s": sorted(r["finish_s"])[len(r["finish_s"]) // 2],
        "import_s": imported,
    }


def _load() -> float | None:
    """The 1-minute load average (other work on the machine skews every figure)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on Windows
        return None


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    mode.add_argument("--smoke", action="store_true", help="tiny sizes: checks the bench runs")
    ap.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    ap.add_argument("--peers", action="store_true", help="time the 5-float loop on peer trackers")
    ap.add_argument("--only", nargs="+", choices=MEASURE_NAMES, help="run only these measures")
    ap.add_argument("--dir", type=Path, help="parent of the temporary run store (default: $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep the run store and print its path")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    size = SIZES[mode]
    work = Path(tempfile.mkdtemp(prefix="runlab-bench-", dir=args.dir))
    root = str(work / "store")
    print(
        f"runlab bench ({mode}) — python {platform.python_version()}, {os.cpu_count()} CPUs",
        flush=True,
    )
    load_before, cpu_start = _load(), _cpu_times()
    if load_before is not None and load_before > 0.5 * (os.cpu_count() or 1):
        print(f"  note: load average {load_before:.1f} before starting: figures will be noisy")
    figures: list[Figure] = []
    raw: dict[str, Any] = {}
    failed: list[str] = []
    try:
        try:
            measure("warmup", {"root": str(work / "warmup")}, work)
        except MeasureFailed as exc:  # every measure will fail too, and say why
            print(f"! {exc}", file=sys.stderr)
        for name in args.only or MEASURE_NAMES:
            t0 = time.perf_counter()
            try:
                figures += FIGURES[name](size, root, work, raw)
            except MeasureFailed as exc:
                failed.append(name)
                print(f"! {exc}", file=sys.stderr)
                figures.append(Figure(name, f"{name} (failed)", None, "", "—"))
            print(f"  {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        peers: dict[str, Any] = {}
        if args.peers:
            import _peers

            peers = _peers.run_all(size["peer_calls"], work, _runlab_as_peer(size, root, work, raw))
    finally:
        if args.keep:
            print(f"run store kept at {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    steal = _steal_since(cpu_start)
    print()
    print(render(figures))
    if steal is not None and steal > 0.02:
        print(f"note: the hypervisor took {steal:.0%} of this machine's CPU time during the run;")
        print("      figures taken on a busy host are slower and noisier than the code deserves.")
    if args.peers:
        print()
        print(_peers.render(peers))
    if args.json:
        doc = {
            "mode": mode,
            "sizes": size,
            "machine": _machine(),
            "load_average": {"before": load_before, "after": _load()},
            "cpu_steal": steal,
            "runlab_env": {k: v for k, v in os.environ.items() if k.startswith("RUNLAB_")},
            "figures": [asdict(f) for f in figures],
            "raw": raw,
            "peers": peers,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
