"""The environment captured with each run, taken once per process and shared by its runs.

Host, hardware and installed packages do not change within a process, and git state rarely
changes within seconds, but each capture costs tens of milliseconds (subprocesses, metadata
of every installed distribution). A sweep of many short runs in one process would otherwise
spend most of its time capturing the same facts: ``finish()`` waits for the capture so the
run directory is complete when the run reads as ended.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runlab._settings import Settings
    from runlab.scenario import Scenario
    from runlab.storage._spool import Spool

GIT_TTL = 30.0
"""Seconds a git capture is reused for runs started from the same directory."""

_lock = threading.Lock()
_host: tuple[int, dict[str, Any]] | None = None
_packages: tuple[int, dict[str, str], str] | None = None
_git: dict[str, tuple[float, tuple[dict[str, Any] | None, str | None]]] = {}


def host() -> dict[str, Any]:
    """``capture_host()``, once per process (``pid`` is this process's)."""
    global _host
    from runlab.system import _env

    with _lock:
        if _host is None:
            _host = (os.getpid(), _env.capture_host())
        info = dict(_host[1])
    if _host[0] != os.getpid():  # a forked child: the same machine, its own pid
        info["pid"] = os.getpid()
    return info


def packages() -> tuple[dict[str, str], str]:
    """``capture_packages()`` and its requirements text, once per process."""
    global _packages
    from runlab.system import _env

    with _lock:
        if _packages is None:  # a forked child has its parent's packages
            found = _env.capture_packages()
            _packages = (os.getpid(), found, _env.format_requirements(found))
        return dict(_packages[1]), _packages[2]


def git(cwd: str) -> tuple[dict[str, Any] | None, str | None]:
    """``capture_git(cwd)``, reused for :data:`GIT_TTL` seconds per directory."""
    from runlab.system import _env

    with _lock:
        hit = _git.get(cwd)
        now = time.monotonic()
        if hit is None or now - hit[0] > GIT_TTL:
            hit = _git[cwd] = (now, _env.capture_git(cwd))
        info, diff = hit[1]
        return (None if info is None else dict(info)), diff


class Snapshot:
    """What a run's capture writes into its directory, encoded once and shared by runs.

    ``files`` maps paths relative to the run directory (``metadata.json``,
    ``files/requirements.txt``, ``files/diff.patch``) to their bytes. :meth:`write_into`
    hard-links each file to the copy written for an earlier run of this process (one system
    call; every run directory still holds a real, complete file, so copying or deleting one run
    never affects another) and writes the file afresh when there is no such copy to link.
    """

    def __init__(self, files: dict[str, bytes], taken_at: float) -> None:
        self.files = files
        self.taken_at = taken_at
        self._written: dict[str, str] = {}
        """The last path each file was written or linked to (guarded by ``_lock``)."""

    def write_into(self, run_dir: str) -> None:
        """Give ``run_dir`` every file. Raises ``OSError`` when one cannot be written."""
        from runlab.storage._layout import write_bytes_atomic

        for name, data in self.files.items():
            target = os.path.join(run_dir, name)
            with _lock:
                source = self._written.get(name)
            if source is not None:
                try:
                    os.link(source, target)
                    continue
                except OSError:  # source deleted, another filesystem, no hard links: write
                    pass
            write_bytes_atomic(target, data)
            with _lock:
                self._written[name] = target

    def link_into(
        self, run_dir: str, spool: Spool, on_fault: Callable[[str, BaseException], None]
    ) -> None:
        """:meth:`write_into`, done by ``spool`` (its links are shared by the runs it serves)."""
        for name, data in self.files.items():
            with _lock:
                copy = self._written.get(name)
            spool.link(os.path.join(run_dir, name), name, data, on_fault, copy)


_snapshots: dict[tuple[Any, ...], Snapshot] = {}


def _snapshot_key(flags: tuple[bool, bool, bool, bool], cwd: str) -> tuple[Any, ...]:
    return (os.getpid(), flags, cwd if flags[2] else None)


def cached_snapshot(flags: tuple[bool, bool, bool, bool], cwd: str) -> Snapshot | None:
    """The snapshot for these capture flags (command, env, git, packages) taken from ``cwd``,
    when one is cached and its git part is younger than :data:`GIT_TTL`; else ``None``."""
    with _lock:
        snap = _snapshots.get(_snapshot_key(flags, cwd))
    if snap is None or (flags[2] and time.monotonic() - snap.taken_at > GIT_TTL):
        return None
    return snap


def take_snapshot(flags: tuple[bool, bool, bool, bool], cwd: str) -> Snapshot:
    """Capture what the flags ask for (reusing :func:`host`, :func:`packages`, :func:`git`)
    and cache the encoded result for :func:`cached_snapshot`."""
    import json

    from runlab.storage._layout import FILES_DIR, METADATA_JSON, json_default
    from runlab.system import _env

    command, env, want_git, want_packages = flags
    now = time.monotonic()
    meta: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    if command:
        meta.update(_env.capture_command())
    if env:
        meta.update(host())
    if want_git:
        info, diff = git(cwd)
        meta["git"] = info
        if diff:
            files[f"{FILES_DIR}/diff.patch"] = diff.encode("utf-8", "surrogateescape")
    if want_packages:
        found, requirements = packages()
        meta["packages"] = found
        files[f"{FILES_DIR}/requirements.txt"] = requirements.encode("utf-8")
    text = json.dumps(meta, separators=(",", ":"), default=json_default)
    files[METADATA_JSON] = text.encode("utf-8")
    snap = Snapshot(files, now)
    with _lock:
        _snapshots[_snapshot_key(flags, cwd)] = snap
    return snap


class RunCapture:
    """What one run captures when it starts: the process's environment snapshot (taken on a
    thread of its own the first time, hard-linked from an earlier run after that) and the
    scenario and seed (HumaLab's automatic artifacts). Faults go to ``on_fault``; nothing here
    raises into the run.
    """

    def __init__(
        self,
        run_dir: Path,
        settings: Settings,
        scenario: Scenario | None,
        seed: int | None,
        on_fault: Callable[[str, BaseException], None],
        spool: Spool | None = None,
        cwd: str | None = None,
    ) -> None:
        self.run_dir = run_dir
        self._spool = spool
        self.settings = settings
        self.scenario = scenario
        self.seed = seed
        self._on_fault = on_fault
        self._thread: threading.Thread | None = None
        s = settings
        self._flags = (s.capture_command, s.capture_env, s.capture_git, s.capture_packages)
        # git is captured from the working directory; without it, no getcwd is needed
        self._cwd = (os.getcwd() if cwd is None else cwd) if s.capture_git else ""

    def start(self) -> None:
        """Write what can be written now; start the capture thread when a snapshot is due."""
        if not any(self._flags):
            if self.scenario is not None or self.seed is not None:
                self._write(None)
            return
        # Later runs of a process reuse its first run's capture: a few hard links, done here
        # rather than on a thread of their own (runs of a sweep start by the thousand).
        snap = cached_snapshot(self._flags, self._cwd)
        if snap is not None:
            if self._spool is not None:  # by the spool's helper, before the run's last record
                self._write_reproducibility_artifacts()
                snap.link_into(os.fspath(self.run_dir), self._spool, self._on_fault)
            else:
                self._write(snap)
            return
        self._thread = threading.Thread(target=self._take, name="runlab-capture", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the capture thread, if one was started (``finish()`` does, so that an ended
        run's directory is complete)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _take(self) -> None:
        try:
            snap: Snapshot | None = take_snapshot(self._flags, self._cwd)
        except Exception as exc:
            self._on_fault("metadata capture", exc)
            snap = None
        self._write(snap)
        from runlab._console import silenced

        if not silenced(self.settings.quiet):
            # Import the end-of-run block's code now, off the training thread: imports during
            # interpreter exit would also make CPython forget an unhandled Ctrl-C.
            from runlab.sdk._terminal import warm_up

            warm_up()

    def _write(self, snap: Snapshot | None) -> None:
        self._write_reproducibility_artifacts()
        if snap is not None:
            try:
                snap.write_into(os.fspath(self.run_dir))
            except Exception as exc:
                self._on_fault("metadata capture", exc)

    def _write_reproducibility_artifacts(self) -> None:
        """The scenario as YAML and the seed, saved with the run (HumaLab's automatic ones)."""
        from runlab.storage._layout import ARTIFACTS_DIR, write_json_atomic

        if self.scenario is None and self.seed is None:
            return
        try:
            folder = self.run_dir / ARTIFACTS_DIR
            folder.mkdir(exist_ok=True)
            if self.scenario is not None:
                (folder / "scenario.yaml").write_text(self.scenario.to_yaml(), encoding="utf-8")
            if self.seed is not None:
                write_json_atomic(folder / "seed.json", {"seed": self.seed})
        except Exception as exc:
            self._on_fault("scenario/seed artifacts", exc)
