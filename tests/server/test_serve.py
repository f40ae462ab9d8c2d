"""``runlab ui`` for real: a child process serving over HTTP, as a user starts it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from typer.testing import CliRunner

from runlab.cli import app


def test_ui_help_is_cheap() -> None:
    result = CliRunner().invoke(app, ["ui", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output and "--open" in result.output
    code = "import sys, runlab.cli; assert not {'fastapi', 'uvicorn'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_runlab_ui_serves_over_http(store: tuple[Path, dict[str, str]]) -> None:
    root, ids = store
    proc = subprocess.Popen(
        [sys.executable, "-m", "runlab", "ui", "--dir", str(root), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if " at http://" in line:
                break
        url = lines[-1].split(" at ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:") and "token" not in url
        with httpx.Client(base_url=url.rstrip("/"), timeout=10) as client:
            info = client.get("/api/info").json()
            assert info == {"version": info["version"], "dir": str(root), "auth_required": False}
            run = client.get(f"/api/runs/{ids['run-1']}").json()
            assert run["run"]["name"] == "run-1"
            assert client.get("/").status_code == 200
            port = url.rstrip("/").rsplit(":", 1)[1]
            rebound = client.get("/api/info", headers={"host": f"attacker.example:{port}"})
            assert rebound.status_code == 403
    finally:
        proc.terminate()
        proc.wait(10)


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["ui", "--dir", str(tmp_path), "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
