"""Environment capture against a real git, a real interpreter and the real installed packages."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import psutil
import pytest

import runlab.system
from runlab.system import (
    capture_command,
    capture_git,
    capture_host,
    capture_packages,
    format_requirements,
    strip_credentials,
)

SRC = Path(runlab.system.__file__).resolve().parents[2]

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's git configuration and any enclosing repository out of the tests."""
    for name in list(os.environ):
        if name.startswith("GIT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.com")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, git_env: None) -> Path:
    """A repository with one commit: a text file, a binary file and a .gitignore."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "train.py").write_text("lr = 0.1\nepochs = 10\n")
    (root / "weights.bin").write_bytes(bytes(range(256)) * 4)
    (root / ".gitignore").write_text("*.log\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "initial")
    return root


@needs_git
def test_clean_repository(repo: Path) -> None:
    (repo / "ignored.log").write_text("not part of the code\n")  # ignored: still clean

    info, diff = capture_git(str(repo))

    assert info == {
        "root": str(repo.resolve()),
        "remote": None,
        "branch": "main",
        "commit": git(repo, "rev-parse", "HEAD"),
        "dirty": False,
    }
    assert diff is None


@needs_git
def test_path_may_be_a_file_in_a_subdirectory(repo: Path) -> None:
    (repo / "pkg").mkdir()
    (repo / "pkg" / "model.py").write_text("x = 1\n")

    info, _ = capture_git(str(repo / "pkg" / "model.py"))

    assert info is not None
    assert info["root"] == str(repo.resolve())
    assert info["dirty"] is True  # pkg/model.py is untracked


@needs_git
def test_untracked_file_makes_it_dirty_without_a_diff(repo: Path) -> None:
    (repo / "notes.txt").write_text("todo\n")

    info, diff = capture_git(str(repo))

    assert info is not None
    assert info["dirty"] is True
    assert diff is None  # `git diff HEAD` covers tracked files only
    assert "error" not in info


@needs_git
def test_diff_recreates_the_uncommitted_changes(repo: Path) -> None:
    (repo / "train.py").write_text("lr = 0.3\nepochs = 10\nextra = 'é'\n")
    new_weights = bytes(reversed(range(256))) * 4 + b"\x00\xff"
    (repo / "weights.bin").write_bytes(new_weights)
    (repo / "latin1.txt").write_bytes("café\n".encode("latin-1"))
    git(repo, "add", "latin1.txt")  # staged only: still part of `git diff HEAD`

    info, diff = capture_git(str(repo))

    assert info is not None
    assert info["dirty"] is True
    assert diff is not None
    assert "-lr = 0.1\n+lr = 0.3\n" in diff
    assert "GIT binary patch" in diff

    # The stored diff applied to the recorded commit gives back the exact working tree.
    git(repo, "reset", "-q", "--hard", info["commit"])
    patch = repo.parent / "changes.patch"
    patch.write_bytes(diff.encode("utf-8", "surrogateescape"))
    git(repo, "apply", "--index", str(patch))
    assert (repo / "train.py").read_text() == "lr = 0.3\nepochs = 10\nextra = 'é'\n"
    assert (repo / "weights.bin").read_bytes() == new_weights
    assert (repo / "latin1.txt").read_bytes() == "café\n".encode("latin-1")


@needs_git
def test_remote_credentials_are_stripped(repo: Path) -> None:
    git(repo, "remote", "add", "origin", "https://alice:hunter2@git.example.com/team/repo.git")

    info, _ = capture_git(str(repo))

    assert info is not None
    assert info["remote"] == "https://git.example.com/team/repo.git"
    assert "hunter2" not in json.dumps(info)


@needs_git
def test_detached_head_has_no_branch(repo: Path) -> None:
    (repo / "train.py").write_text("lr = 0.2\n")
    git(repo, "commit", "-q", "-am", "second")
    first = git(repo, "rev-parse", "HEAD~1")
    git(repo, "checkout", "-q", "--detach", first)

    info, diff = capture_git(str(repo))

    assert info is not None
    assert info["branch"] is None
    assert info["commit"] == first
    assert info["dirty"] is False
    assert diff is None


@needs_git
def test_repository_without_commits(tmp_path: Path, git_env: None) -> None:
    git(tmp_path, "init", "-q", "-b", "trunk")
    (tmp_path / "a.py").write_text("pass\n")

    info, diff = capture_git(str(tmp_path))

    assert info is not None
    assert (info["branch"], info["commit"], info["dirty"]) == ("trunk", None, True)
    assert diff is None


@needs_git
def test_not_a_repository(tmp_path: Path, git_env: None) -> None:
    assert capture_git(str(tmp_path)) == (None, None)


def test_missing_path_or_missing_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert capture_git(str(tmp_path / "does" / "not" / "exist")) == (None, None)
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable on PATH
    assert capture_git(str(tmp_path)) == (None, None)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://alice:s3cret@example.com/org/repo.git", "https://example.com/org/repo.git"),
        ("https://ghp_token@example.com/org/repo.git", "https://example.com/org/repo.git"),
        ("http://user:p@ss@example.com:8080/repo", "http://example.com:8080/repo"),
        ("ssh://git:pw@example.com/org/repo.git", "ssh://git@example.com/org/repo.git"),
        ("ssh://git@example.com/org/repo.git", "ssh://git@example.com/org/repo.git"),
        ("git@example.com:org/repo.git", "git@example.com:org/repo.git"),
        ("https://example.com/org/repo.git", "https://example.com/org/repo.git"),
        ("/srv/git/repo.git", "/srv/git/repo.git"),
    ],
)
def test_strip_credentials(url: str, expected: str) -> None:
    assert strip_credentials(url) == expected


def run_python(args: list[str], cwd: Path) -> Any:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_command_of_a_script(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import json\n"
        "from runlab.system import capture_command\n"
        "print(json.dumps(capture_command()))\n"
    )

    info = run_python(["-u", "train.py", "--lr", "3", "--name", "my run"], cwd=tmp_path)

    assert info["command"] == "python -u train.py --lr 3 --name 'my run'"
    assert shlex.split(info["command"])[2:] == ["train.py", "--lr", "3", "--name", "my run"]
    assert info["argv"] == ["train.py", "--lr", "3", "--name", "my run"]
    assert Path(info["program"]) == script.resolve()
    assert Path(info["cwd"]) == tmp_path.resolve()
    assert info["executable"] == sys.executable
    assert "error" not in info


def test_command_in_this_process() -> None:
    info = capture_command()

    assert info["argv"] == sys.argv
    assert shlex.split(info["command"])[0] == "python"
    assert info["cwd"] == os.getcwd()


def test_command_of_python_c(tmp_path: Path) -> None:
    code = "import json; from runlab.system import capture_command as c; print(json.dumps(c()))"

    info = run_python(["-c", code, "x"], cwd=tmp_path)

    assert shlex.split(info["command"]) == ["python", "-c", code, "x"]
    assert info["argv"] == ["-c", "x"]
    assert info["program"] is None


def test_command_when_cwd_was_deleted(tmp_path: Path) -> None:
    code = (
        "import json, os; from runlab.system import capture_command as c\n"
        "os.chdir('gone'); os.rmdir(os.path.abspath('.'))\n"
        "print(json.dumps(c()))"
    )
    (tmp_path / "gone").mkdir()

    info = run_python(["-c", code], cwd=tmp_path)

    assert info["cwd"] is None
    assert "cwd" in info["error"]
    assert info["command"].startswith("python -c")


def test_host_description() -> None:
    info = capture_host()

    assert "error" not in info, info.get("error")
    assert info["pid"] == os.getpid()
    assert info["host"] == socket.gethostname()
    assert info["os_name"] == platform.system()
    assert info["os_release"] == platform.release()
    assert info["os"] == platform.platform()
    assert info["python"] == {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
    }
    assert info["memory_total"] == psutil.virtual_memory().total > 0
    cpu = info["cpu"]
    assert cpu["count_logical"] == psutil.cpu_count()
    assert cpu["count_logical"] >= 1
    assert cpu["count_physical"] is None or 1 <= cpu["count_physical"] <= cpu["count_logical"]
    assert isinstance(cpu["model"], str) and cpu["model"]
    if sys.platform.startswith("linux") and "model name" in Path("/proc/cpuinfo").read_text():
        assert f": {cpu['model']}\n" in Path("/proc/cpuinfo").read_text()
    assert isinstance(info["gpus"], list)
    json.dumps(info)  # stored as JSON in the run directory


def _fake_nvml(monkeypatch: pytest.MonkeyPatch, *, init_error: str | None = None) -> list[str]:
    """Install a stand-in for nvidia-ml-py's ``pynvml`` module; return the calls it sees."""
    calls: list[str] = []

    class NVMLError(Exception):
        pass

    def init() -> None:
        calls.append("init")
        if init_error is not None:
            raise NVMLError(init_error)

    def memory(handle: int) -> types.SimpleNamespace:
        if handle == 1:
            raise NVMLError("Not Supported")
        return types.SimpleNamespace(total=80 * 2**30, free=1, used=2)

    fake = types.ModuleType("pynvml")
    fake.nvmlInit = init  # type: ignore[attr-defined]
    fake.nvmlShutdown = lambda: calls.append("shutdown")  # type: ignore[attr-defined]
    fake.nvmlSystemGetDriverVersion = lambda: "550.54.15"  # type: ignore[attr-defined]
    fake.nvmlDeviceGetCount = lambda: 2  # type: ignore[attr-defined]
    fake.nvmlDeviceGetHandleByIndex = lambda i: i  # type: ignore[attr-defined]
    fake.nvmlDeviceGetName = lambda h: [b"NVIDIA H100 80GB HBM3", "NVIDIA A100"][h]  # type: ignore[attr-defined]
    fake.nvmlDeviceGetMemoryInfo = memory  # type: ignore[attr-defined]
    fake.nvmlDeviceGetUUID = lambda h: f"GPU-{h:08d}"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    return calls


def test_gpus_from_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_nvml(monkeypatch)

    info = capture_host()

    assert info["gpus"] == [
        {
            "index": 0,
            "name": "NVIDIA H100 80GB HBM3",
            "memory_total": 80 * 2**30,
            "driver": "550.54.15",
            "uuid": "GPU-00000000",
        },
        {  # a query the GPU does not support leaves that field empty, not the whole list
            "index": 1,
            "name": "NVIDIA A100",
            "memory_total": None,
            "driver": "550.54.15",
            "uuid": "GPU-00000001",
        },
    ]
    assert "gpu_error" not in info
    assert calls == ["init", "shutdown"]


def test_nvml_failure_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_nvml(monkeypatch, init_error="NVML Shared Library Not Found")

    info = capture_host()

    assert info["gpus"] == []
    assert "NVML Shared Library Not Found" in info["gpu_error"]
    assert info["memory_total"] > 0  # the rest is still there


def test_without_nvidia_ml_py_there_are_no_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` fail

    info = capture_host()

    assert info["gpus"] == []
    assert "gpu_error" not in info


def test_packages_match_the_installed_versions() -> None:
    packages = capture_packages()

    assert packages["pytest"] == importlib.metadata.version("pytest")
    assert packages["psutil"] == psutil.__version__
    names = [name.lower().replace("_", "-") for name in packages]
    assert names == sorted(names)


def _fake_distribution(site: Path, name: str, version: str) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_first_distribution_on_sys_path_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_distribution(tmp_path / "later", "runlab_fake_pkg", "1.0")
    _fake_distribution(tmp_path / "first", "runlab_fake_pkg", "2.0")
    monkeypatch.syspath_prepend(str(tmp_path / "later"))
    monkeypatch.syspath_prepend(str(tmp_path / "first"))

    packages = capture_packages()

    assert packages["runlab_fake_pkg"] == "2.0"
    assert importlib.metadata.version("runlab_fake_pkg") == "2.0"  # what import would use


def test_broken_distribution_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken-1.0.dist-info").mkdir()  # no METADATA at all
    _fake_distribution(tmp_path, "runlab_ok_pkg", "0.3")
    monkeypatch.syspath_prepend(str(tmp_path))

    packages = capture_packages()

    assert packages["runlab_ok_pkg"] == "0.3"
    assert packages["pytest"] == importlib.metadata.version("pytest")


def test_requirements_round_trip() -> None:
    packages = capture_packages()

    text = format_requirements(packages)

    assert text.endswith("\n")
    parsed = dict(line.split("==", 1) for line in text.splitlines())
    assert parsed == packages
    assert format_requirements({}) == ""


def test_import_stays_light(tmp_path: Path) -> None:
    code = (
        "import json, sys; import runlab.system\n"
        "heavy = {'psutil', 'pynvml', 'numpy', 'polars', 'subprocess', 'platform'}\n"
        "print(json.dumps(sorted(heavy & set(sys.modules))))"
    )
    loaded = run_python(["-c", code], cwd=tmp_path)

    assert loaded == []
