"""``bench/run.py`` keeps working: it runs end to end on tiny sizes and reports every figure.

Timings are not checked here (a loaded CI machine would make them flaky); the full bench is what
compares them with the budget.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

FIGURES = (
    "log() floor: buf.append",
    "log() caller cost, capture off",
    "log() caller cost, defaults",
    "log() where the time goes",
    "ingest, 100 floats/call",
    "ingest, 5 floats/call",
    "import runlab (net)",
    "import runlab (raw process)",
    "init(), defaults",
    "init(), capture off",
    "finish() after",
    "finish() of a 100-step run",
    "disk per scalar point",
    "Api().run().history(['loss'])",
    "read_series",
    "SDK resident memory, 5 floats/call",
    "SDK resident memory, 100 floats/call",
    "import runlab resident memory",
    "episode create+sample+finish, 20 params",
    "runlab.runs() + to_frame()",
    "filter + group_by().agg()",
    "grid.run(), a fresh process per variant",
    "sweep() in-process no-op trials, defaults",
    "sweep() in-process no-op trials, git/env/packages capture off",
    "system metrics sampler, % of a core at 10 s",
    "runlab ui runs table",
    "runlab ui chart",
    "runlab ui resident memory",
)


def test_bench_smoke_runs_and_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--smoke", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in FIGURES:
        assert name in proc.stdout, f"{name!r} missing from:\n{proc.stdout}"
    assert "FAILED" not in proc.stdout

    doc = json.loads(out.read_text())
    ids = {f["id"] for f in doc["figures"]}
    assert {"log_ratio", "ingest_100_mpts", "import_net_ms", "init_ms", "finish_ms"} <= ids
    assert {
        "bytes_per_point",
        "read_api_ms",
        "read_read_series_ms",
        "memory_5_added_mb",
        "memory_100_added_mb",
        "collection_frame_ms",
        "collection_query_ms",
        "ui_runs_table_10k",
        "ui_chart_10m",
        "ui_chart_10m_cold",
        "ui_rss_mb",
    } <= ids
    assert all(f["value"] is not None for f in doc["figures"])
