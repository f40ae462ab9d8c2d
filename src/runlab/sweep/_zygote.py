"""A pre-forked launcher: one process imports runlab once, then forks a fresh child per variant.

Starting ``python -m runlab.sweep._child`` for every variant costs an interpreter start, the
imports of runlab and its dependencies and an environment capture: about 100 ms before the
thunk runs. A *zygote* pays that once per launcher slot: ``python -m runlab.sweep._zygote``
imports runlab, captures the environment, and then, for each request on its pipe, forks a child
that runs the variant exactly as ``runlab.sweep._child`` would. The zygote never runs user code,
so every child starts from the same pristine state (the isolation of a fresh process, as with
``multiprocessing``'s forkserver), and nothing one variant changes can reach the next.

Protocol (one JSON object per line): the launcher writes ``{"payload": path, "env": {...},
"quiet": bool, "stderr": path | null}``; the zygote answers ``{"code": exit status}`` once the
child has ended. Closing the request pipe ends the zygote.

Where ``os.fork`` is missing, under an MPI prefix, or with ``RUNLAB_LAUNCH_METHOD=spawn``,
variants are launched as plain subprocesses instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import IO, Any

METHOD_ENV = "RUNLAB_LAUNCH_METHOD"
"""``fork`` (the default where ``os.fork`` exists) or ``spawn`` (a fresh interpreter each)."""


def fork_available() -> bool:
    """Whether variants may be forked from a zygote here."""
    method = os.environ.get(METHOD_ENV, "fork").strip().lower()
    if method not in ("fork", "spawn"):
        from runlab._errors import SettingsError

        raise SettingsError(f"{METHOD_ENV}={method!r} must be 'fork' or 'spawn'")
    return method == "fork" and hasattr(os, "fork") and sys.platform != "win32"


class Zygote:
    """The launcher's handle on one zygote process; serves one variant at a time."""

    def __init__(self, env: Mapping[str, str]) -> None:
        requests_r, requests_w = os.pipe()
        answers_r, answers_w = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "runlab.sweep._zygote",
                    str(requests_r),
                    str(answers_w),
                ],
                env=dict(env),
                stdin=subprocess.DEVNULL,
                pass_fds=(requests_r, answers_w),
            )
        finally:
            os.close(requests_r)
            os.close(answers_w)
        self._requests: IO[str] = os.fdopen(requests_w, "w", encoding="utf-8")
        self._answers: IO[str] = os.fdopen(answers_r, encoding="utf-8")

    def run(self, payload: str, env: Mapping[str, str], quiet: bool, stderr: str | None) -> int:
        """Run one variant in a child of the zygote; its exit status (negative: a signal).

        Raises:
            OSError: the zygote is gone (it died, or was killed with its process group).
        """
        request = {"payload": payload, "env": dict(env), "quiet": quiet, "stderr": stderr}
        try:
            self._requests.write(json.dumps(request) + "\n")
            self._requests.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise OSError(f"the launcher's zygote is gone ({exc})") from exc
        line = self._answers.readline()
        if not line:
            raise OSError(f"the launcher's zygote exited (status {self._proc.poll()})")
        return int(json.loads(line)["code"])

    def close(self, timeout: float = 10.0) -> None:
        """End the zygote (it finishes the variant it runs first)."""
        for stream in (self._requests, self._answers):
            with contextlib.suppress(OSError):
                stream.close()
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


class ZygotePool:
    """Zygotes for launches from several threads at once: each thread borrows an idle one."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = dict(env)
        self._idle: list[Zygote] = []
        self._all: list[Zygote] = []
        self._lock = threading.Lock()
        self._closed = False

    def run(self, payload: str, env: Mapping[str, str], quiet: bool, stderr: str | None) -> int:
        with self._lock:
            if self._closed:
                raise OSError("the launcher is shut down")
            zygote = self._idle.pop() if self._idle else None
        if zygote is None:
            zygote = Zygote(self._env)
            with self._lock:
                self._all.append(zygote)
        try:
            code = zygote.run(payload, env, quiet, stderr)
        except OSError:
            zygote.close(timeout=1.0)
            raise
        with self._lock:
            self._idle.append(zygote)
        return code

    def close(self) -> None:
        with self._lock:
            self._closed = True
            zygotes, self._all, self._idle = self._all, [], []
        for zygote in zygotes:
            zygote.close()


# -- the zygote process -------------------------------------------------------------------------


def _prewarm() -> None:
    """Import and capture now, once, what every child would otherwise do for itself."""
    import cloudpickle  # noqa: F401

    import runlab
    import runlab.sdk._run
    import runlab.sweep._child  # noqa: F401
    from runlab.sdk import _capture

    try:
        _capture.host()
        _capture.packages()
        _capture.git(os.getcwd())
    except Exception:  # a capture failure is the child's to report, with its run
        pass


def _child(request: dict[str, Any], fds: tuple[int, int]) -> None:
    """In the forked child: become the variant's process, run it, exit (never returns)."""
    code = 1
    try:
        for fd in fds:
            os.close(fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.environ.clear()
        os.environ.update(request["env"])
        if request["quiet"]:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.close(devnull)
            if request["stderr"] is not None:
                err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(err, 2)
                os.close(err)
        from runlab.sweep._child import main

        code = main([request["payload"]])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def main(argv: list[str]) -> int:
    requests_fd, answers_fd = int(argv[0]), int(argv[1])
    # Ctrl-C reaches the whole process group: the variants handle it; the zygote outlives it
    # so that it can report how they ended, and ends when the launcher closes its pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _prewarm()
    answers = os.fdopen(answers_fd, "w", encoding="utf-8")
    with os.fdopen(requests_fd, encoding="utf-8") as requests:
        for line in requests:
            request = json.loads(line)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(request, (requests_fd, answers_fd))
            _, status = os.waitpid(pid, 0)
            answers.write(json.dumps({"code": os.waitstatus_to_exitcode(status)}) + "\n")
            answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
