"""The stdout/stderr tee: what the terminal shows, what the log file keeps, and failure paths."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runlab.system
from runlab.system import OutputCapture, SinkHandle, output_capture

SRC = Path(runlab.system.__file__).resolve().parents[2]


def run_script(code: str, cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    """Run ``code`` in a fresh interpreter with stdout and stderr on pipes (the "terminal")."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("PYTHONUNBUFFERED", None)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
        **kwargs,
    )


def test_tee_in_a_real_process(tmp_path: Path) -> None:
    done = run_script(
        r"""
        import sys
        from pathlib import Path
        from runlab.system import output_capture

        before = (sys.stdout, sys.stderr)
        capture = output_capture()
        sink = capture.add_sink(Path("output.log"))
        assert sys.stdout is not before[0] and sys.stderr is not before[1]
        assert sys.stdout.fileno() == 1 and sys.stderr.fileno() == 2
        assert sys.stdout.encoding == before[0].encoding
        assert sys.stdout.buffer is before[0].buffer

        print("epoch 1")
        for pct in (10, 20, 100):  # what tqdm writes
            sys.stderr.write(f"\rtraining: {pct}%")
            sys.stderr.flush()
        sys.stderr.write("\n")
        print("loss", 0.25, "acc", 0.5)
        print("warning: lr is high", file=sys.stderr)
        sys.stdout.write("no newline at the end")

        capture.remove_sink(sink)
        assert (sys.stdout, sys.stderr) == before
        print("after removal")
        """,
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr.decode()
    # The terminal saw everything, carriage returns included.
    assert done.stdout == b"epoch 1\nloss 0.25 acc 0.5\nno newline at the endafter removal\n"
    assert done.stderr == b"\rtraining: 10%\rtraining: 20%\rtraining: 100%\nwarning: lr is high\n"
    # The file kept each line as it finally looked, in order.
    assert read(tmp_path / "output.log") == (
        "epoch 1\ntraining: 100%\nloss 0.25 acc 0.5\nwarning: lr is high\nno newline at the end\n"
    )


def test_uncaught_exception_and_forked_children_are_captured(tmp_path: Path) -> None:
    if not hasattr(os, "fork"):
        pytest.skip("needs os.fork")
    done = run_script(
        r"""
        import os, sys
        from pathlib import Path
        from runlab.system import output_capture

        output_capture().add_sink(Path("output.log"))
        sys.stdout.write("parent partial")
        pid = os.fork()
        if pid == 0:  # a DataLoader-style worker
            print("from the child", flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        print()
        raise RuntimeError("diverged")
        """,
        cwd=tmp_path,
    )

    assert done.returncode == 1
    assert b"RuntimeError: diverged" in done.stderr
    log = read(tmp_path / "output.log")
    lines = log.splitlines()
    assert lines[:2] == ["from the child", "parent partial"]  # child did not repeat it
    assert lines[2] == "Traceback (most recent call last):"
    assert lines[-1] == "RuntimeError: diverged"


def test_file_size_limit_does_not_reach_user_code(tmp_path: Path) -> None:
    resource = pytest.importorskip("resource")
    del resource
    done = run_script(
        r"""
        import json, resource, signal, sys
        from pathlib import Path
        from runlab.system import output_capture

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.RLIM_INFINITY))
        errors = []
        capture = output_capture()
        sink = capture.add_sink(Path("output.log"), on_error=errors.append)
        for i in range(100):
            print(f"step {i:3d} " + "x" * 40)
        capture.remove_sink(sink)
        print(json.dumps({"errno": sink.error.errno, "calls": len(errors),
                          "same": errors[0] is sink.error}))
        """,
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr.decode()
    *lines, summary = done.stdout.decode().splitlines()
    assert len(lines) == 100  # the program ran on and the terminal got every line
    assert json.loads(summary) == {"errno": errno.EFBIG, "calls": 1, "same": True}
    stored = read(tmp_path / "output.log")
    assert len(stored) <= 1000
    assert lines[:5] == stored.splitlines()[:5]


def read(path: Path) -> str:
    """The file's text exactly, without newline translation."""
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


@pytest.fixture
def capture() -> Iterator[OutputCapture]:
    capture = OutputCapture()
    yield capture
    for sink in capture.sinks:
        capture.remove_sink(sink)


def test_wrappers_delegate_to_the_original_streams(capture: OutputCapture, tmp_path: Path) -> None:
    saved = sys.stdout
    with open(tmp_path / "terminal.txt", "w", encoding="utf-8", errors="replace") as original:
        sys.stdout = original  # a real file, unlike pytest's capture
        try:
            sink = capture.add_sink(tmp_path / "out.log")
            wrapper = sys.stdout
            assert wrapper is not original
            assert wrapper.fileno() == original.fileno()
            assert wrapper.isatty() is False
            assert (wrapper.encoding, wrapper.errors) == ("utf-8", "replace")
            assert wrapper.buffer is original.buffer
            assert wrapper.name == original.name
            with pytest.raises(TypeError):
                wrapper.write(b"bytes")  # type: ignore[arg-type]  # fails as the original does
            wrapper.writelines(["a", "b\n"])
            wrapper.flush()
            assert read(tmp_path / "terminal.txt") == "ab\n"
            capture.remove_sink(sink)
            assert sys.stdout is original
        finally:
            sys.stdout = saved
    assert read(tmp_path / "out.log") == "ab\n"


def test_removing_the_last_sink_restores_the_streams(
    capsys: pytest.CaptureFixture[str], capture: OutputCapture, tmp_path: Path
) -> None:
    original = sys.stdout, sys.stderr
    first = capture.add_sink(tmp_path / "a.log")
    print("one")
    second = capture.add_sink(tmp_path / "b.log")
    print("two")

    capture.remove_sink(first)
    assert first.closed
    assert sys.stdout is not original[0]  # b.log still needs the wrappers
    print("three")
    capture.remove_sink(second)
    capture.remove_sink(second)  # a second removal does nothing

    assert (sys.stdout, sys.stderr) == original
    print("four")
    assert read(tmp_path / "a.log") == "one\ntwo\n"
    assert read(tmp_path / "b.log") == "two\nthree\n"
    assert capsys.readouterr().out == "one\ntwo\nthree\nfour\n"


def test_streams_replaced_by_someone_else_are_left_alone(
    capsys: pytest.CaptureFixture[str], capture: OutputCapture, tmp_path: Path
) -> None:
    sink = capture.add_sink(tmp_path / "out.log")
    ours = sys.stdout
    replacement = io.StringIO()
    sys.stdout = replacement

    capture.remove_sink(sink)

    assert sys.stdout is replacement
    ours.write("through a stale reference\n")  # passes through, recorded nowhere
    again = capture.add_sink(tmp_path / "again.log")
    ours.write("still not recorded\n")
    print("recorded")
    capture.remove_sink(again)
    assert sys.stdout is replacement
    assert capsys.readouterr().out == "through a stale reference\nstill not recorded\n"
    assert read(tmp_path / "again.log") == "recorded\n"


def _resolve(text: str) -> str:
    """What a line-oriented log should keep of ``text``: per line, the last \\r-segment shown."""
    *lines, tail = text.split("\n")

    def shown(line: str) -> str:
        return next((seg for seg in reversed(line.split("\r")) if seg), "")

    stored = "".join(shown(line) + "\n" for line in lines)
    return stored + (shown(tail) + "\n" if shown(tail) else "")


@pytest.mark.parametrize(
    ("writes", "expected"),
    [
        (["10%\r20%\r100%\n"], "100%\n"),
        (["hello", " ", "world", "\n"], "hello world\n"),
        (["\r 1/3", "\r 2/3", "\r 3/3", "\n", "done\n"], " 3/3\ndone\n"),
        (["abc\r", "\n"], "abc\n"),  # \r before \n leaves the line on screen
        (["windows\r\n", "line\r\n"], "windows\nline\n"),
        (["a\nb\r c\nd"], "a\n c\nd\n"),
        (["1/10 [>....]", "\b" * 12, "\r2/10 [=>...]", "\n"], "2/10 [=>...]\n"),
        (["\n\n"], "\n\n"),
        (["\r"], ""),
    ],
)
def test_carriage_returns(
    capsys: pytest.CaptureFixture[str],
    capture: OutputCapture,
    tmp_path: Path,
    writes: list[str],
    expected: str,
) -> None:
    sink = capture.add_sink(tmp_path / "out.log")
    for text in writes:
        sys.stdout.write(text)
    capture.remove_sink(sink)

    assert read(tmp_path / "out.log") == expected == _resolve("".join(writes))
    assert capsys.readouterr().out == "".join(writes)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab\r\n", max_size=8), max_size=12))
def test_stored_lines_do_not_depend_on_how_writes_are_split(chunks: list[str]) -> None:
    capture = OutputCapture()
    stream = io.StringIO()
    saved = sys.stdout
    sys.stdout = stream
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory, "out.log")
        try:
            sink = capture.add_sink(path)
            for chunk in chunks:
                sys.stdout.write(chunk)
            capture.remove_sink(sink)
        finally:
            sys.stdout = saved
        assert read(path) == _resolve("".join(chunks))
    assert stream.getvalue() == "".join(chunks)


def test_stdout_and_stderr_keep_their_own_unfinished_lines(
    capsys: pytest.CaptureFixture[str], capture: OutputCapture, tmp_path: Path
) -> None:
    sink = capture.add_sink(tmp_path / "out.log")

    sys.stdout.write("epoch 3: ")
    sys.stderr.write("\r 50%")
    sys.stderr.write("warning: nan\n")  # completes the stderr line
    sys.stdout.write("loss 0.1\n")
    sys.stderr.write("\rprogress")
    capture.remove_sink(sink)

    assert read(tmp_path / "out.log") == (" 50%warning: nan\nepoch 3: loss 0.1\nprogress\n")


def test_flush_sinks_writes_unfinished_lines(
    capsys: pytest.CaptureFixture[str], capture: OutputCapture, tmp_path: Path
) -> None:
    sink = capture.add_sink(tmp_path / "out.log")
    sys.stdout.write("10%\r50%")

    capture.flush_sinks()
    assert read(tmp_path / "out.log") == "50%\n"

    sys.stdout.write("\r100%\n")
    capture.remove_sink(sink)
    assert read(tmp_path / "out.log") == "50%\n100%\n"


def test_concurrent_writers_keep_whole_lines(
    capsys: pytest.CaptureFixture[str], capture: OutputCapture, tmp_path: Path
) -> None:
    sink = capture.add_sink(tmp_path / "out.log")

    def worker(n: int) -> None:
        stream = sys.stdout if n % 2 else sys.stderr
        for i in range(500):
            stream.write(f"thread {n} line {i}\n")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    capture.remove_sink(sink)

    lines = read(tmp_path / "out.log").splitlines()
    assert len(lines) == 8 * 500
    for n in range(8):
        assert [line for line in lines if line.startswith(f"thread {n} ")] == [
            f"thread {n} line {i}" for i in range(500)
        ]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_disk_is_recorded_once_and_never_raised(
    capsys: pytest.CaptureFixture[str], capture: OutputCapture, tmp_path: Path
) -> None:
    errors: list[OSError] = []
    full = capture.add_sink(Path("/dev/full"), on_error=errors.append)
    healthy = capture.add_sink(tmp_path / "out.log")

    for i in range(3):
        print(f"line {i}")  # must not raise

    assert isinstance(full.error, OSError)
    assert full.error.errno == errno.ENOSPC
    assert errors == [full.error]  # reported once, not per line
    assert healthy.error is None
    capture.remove_sink(full)
    capture.remove_sink(healthy)
    assert read(tmp_path / "out.log") == "line 0\nline 1\nline 2\n"
    assert capsys.readouterr().out == "line 0\nline 1\nline 2\n"


def test_a_failing_error_callback_is_contained(
    capsys: pytest.CaptureFixture[str], capture: OutputCapture, tmp_path: Path
) -> None:
    def explode(exc: OSError) -> None:
        raise ValueError("callback bug")

    sink = capture.add_sink(tmp_path / "out.log", on_error=explode)
    # Swap the file for a read-only descriptor: the next write fails with EBADF.
    os.close(sink._fd)
    sink._fd = os.open(os.devnull, os.O_RDONLY)

    print("still fine")

    assert isinstance(sink.error, OSError)
    capture.remove_sink(sink)
    assert capsys.readouterr().out == "still fine\n"


def test_unopenable_sink_is_returned_failed(
    capsys: pytest.CaptureFixture[str], capture: OutputCapture, tmp_path: Path
) -> None:
    original = sys.stdout
    errors: list[OSError] = []

    sink = capture.add_sink(tmp_path / "missing" / "out.log", on_error=errors.append)

    assert isinstance(sink, SinkHandle)
    assert isinstance(sink.error, FileNotFoundError)
    assert errors == [sink.error]
    assert sys.stdout is original  # nothing to capture for
    assert capture.sinks == ()
    capture.remove_sink(sink)  # harmless


def test_a_missing_stdout_stays_missing(
    capsys: pytest.CaptureFixture[str], capture: OutputCapture, tmp_path: Path
) -> None:
    saved = sys.stdout
    sys.stdout = None  # as under pythonw
    try:
        sink = capture.add_sink(tmp_path / "out.log")
        assert sys.stdout is None
        print("to stderr", file=sys.stderr)
        capture.remove_sink(sink)
        assert sys.stdout is None
    finally:
        sys.stdout = saved
    assert read(tmp_path / "out.log") == "to stderr\n"
    assert capsys.readouterr().err == "to stderr\n"


def test_output_capture_is_one_per_process() -> None:
    assert output_capture() is output_capture()
    assert isinstance(output_capture(), OutputCapture)


def test_public_names() -> None:
    assert sorted(runlab.system.__all__) == [
        "OutputCapture",
        "SinkHandle",
        "capture_command",
        "capture_git",
        "capture_host",
        "capture_packages",
        "format_requirements",
        "output_capture",
        "strip_credentials",
    ]
