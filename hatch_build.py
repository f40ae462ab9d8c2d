"""Hatchling build hook: build the web app (``ui/``) into ``src/runlab/server/static/``.

Wheel and editable builds run ``npm ci && npm run build`` in ``ui/`` when ``ui/package.json``
exists and the built ``index.html`` is missing or older than any app source. The built files
are not committed (they are gitignored); the wheel target lists them as ``artifacts`` so they
ship anyway.

Without Node/npm, or with ``RUNLAB_SKIP_UI_BUILD=1``, the hook warns and the build goes on
without the app (``runlab ui`` then says how to build it). A failing ``npm`` also only warns,
so that an offline machine can still install the Python package, unless
``RUNLAB_REQUIRE_UI_BUILD=1`` (CI sets it), which makes both cases fatal.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

UI_DIR = "ui"
STATIC_DIR = Path("src", "runlab", "server", "static")
SOURCES = ("src", "public", "index.html", "package.json", "package-lock.json")
"""What a built app depends on, under ``ui/`` (plus ``vite.config.*`` and ``tsconfig*``)."""
MANUAL = "cd ui && npm ci && npm run build"
_TRUE = frozenset({"1", "true", "yes", "on"})


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def _source_files(ui: Path) -> Iterator[Path]:
    for name in SOURCES:
        path = ui / name
        if path.is_dir():
            yield from (p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            yield path
    for pattern in ("vite.config.*", "tsconfig*.json"):
        yield from ui.glob(pattern)


def ui_is_stale(ui: Path, index: Path) -> bool:
    """True when ``index`` is missing or older than any source of the app in ``ui``."""
    try:
        built = index.stat().st_mtime
    except FileNotFoundError:
        return True
    return any(path.stat().st_mtime > built for path in _source_files(ui))


class UIBuildHook(BuildHookInterface[BuilderConfig]):
    """Builds the web app before a wheel or an editable install is assembled."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":  # sdists ship the app's sources, not its build
            return
        root = Path(self.root)
        ui = root / UI_DIR
        index = root / STATIC_DIR / "index.html"
        if not (ui / "package.json").is_file():
            return
        if not ui_is_stale(ui, index):
            return
        if _flag("RUNLAB_SKIP_UI_BUILD"):
            self._skip("RUNLAB_SKIP_UI_BUILD is set")
            return
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            self._skip("Node.js/npm is not on PATH")
            return
        self.app.display_info(f"runlab: building the web app in {ui} (npm ci, npm run build)")
        if self._needs_install(ui) and not self._install(npm, ui):
            return
        if not self._npm([npm, "run", "build"], ui):
            return
        if not index.is_file():
            self._skip(f"the build did not write {index}")

    @staticmethod
    def _needs_install(ui: Path) -> bool:
        """False when ``node_modules`` already matches the lock file (``npm ci`` would only
        delete and reinstall the same packages)."""
        installed = ui / "node_modules" / ".package-lock.json"
        lock = ui / "package-lock.json"
        if not installed.is_file() or not lock.is_file():
            return True
        return installed.stat().st_mtime < lock.stat().st_mtime

    def _install(self, npm: str, ui: Path) -> bool:
        """``npm ci``; when the lock file does not satisfy it (a lock written against a registry
        missing some platform packages, for one), ``npm install --no-save``, which leaves the
        lock file as it is."""
        quiet = ["--no-audit", "--no-fund"]
        if (ui / "package-lock.json").is_file():
            failure = self._run([npm, "ci", *quiet], ui)
            if failure is None:
                return True
            self.app.display_warning(f"runlab: {failure}; trying `npm install --no-save`")
        return self._npm([npm, "install", "--no-save", *quiet], ui)

    def _npm(self, command: list[str], cwd: Path) -> bool:
        failure = self._run(command, cwd)
        if failure is not None:
            self._skip(failure)
        return failure is None

    @staticmethod
    def _run(command: list[str], cwd: Path) -> str | None:
        """Run an npm command; None when it succeeds, else what went wrong."""
        shown = " ".join(["npm", *command[1:]])
        try:
            done = subprocess.run(
                command,
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                check=False,
            )
        except OSError as exc:
            return f"`{shown}` could not start: {exc}"
        if done.returncode == 0:
            return None
        # npm follows a usage error with its whole help text: leave that out.
        lines = [
            line
            for line in done.stdout.splitlines()
            if line.strip() != "npm error" and not line.startswith("npm error   ")
        ]
        if len(lines) > 40:
            lines = [*lines[:10], "...", *lines[-25:]]
        output = "\n".join(lines)
        return f"`{shown}` failed with exit code {done.returncode}:\n{output}"

    def _skip(self, reason: str) -> None:
        index = Path(self.root) / STATIC_DIR / "index.html"
        state = "an older build of the web app" if index.is_file() else "no web app"
        message = (
            f"runlab: not building the web app: {reason}. The package installs with {state}; "
            f"`runlab ui` needs it built: {MANUAL}"
        )
        if _flag("RUNLAB_REQUIRE_UI_BUILD"):
            raise RuntimeError(message + " (RUNLAB_REQUIRE_UI_BUILD=1 makes this fatal)")
        self.app.display_warning(message)
        # pip hides a backend's output unless it fails or runs with -v; stderr is the best
        # remaining chance for the warning to be seen.
        print(f"WARNING: {message}", file=sys.stderr)
