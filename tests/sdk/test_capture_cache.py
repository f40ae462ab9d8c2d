"""The environment is captured once per process and shared by its runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import runlab
from runlab.sdk import _capture
from runlab.system import _env


def test_runs_in_one_process_share_one_capture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"packages": 0, "host": 0, "git": 0}
    for name in calls:
        real = getattr(_env, f"capture_{name}")

        def counted(*args: object, _real: object = real, _name: str = name) -> object:
            calls[_name] += 1
            return _real(*args)  # type: ignore[operator]

        monkeypatch.setattr(_env, f"capture_{name}", counted)
    monkeypatch.setattr(_capture, "_host", None)
    monkeypatch.setattr(_capture, "_packages", None)
    monkeypatch.setattr(_capture, "_git", {})
    monkeypatch.setattr(_capture, "_snapshots", {})
    runs = []
    for _ in range(3):
        with runlab.init(dir=tmp_path, settings={"quiet": True, "capture_output": False}) as run:
            run.log({"x": 1.0})
        runs.append(run)
    assert calls == {"packages": 1, "host": 1, "git": 1}
    metas = [json.loads((r.dir / "metadata.json").read_text()) for r in runs]
    assert all(
        m["packages"] == metas[0]["packages"] and m["host"] == metas[0]["host"] for m in metas
    )
    assert all((r.dir / "files" / "requirements.txt").read_text() for r in runs)


def test_later_runs_link_the_first_runs_capture_files(tmp_path: Path) -> None:
    settings = {"quiet": True, "capture_output": False}
    runs = []
    for _ in range(3):
        with runlab.init(dir=tmp_path, settings=settings) as run:
            pass
        runs.append(run)
    first, second, third = (r.dir / "metadata.json" for r in runs)
    # One capture written once, then hard-linked: every run directory holds a real file.
    assert second.stat().st_ino == third.stat().st_ino
    assert second.read_bytes() == third.read_bytes()
    assert json.loads(second.read_text())["pid"] > 0
    # Deleting the run the links came from leaves the others whole, and a new run still
    # gets its file (written afresh when the link source is gone).
    runlab.Api(tmp_path).delete([runs[1].id, runs[2].id])
    with runlab.init(dir=tmp_path, settings=settings) as run:
        pass
    assert json.loads((run.dir / "metadata.json").read_text()) == json.loads(first.read_text())
    assert (run.dir / "files" / "requirements.txt").read_text()
