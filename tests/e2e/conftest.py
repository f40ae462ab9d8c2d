"""Helpers for end-to-end tests: run small training scripts in real child processes.

Every wait here is a bounded poll, and every child still running at the end of a test is
killed, so that a hung child fails its test instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import runlab

# The children import the same runlab as the tests, installed or not.
_SRC = str(Path(runlab.__file__).resolve().parent.parent)

PRELUDE = '''
import faulthandler, os, signal, sys

faulthandler.register(signal.SIGUSR1, all_threads=True)  # stacks of a hung child, on demand


def mark(path, value):
    """Publish ``value`` to the parent atomically (write a temporary file, then rename)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(value))
    os.replace(tmp, path)

'''
"""Prepended to every script: ``mark(path, value)`` for side files the parent polls, and a
SIGUSR1 stack dump that ``dump_and_kill`` asks for before killing a hung child."""


def wait_until(
    predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.01
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def read_mark(path: Path) -> int | None:
    """The integer a child last published with ``mark``, or None before its first one."""
    try:
        return int(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def read_run_json(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    return data


class Children:
    """Starts Python scripts as child processes of the test and cleans up after them.

    The module's helpers ride along as attributes so that tests need not import conftest.
    """

    wait_until = staticmethod(wait_until)
    read_mark = staticmethod(read_mark)
    read_run_json = staticmethod(read_run_json)

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.store = tmp_path / "store"
        self._started: list[subprocess.Popen[str]] = []
        self._count = 0

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLAB_")}
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = _SRC if not path else f"{_SRC}{os.pathsep}{path}"
        env["RUNLAB_SILENT"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra)
        return env

    def script(self, source: str) -> Path:
        self._count += 1
        path = self.tmp_path / f"child_{self._count}.py"
        path.write_text(PRELUDE + textwrap.dedent(source), encoding="utf-8")
        return path

    def start(
        self, source: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        """Start ``source`` (dedented) with ``args``; stdout and stderr are piped."""
        proc = subprocess.Popen(
            [sys.executable, str(self.script(source)), *args],
            cwd=self.tmp_path,
            env=env or self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._started.append(proc)
        return proc

    def run(
        self,
        source: str,
        *args: str,
        timeout: float = 30,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``source`` to completion (failing the test if it takes over ``timeout`` s)."""
        proc = self.start(source, *args, env=env)
        out, err = self.communicate(proc, timeout)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def communicate(self, proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
        try:
            return proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            dump_and_kill(proc)
            out, err = proc.communicate()
            pytest.fail(f"child did not exit within {timeout} s\nstdout:\n{out}\nstderr:\n{err}")

    def close(self) -> None:
        for proc in self._started:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


def dump_and_kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL a hung child (after asking faulthandler, if the child enabled it, for stacks)."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGUSR1)
            time.sleep(0.3)
        except ProcessLookupError:
            pass
    if proc.poll() is None:
        proc.kill()


@pytest.fixture
def children(tmp_path: Path) -> Iterator[Children]:
    kids = Children(tmp_path)
    try:
        yield kids
    finally:
        kids.close()


@pytest.fixture(scope="module")
def module_children(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Children]:
    """Like ``children``, shared by a module's tests (for children started once, together)."""
    kids = Children(tmp_path_factory.mktemp("children"))
    try:
        yield kids
    finally:
        kids.close()


# -- browser tests (test_ui_browser.py) ----------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed browser test leaves a screenshot and the page's console in ``test-artifacts/``."""
    report = yield
    page = getattr(item, "funcargs", {}).get("page")
    if report.failed and report.when == "call" and page is not None:
        folder = item.config.rootpath / "test-artifacts"
        folder.mkdir(exist_ok=True)
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in item.nodeid)[-150:]
        try:
            page.screenshot(path=str(folder / f"{stem}.png"), full_page=True)
        except Exception as exc:  # a crashed page: the report still counts
            report.sections.append(("screenshot", f"no screenshot: {exc}"))
        console = getattr(item, "browser_console", None)
        if console is not None:
            (folder / f"{stem}.console.txt").write_text("\n".join(console), encoding="utf-8")
        report.sections.append(("browser", f"url: {page.url}\nsaved in {folder}/{stem}.*"))
    return report
