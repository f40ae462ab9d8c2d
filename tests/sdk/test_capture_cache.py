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
