"""System metrics: a real sampler in real runs, read back through the query API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import types
from pathlib import Path
from typing import Any

import psutil
import pytest

import runlab
from runlab import LogKeyError, SettingsError
from runlab.storage._reader import history_keys
from runlab.system._metrics import SETTLE_S

FAST = 0.05


def _settings(interval: float = FAST, **more: Any) -> dict[str, Any]:
    return {
        "system_metrics_interval": interval,
        "quiet": True,
        "capture_output": False,
        "capture_git": False,
        "capture_packages": False,
        **more,
    }


def _train(run: runlab.Run, steps: int = 40, pause: float = 0.01) -> None:
    for i in range(steps):
        run.log({"loss": 1.0 / (i + 1), "acc": i / steps})
        if i % 10 == 5:
            run.log({"lr": 0.1}, commit=False)
        time.sleep(pause)
    run.log({"eval": 0.5}, step=steps + 10)


def _system_thread_gone(timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(t.name == "runlab-system" for t in threading.enumerate()):
            return True
        time.sleep(0.05)
    return False


def test_samples_hold_plausible_machine_and_process_figures(tmp_path: Path) -> None:
    with runlab.init(dir=tmp_path, settings=_settings()) as run:
        _train(run)

    frame = runlab.Api(tmp_path).run(run.id).system_metrics()

    assert frame.height >= 3
    assert frame["step"].to_list() == list(range(frame.height))  # the sample index
    ncpu = psutil.cpu_count() or 1
    cpu = frame["system/cpu.percent"].drop_nulls()
    assert cpu.len() >= 1 and cpu.min() >= 0 and cpu.max() <= 100 * ncpu  # type: ignore[operator]
    assert frame["system/proc.rss_mb"].min() > 0  # type: ignore[operator]
    assert frame["system/disk.free_gb"].min() > 0  # type: ignore[operator]
    assert frame["system/memory.used_mb"].min() > 0  # type: ignore[operator]
    assert 0 <= frame["system/memory.percent"].max() <= 100  # type: ignore[operator]
    assert frame["system/proc.threads"].min() >= 2  # type: ignore[operator]  # main + writer
    assert frame["system/proc.open_files"].min() > 0  # type: ignore[operator]
    for key in ("disk.read_mb_s", "disk.write_mb_s", "net.sent_mb_s", "net.recv_mb_s"):
        if f"system/{key}" in frame.columns:  # absent where the OS has no such counters
            assert frame[f"system/{key}"].min() >= 0  # type: ignore[operator]
    times = frame["timestamp"].to_list()
    assert times == sorted(times)
    assert run.start_time <= times[0] and times[-1] <= time.time()


def test_the_user_step_and_history_are_the_same_with_the_sampler_on_or_off(
    tmp_path: Path,
) -> None:
    runs = {}
    for interval in (FAST, 0):
        with runlab.init(dir=tmp_path / str(interval), settings=_settings(interval)) as run:
            _train(run)
            runs[interval] = (run, run.step)

    (on, on_step), (off, off_step) = runs[FAST], runs[0]
    assert on_step == off_step == 51
    view_on = runlab.Api(tmp_path / str(FAST)).run(on.id)
    view_off = runlab.Api(tmp_path / "0").run(off.id)
    assert view_on.history_keys() == view_off.history_keys() == ["loss", "acc", "lr", "eval"]
    assert view_on.history().drop("timestamp").equals(view_off.history().drop("timestamp"))
    assert view_on.summary == view_off.summary  # system metrics stay out of the summary
    assert not any(k.startswith("system") for k in view_on.summary)
    assert any(k.startswith("system/") for k in history_keys(view_on.dir))


def test_system_keys_can_be_read_with_history_by_name(tmp_path: Path) -> None:
    with runlab.init(dir=tmp_path, settings=_settings()) as run:
        _train(run, steps=20)

    view = runlab.Api(tmp_path).run(run.id)
    cpu = view.history(["system/cpu.percent"])
    assert cpu.columns == ["step", "timestamp", "system/cpu.percent"]
    assert cpu["step"].to_list() == list(range(cpu.height))
    assert cpu.height == view.system_metrics().height


def test_interval_zero_records_no_system_metrics(tmp_path: Path) -> None:
    assert _system_thread_gone()  # an earlier test's sampler thread idles out first
    with runlab.init(dir=tmp_path, settings=_settings(0)) as run:
        _train(run, steps=10)
        assert not any(t.name == "runlab-system" for t in threading.enumerate())

    assert not [k for k in history_keys(run.dir) if k.startswith("system/")]
    assert runlab.Api(tmp_path).run(run.id).system_metrics().columns == ["step", "timestamp"]


def test_the_interval_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNLAB_SYSTEM_METRICS_INTERVAL", "0")
    assert runlab.Settings.resolve().system_metrics_interval == 0.0
    monkeypatch.setenv("RUNLAB_SYSTEM_METRICS_INTERVAL", "0.05")
    with runlab.init(dir=tmp_path, settings={"quiet": True, "capture_output": False}) as run:
        assert run.settings.system_metrics_interval == 0.05
        time.sleep(0.3)
    assert runlab.Api(tmp_path).run(run.id).system_metrics().height >= 1
    assert runlab.Settings().system_metrics_interval == 10.0  # the default


@pytest.mark.parametrize("value", [-1, -0.5, float("nan"), float("inf"), True, "10"])
def test_an_invalid_interval_names_the_value_and_the_rule(value: Any, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"system_metrics_interval=.* must be a number >= 0"):
        runlab.init(dir=tmp_path, settings={"system_metrics_interval": value})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("often", r"RUNLAB_SYSTEM_METRICS_INTERVAL='often' is not a number"),
        ("-2", r"RUNLAB_SYSTEM_METRICS_INTERVAL='-2' is invalid: .* must be a number >= 0"),
    ],
)
def test_an_invalid_environment_value_names_the_variable(
    raw: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNLAB_SYSTEM_METRICS_INTERVAL", raw)
    with pytest.raises(SettingsError, match=message):
        runlab.Settings.resolve()


def test_users_may_not_log_system_keys(tmp_path: Path) -> None:
    with runlab.init(dir=tmp_path, settings=_settings(0)) as run:
        with pytest.raises(LogKeyError, match=r"'system/cpu.percent' is reserved"):
            run.log({"system/cpu.percent": 1.0})
        with pytest.raises(LogKeyError, match=r"'system/gpu' is reserved"):
            run.log({"system": {"gpu": 1.0}})
        run.log({"system": 1.0, "subsystem/cpu": 2.0})  # only the "system/" prefix is taken
        assert run.step == 1


def test_the_sampler_stops_at_finish(tmp_path: Path) -> None:
    run = runlab.init(dir=tmp_path, settings=_settings())
    time.sleep(0.4)
    run.finish()
    count = runlab.Api(tmp_path).run(run.id).system_metrics().height
    assert count >= 2

    time.sleep(3 * FAST)
    assert runlab.Api(tmp_path).run(run.id).system_metrics().height == count
    assert _system_thread_gone()


def test_one_sampler_thread_serves_runs_with_their_own_cadence(tmp_path: Path) -> None:
    slow = runlab.init(dir=tmp_path, settings=_settings(30.0))
    fast = runlab.init(dir=tmp_path, settings=_settings(FAST))
    time.sleep(0.5)
    assert sum(t.name == "runlab-system" for t in threading.enumerate()) == 1
    fast.finish()
    slow.finish()

    api = runlab.Api(tmp_path)
    assert api.run(fast.id).system_metrics().height >= 4
    assert api.run(slow.id).system_metrics().height == 1  # first sample is due at 1.1 s: the last


def test_a_run_shorter_than_the_settling_time_records_nothing(tmp_path: Path) -> None:
    started = time.monotonic()
    with runlab.init(dir=tmp_path, settings=_settings(10.0)) as run:
        run.log({"x": 1.0})
    if time.monotonic() - started >= SETTLE_S:
        pytest.skip("the machine is too busy: init() and finish() took the settling time")
    assert runlab.Api(tmp_path).run(run.id).system_metrics().height == 0


def test_failing_psutil_readings_are_dropped_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(*_args: Any, **_kwargs: Any) -> Any:
        raise psutil.AccessDenied(os.getpid())

    monkeypatch.setattr(psutil, "swap_memory", denied)
    monkeypatch.setattr(psutil.Process, "num_fds", denied)
    with runlab.init(dir=tmp_path, settings=_settings()) as run:
        time.sleep(0.4)

    frame = runlab.Api(tmp_path).run(run.id).system_metrics()
    assert frame.height >= 2
    assert "system/swap.percent" not in frame.columns
    assert "system/proc.open_files" not in frame.columns
    assert frame["system/proc.rss_mb"].min() > 0  # type: ignore[operator]
    assert run.faults == ()


# -- GPUs through NVML: a stand-in for nvidia-ml-py's pynvml -----------------------------------


def _fake_nvml(monkeypatch: pytest.MonkeyPatch, *, init_error: str | None = None) -> list[str]:
    """Install a stand-in ``pynvml`` with two GPUs (GPU 1 reports no power); return its calls."""
    calls: list[str] = []

    class NVMLError(Exception):
        pass

    def init() -> None:
        calls.append("init")
        if init_error is not None:
            raise NVMLError(init_error)

    def power(handle: int) -> int:
        if handle == 1:
            raise NVMLError("Not Supported")
        return 250_500  # milliwatts

    fake = types.ModuleType("pynvml")
    attrs: dict[str, Any] = {
        "NVML_TEMPERATURE_GPU": 0,
        "NVML_CLOCK_SM": 1,
        "NVML_CLOCK_MEM": 2,
        "nvmlInit": init,
        "nvmlShutdown": lambda: calls.append("shutdown"),
        "nvmlDeviceGetCount": lambda: 2,
        "nvmlDeviceGetHandleByIndex": lambda i: i,
        "nvmlDeviceGetUtilizationRates": lambda h: types.SimpleNamespace(gpu=87 + h, memory=40),
        "nvmlDeviceGetMemoryInfo": lambda h: types.SimpleNamespace(
            total=80 * 2**30, used=20 * 2**30, free=60 * 2**30
        ),
        "nvmlDeviceGetPowerUsage": power,
        "nvmlDeviceGetTemperature": lambda h, sensor: 61 if sensor == 0 else -1,
        "nvmlDeviceGetClockInfo": lambda h, clock: {1: 1980, 2: 2619}[clock],
        "nvmlDeviceGetCurrentClocksThrottleReasons": lambda h: 4,
    }
    for name, value in attrs.items():
        setattr(fake, name, value)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    return calls


def test_gpu_metrics_from_nvml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_nvml(monkeypatch)
    with runlab.init(dir=tmp_path, settings=_settings()) as run:
        time.sleep(0.3)

    last = runlab.Api(tmp_path).run(run.id).system_metrics().row(-1, named=True)
    assert {k: v for k, v in last.items() if k.startswith("system/gpu.0.")} == {
        "system/gpu.0.util": 87.0,
        "system/gpu.0.memory_used_mb": 20 * 1024.0,
        "system/gpu.0.memory_percent": 25.0,
        "system/gpu.0.power_w": 250.5,
        "system/gpu.0.temp_c": 61.0,
        "system/gpu.0.sm_clock_mhz": 1980.0,
        "system/gpu.0.mem_clock_mhz": 2619.0,
        "system/gpu.0.throttle_reasons": 4,
    }
    assert last["system/gpu.1.util"] == 88.0
    assert "system/gpu.1.power_w" not in last  # unsupported on that GPU: dropped, alone
    assert calls == ["init", "shutdown"]
    assert run.faults == ()


def test_without_working_nvml_the_gpu_part_is_off_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_nvml(monkeypatch, init_error="NVML Shared Library Not Found")
    with runlab.init(dir=tmp_path, settings=_settings()) as run:
        time.sleep(0.3)

    frame = runlab.Api(tmp_path).run(run.id).system_metrics()
    assert frame.height >= 1
    assert not [c for c in frame.columns if c.startswith("system/gpu")]
    assert "system/cpu.percent" in frame.columns
    assert run.faults == ()


# -- whole processes ------------------------------------------------------------------------------


def _script(tmp_path: Path, body: str) -> subprocess.Popen[str]:
    env = dict(os.environ, RUNLAB_SILENT="1", RUNLAB_DIR=str(tmp_path / "store"))
    code = textwrap.dedent(body)
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_run_killed_by_sigterm_ends_with_its_samples(tmp_path: Path) -> None:
    proc = _script(
        tmp_path,
        """
        import time, runlab
        run = runlab.init(settings={"system_metrics_interval": 0.05, "capture_git": False})
        print(run.id, flush=True)
        step = 0
        while True:
            run.log({"loss": 1.0 / (step + 1)})
            step += 1
            time.sleep(0.005)
        """,
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    time.sleep(0.6)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)

    assert proc.returncode == -signal.SIGTERM, err
    view = runlab.Api(tmp_path / "store").run(run_id)
    assert view.status == runlab.RunStatus.KILLED
    frame = view.system_metrics()
    assert frame.height >= 3
    assert frame["timestamp"].max() <= view.ended_at  # type: ignore[operator]
    assert view.history(["loss"]).height > 10


def test_a_forked_child_does_not_sample_its_parents_run(tmp_path: Path) -> None:
    proc = _script(
        tmp_path,
        """
        import json, os, threading, time, runlab
        run = runlab.init(settings={"system_metrics_interval": 0.05, "capture_git": False})
        time.sleep(0.3)
        pid = os.fork()
        if pid == 0:
            time.sleep(0.3)
            names = [t.name for t in threading.enumerate()]
            os._exit(0 if run._system._closed and "runlab-system" not in names else 3)
        _, status = os.waitpid(pid, 0)
        time.sleep(0.2)
        run.finish()
        print(json.dumps({"id": run.id, "child": os.waitstatus_to_exitcode(status)}))
        """,
    )
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["child"] == 0
    frame = runlab.Api(tmp_path / "store").run(result["id"]).system_metrics()
    assert frame["step"].to_list() == list(range(frame.height))  # one writer of the samples
    assert frame.height >= 5
