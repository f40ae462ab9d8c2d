"""Every SDK test starts without RUNLAB_* variables and leaves no run open behind it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from runlab.sdk import _hooks


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("RUNLAB_"):
            monkeypatch.delenv(name)
    yield
    for run in _hooks.open_runs():
        run.finish()
