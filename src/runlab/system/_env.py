"""Capture of the environment a run was started in: command, git state, host and packages.

Every ``capture_*`` function here never raises: a part that cannot be read is left out (or
``None``) and the reason goes into an ``"error"`` string, so that a broken ``git``, a missing
``/proc`` or an odd package never stops a training run from starting. Only the standard library is
imported at module import; psutil and pynvml are imported when a function needs them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess

# platform, subprocess, socket and shlex are imported where used: together they would add
# several milliseconds to `import runlab`, and most imports of runlab never capture anything.

_GIT_TIMEOUT_S = 5.0
# Variables that would make git look somewhere other than the tree containing ``path``
# (git sets them for its own hooks, for instance).
_GIT_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR")


def capture_command() -> dict[str, Any]:
    """Describe how this process was started.

    Returns:
        ``argv`` (``sys.argv`` as a list), ``command`` (a shell-quoted line that starts the same
        program with the same interpreter options and arguments, with the interpreter written as
        ``python`` so that it does not depend on where Python is installed), ``program`` (absolute
        path of the script, ``None`` for ``-c`` or an interactive session), ``cwd`` and
        ``executable`` (``sys.executable``). ``error`` is added if something could not be read.

    Example:
        >>> info = capture_command()
        >>> info["command"].startswith("python") or bool(getattr(sys, "frozen", False))
        True
    """
    import shlex

    info: dict[str, Any] = {"argv": [], "command": None, "program": None, "cwd": None}
    info["executable"] = sys.executable
    errors: list[str] = []
    try:
        argv = [str(a) for a in sys.argv]
        info["argv"] = argv
        info["command"] = shlex.join(_command_words(argv))
        if argv and argv[0] not in ("", "-c", "-m", "-"):
            info["program"] = os.path.abspath(argv[0])
    except Exception as exc:
        errors.append(f"command: {_describe(exc)}")
    try:
        info["cwd"] = os.getcwd()
    except Exception as exc:  # the working directory was deleted, for instance
        errors.append(f"cwd: {_describe(exc)}")
    if errors:
        info["error"] = "; ".join(errors)
    return info


def _command_words(argv: list[str]) -> list[str]:
    if getattr(sys, "frozen", False):  # a bundled app: argv[0] is the program itself
        return argv
    # orig_argv keeps interpreter options and the -c / -m form, which sys.argv has lost.
    orig = [str(a) for a in getattr(sys, "orig_argv", [])]
    if len(orig) > 1:
        return ["python", *orig[1:]]
    return ["python", *argv] if argv and argv[0] else ["python"]


def capture_git(path: str) -> tuple[dict[str, Any] | None, str | None]:
    """Describe the git work tree that contains ``path``.

    Args:
        path: a file or directory inside the work tree (usually the program's directory).

    Returns:
        ``(None, None)`` when ``path`` is not inside a git work tree or git is not installed.
        Otherwise ``(info, diff)``: ``info`` has ``root``, ``remote`` (the ``origin`` URL with any
        credentials removed, ``None`` without an origin), ``branch`` (``None`` when HEAD is
        detached), ``commit`` (full SHA, ``None`` before the first commit) and ``dirty`` (tracked
        changes or untracked files that are not ignored), plus ``error`` if a git command failed or
        timed out. ``diff`` is ``git diff --binary HEAD`` (changes to tracked files, binary files
        as git binary patches) or ``None`` when there is none. It is decoded as UTF-8 with
        ``surrogateescape``: ``diff.encode("utf-8", "surrogateescape")`` gives back git's exact
        bytes even for files in other encodings.
    """
    try:
        return _capture_git(path)
    except Exception as exc:  # never let a capture stop a run; report what went wrong
        return {"root": None, "error": f"git: {_describe(exc)}"}, None


def _capture_git(path: str) -> tuple[dict[str, Any] | None, str | None]:
    import subprocess

    env = dict(os.environ)
    for name in _GIT_LOCATION_VARS:
        env.pop(name, None)
    # Never take index.lock (a concurrent `git commit` must not fail because a run started) and
    # never wait on a credential prompt.
    env.update(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0", LC_ALL="C", LANGUAGE="C")
    cwd = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))

    def git(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )

    try:
        top = git("rev-parse", "--show-toplevel")
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None, None  # git is not installed, or path does not exist
    if top.returncode != 0:
        message = _text(top.stderr).strip()
        if "not a git repository" in message or not message:
            return None, None
        # e.g. "detected dubious ownership": a repository git refuses to read; say so.
        return {"root": None, "error": f"git rev-parse: {message}"}, None

    info: dict[str, Any] = {
        "root": _text(top.stdout).strip(),
        "remote": None,
        "branch": None,
        "commit": None,
        "dirty": None,
    }
    errors: list[str] = []
    diff: str | None = None
    try:
        status = git("status", "--porcelain=v2", "--branch", "--untracked-files=normal")
        if status.returncode == 0:
            _read_status(_text(status.stdout), info)
        else:
            errors.append(f"git status: {_text(status.stderr).strip()}")
    except subprocess.TimeoutExpired:
        errors.append(f"git status: timed out after {_GIT_TIMEOUT_S:g} s")

    try:
        remote = git("config", "--get", "remote.origin.url")
        if remote.returncode == 0:  # 1 means "no origin", not an error
            info["remote"] = strip_credentials(_text(remote.stdout).strip())
    except subprocess.TimeoutExpired:
        errors.append(f"git config: timed out after {_GIT_TIMEOUT_S:g} s")

    if info["dirty"] and info["commit"] is not None:
        try:
            patch = git("diff", "--binary", "--no-color", "--no-ext-diff", "HEAD")
            if patch.returncode == 0:
                diff = _text(patch.stdout) or None
            else:
                errors.append(f"git diff: {_text(patch.stderr).strip()}")
        except subprocess.TimeoutExpired:
            errors.append(f"git diff: timed out after {_GIT_TIMEOUT_S:g} s")

    if errors:
        info["error"] = "; ".join(errors)
    return info, diff


def _read_status(text: str, info: dict[str, Any]) -> None:
    dirty = False
    for line in text.splitlines():
        if line.startswith("# branch.oid "):
            oid = line[len("# branch.oid ") :]
            info["commit"] = None if oid == "(initial)" else oid
        elif line.startswith("# branch.head "):
            head = line[len("# branch.head ") :]
            info["branch"] = None if head == "(detached)" else head
        elif line and not line.startswith("#"):
            dirty = True
    info["dirty"] = dirty


def strip_credentials(url: str) -> str:
    """Remove a password or token from a remote URL.

    HTTP(S) URLs lose their whole user part (tokens are often passed as the user name); other
    URLs (``ssh://git@host/...``) keep the user name and lose only a password. scp-like remotes
    (``git@host:org/repo.git``) carry no secret and are returned unchanged.

    Example:
        >>> strip_credentials("https://alice:s3cret@example.com/org/repo.git")
        'https://example.com/org/repo.git'
        >>> strip_credentials("ssh://git@example.com/org/repo.git")
        'ssh://git@example.com/org/repo.git'
    """
    scheme, sep, rest = url.partition("://")
    if not sep or "/" in scheme:
        return url
    netloc, slash, path = rest.partition("/")
    userinfo, at, host = netloc.rpartition("@")
    if not at:
        return url
    if scheme.lower() in ("http", "https"):
        netloc = host
    else:
        user = userinfo.partition(":")[0]
        netloc = f"{user}@{host}" if user else host
    return f"{scheme}://{netloc}{slash}{path}"


def capture_host() -> dict[str, Any]:
    """Describe the machine and the Python interpreter this process runs on.

    Returns:
        ``host``, ``user``, ``pid``, ``os`` (``platform.platform()``), ``os_name``, ``os_release``,
        ``python`` (``version``, ``implementation``, ``executable``), ``cpu`` (``model``,
        ``count_logical``, ``count_physical``), ``memory_total`` (bytes) and ``gpus`` (one dict
        per NVIDIA GPU: ``index``, ``name``, ``memory_total``, ``driver``, ``uuid``; empty without
        nvidia-ml-py). ``gpu_error`` is set when nvidia-ml-py is installed but NVML fails (no
        driver, for instance); ``error`` when anything else could not be read.

    Example:
        >>> capture_host()["pid"] == os.getpid()
        True
    """
    import platform
    import socket

    errors: list[str] = []
    info: dict[str, Any] = {"pid": os.getpid()}

    def field(key: str, read: Any) -> None:
        try:
            info[key] = read()
        except Exception as exc:
            info[key] = None
            errors.append(f"{key}: {_describe(exc)}")

    field("host", socket.gethostname)
    field("user", _user)
    field("os", platform.platform)
    field("os_name", platform.system)
    field("os_release", platform.release)
    info["python"] = {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
    }
    field("cpu", _cpu)
    field("memory_total", _memory_total)
    gpus, gpu_error = _gpus()
    info["gpus"] = gpus
    if gpu_error is not None:
        info["gpu_error"] = gpu_error
    if errors:
        info["error"] = "; ".join(errors)
    return info


def _user() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid without a passwd entry, as in many containers
        return None


def _cpu() -> dict[str, Any]:
    import psutil

    return {
        "model": _cpu_model(),
        "count_logical": psutil.cpu_count(logical=True) or os.cpu_count(),
        "count_physical": psutil.cpu_count(logical=False),
    }


def _cpu_model() -> str | None:
    import platform
    import subprocess

    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                for line in f:
                    key, sep, value = line.partition(":")
                    if sep and key.strip() == "model name":
                        return value.strip()
        except OSError:
            pass
    elif sys.platform == "darwin":
        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True,
                timeout=_GIT_TIMEOUT_S,
                check=False,
            )
            if out.returncode == 0 and out.stdout.strip():
                return _text(out.stdout).strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or None


def _memory_total() -> int:
    import psutil

    return int(psutil.virtual_memory().total)


def _gpus() -> tuple[list[dict[str, Any]], str | None]:
    try:
        import pynvml
    except Exception:  # not installed (an optional extra): no GPUs to report, and no fault
        return [], None
    try:
        pynvml.nvmlInit()
    except Exception as exc:
        return [], f"NVML: {_describe(exc)}"
    try:
        try:
            driver: str | None = _text(pynvml.nvmlSystemGetDriverVersion())
        except Exception:
            driver = None
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            gpus.append(
                {
                    "index": index,
                    "name": _nvml_or_none(lambda h=handle: _text(pynvml.nvmlDeviceGetName(h))),
                    "memory_total": _nvml_or_none(
                        lambda h=handle: int(pynvml.nvmlDeviceGetMemoryInfo(h).total)
                    ),
                    "driver": driver,
                    "uuid": _nvml_or_none(lambda h=handle: _text(pynvml.nvmlDeviceGetUUID(h))),
                }
            )
        return gpus, None
    except Exception as exc:
        return [], f"NVML: {_describe(exc)}"
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


def _nvml_or_none(read: Any) -> Any:
    try:
        return read()
    except Exception:  # one unsupported query (MIG, old driver) must not hide the GPU
        return None


def capture_packages() -> dict[str, str]:
    """Map each installed distribution's name to its version, sorted by name.

    When a distribution is installed twice (a venv over a user site, say), the one found first on
    ``sys.path`` (the one ``import`` uses) wins. Returns an empty dict if the listing fails.

    Example:
        >>> "pytest" in capture_packages()
        True
    """
    import re

    try:
        from importlib import metadata
    except Exception:
        return {}
    normalize = re.compile(r"[-_.]+")
    found: dict[str, tuple[str, str]] = {}
    try:
        for dist in metadata.distributions():
            try:
                name = dist.metadata["Name"]
                version = dist.version
            except Exception:  # a broken METADATA file: skip that one distribution
                continue
            if not name or version is None:
                continue
            key = normalize.sub("-", name).lower()
            found.setdefault(key, (name, version))
    except Exception:
        pass
    return {name: version for _, (name, version) in sorted(found.items())}


def format_requirements(packages: dict[str, str]) -> str:
    """Write ``packages`` as ``pip freeze``-style ``name==version`` lines.

    Example:
        >>> format_requirements({"numpy": "2.0.1", "polars": "1.2.0"})
        'numpy==2.0.1\\npolars==1.2.0\\n'
    """
    return "".join(f"{name}=={version}\n" for name, version in packages.items())


def _text(value: bytes | str) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
