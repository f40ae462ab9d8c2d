"""``--peers``: the figure-1 loop against other trackers, each in its own virtualenv.

Virtualenvs live in ``bench/.peers/<peer>/`` (git-ignored), are created on first use with
``python -m venv`` and ``pip install``, and are reused afterwards; delete the folder to refresh.
A peer that fails to install or to run is reported as skipped with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import _workload

BENCH = Path(__file__).resolve().parent
PEERS_DIR = BENCH / ".peers"

# What pip installs into each virtualenv (the loops themselves are in _peer_loop.py).
REQUIREMENTS = {
    "wandb": ["wandb"],
    "mlflow": ["mlflow"],
    "trackio": ["trackio"],
    "tensorboardX": ["tensorboardX"],
}
# Peer (a loop in _peer_loop.py) -> the virtualenv it runs in.
PEERS = {
    "wandb": "wandb",
    "mlflow": "mlflow",
    "mlflow-sqlite": "mlflow",
    "trackio": "trackio",
    "tensorboardX": "tensorboardX",
}
REPEATS = 3


class PeerSkipped(RuntimeError):
    pass


def _python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _tail(proc: subprocess.CompletedProcess[str]) -> str:
    text = (proc.stderr or proc.stdout or "").strip().splitlines()
    return text[-1] if text else f"exit {proc.returncode}"


def ensure_venv(name: str) -> Path:
    """The virtualenv's interpreter, installing it first if it is not ready."""
    venv = PEERS_DIR / name
    python = _python(venv)
    ready = venv / ".installed"
    if ready.exists() and python.exists():
        return python
    print(f"  installing {name} into {venv} ...", file=sys.stderr, flush=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"],
        [str(python), "-m", "pip", "install", "-q", *REQUIREMENTS[name]],
    ]
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
        if proc.returncode != 0:
            raise PeerSkipped(f"install failed: {_tail(proc)}")
    ready.touch()
    return python


def run_peer(peer: str, calls: int, work: Path, rows_file: Path) -> dict[str, Any]:
    python = ensure_venv(PEERS[peer])
    peer_work = work / f"peer-{peer}"
    peer_work.mkdir(parents=True, exist_ok=True)
    out = work / f"peer-{peer}.json"
    cmd = [str(python), str(BENCH / "_peer_loop.py"), peer, str(rows_file), str(calls)]
    cmd += [str(REPEATS), str(peer_work), str(out)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=env, cwd=peer_work)
    if proc.returncode != 0 or not out.exists():
        raise PeerSkipped(f"run failed: {_tail(proc)}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def run_all(calls: int, work: Path, runlab: dict[str, Any] | None) -> dict[str, Any]:
    """Time every peer; ``runlab`` is this checkout's result of the same loop, shown first."""
    cols = _workload.training_columns(1024)
    values = zip(*(cols[k].tolist() for k in _workload.KEYS), strict=True)
    rows_file = work / "peer-rows.json"
    rows_file.write_text(json.dumps([dict(zip(_workload.KEYS, v, strict=True)) for v in values]))
    results: dict[str, Any] = {} if runlab is None else {"runlab": runlab}
    for peer in PEERS:
        try:
            results[peer] = run_peer(peer, calls, work, rows_file)
        except (PeerSkipped, subprocess.TimeoutExpired) as exc:
            results[peer] = {"peer": peer, "skipped": str(exc)}
        print(f"  peer {peer}: {results[peer].get('skipped', 'done')}", file=sys.stderr)
    return results


def render(results: dict[str, Any]) -> str:
    header = ("tracker", "version", "µs/call", "× own floor", "close", "import")
    rows = []
    skipped = []
    for r in results.values():
        if "skipped" in r:
            rows.append((r["peer"], "—", "skipped", "", "", ""))
            skipped.append(f"{r['peer']} skipped: {r['skipped']}")
            continue
        us, floor = r["log_s"] * 1e6, r["floor_s"] * 1e6
        close_ms = f"{r['close_s'] * 1e3:.0f} ms"
        imp = f"{r['import_s'] * 1e3:.0f} ms" if r.get("import_s") is not None else "—"
        rows.append(
            (r["peer"], str(r["version"]), f"{us:.1f}", f"{us / floor:.1f}×", close_ms, imp)
        )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)
