"""System metrics: one daemon thread per process samples the machine, the process and its GPUs.

A run starts one :class:`SystemSampler` (every ``system_metrics_interval`` seconds, default 10;
0 turns it off). Each sample is one record of ``system/*`` history keys on the sampler's own
step axis: the sample index 0, 1, 2, ..., so the user's ``run.step`` never moves. The run's
writer puts samples in history frames of their own (``HistoryWriter.submit_aside``): they stay
out of the summary, and readers leave them out of ``history()`` unless named
(``RunView.system_metrics()`` reads them all). MB are 2**20 bytes, GB 2**30 bytes; rates are
per second over the time since the previous sample.

====================================  ========================================================
key                                   value
====================================  ========================================================
``system/cpu.percent``                CPU use of the whole machine, % of all cores (0-100)
``system/memory.percent``             memory in use, % of total
``system/memory.used_mb``             memory in use (total - available), MB
``system/swap.percent``               swap in use, % of total
``system/disk.read_mb_s``             all disks, MB read per second
``system/disk.write_mb_s``            all disks, MB written per second
``system/disk.free_gb``               free space on the run directory's filesystem, GB
``system/net.sent_mb_s``              all interfaces, MB sent per second
``system/net.recv_mb_s``              all interfaces, MB received per second
``system/proc.cpu_percent``           this process's CPU use, % of one core (may exceed 100)
``system/proc.rss_mb``                this process's resident memory, MB
``system/proc.threads``               this process's threads
``system/proc.open_files``            this process's open file descriptors (handles on Windows)
``system/gpu.<i>.util``               GPU ``i`` (NVML index): busy time, %
``system/gpu.<i>.memory_used_mb``     GPU memory in use, MB
``system/gpu.<i>.memory_percent``     GPU memory in use, % of total
``system/gpu.<i>.power_w``            power draw, W
``system/gpu.<i>.temp_c``             core temperature, °C
``system/gpu.<i>.sm_clock_mhz``       SM clock, MHz
``system/gpu.<i>.mem_clock_mhz``      memory clock, MHz
``system/gpu.<i>.throttle_reasons``   NVML clock-throttle (clock event) reason bit mask
====================================  ========================================================

GPU keys need nvidia-ml-py (``pynvml``) and a working driver; without them the GPU part is off,
silently. A reading that fails three times in a row (``AccessDenied``, a query the GPU does not
support) is dropped for the rest of the run; the others go on. Nothing here ever raises into the
training program.

Timing: the sampler waits ``min(interval, 0.1)`` s before it starts measuring (a run shorter than
that records no system metrics: CPU and rate figures over a shorter window are noise), takes its
first sample ``min(interval, 1)`` s later, then one every ``interval`` s, and a last one when
stopped. Only the standard library is imported at module import; psutil and pynvml are imported
on the sampler's thread.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from runlab._ticker import Ticker, ticker
from runlab.storage._layout import SYSTEM_PREFIX

Emit = Callable[[tuple[int, float, dict[str, Any]]], None]
Reading = Callable[[dict[str, Any]], None]

SETTLE_S = 0.1
"""Seconds (at most) a run's sampler waits before it starts measuring."""
FIRST_SAMPLE_S = 1.0
"""Seconds (at most) between the start of measuring and the first sample."""
MIN_WINDOW_S = 0.02
"""The last sample at stop is skipped when the previous one is younger than this."""
MAX_FAILURES = 3
"""Consecutive failures after which a reading is dropped for the rest of the run."""
IDLE_EXIT_S = 1.0
"""Seconds the sampler thread stays with no run to sample before it exits."""
STOP_WAIT_S = 2.0
"""Seconds ``stop()`` waits for a sample in progress on the sampler thread."""
_MB = float(1 << 20)
_GB = float(1 << 30)


class SystemSampler:
    """One run's system metrics, sampled on the process's sampler thread.

    Each sample goes to ``emit``. One daemon thread serves every open run of a process, each on
    its own cadence and with its own measuring windows: runs of a sweep start and end by the
    thousand, and a thread per run would cost more than a short run itself. The thread exits
    :data:`IDLE_EXIT_S` after the last run stops.

    Args:
        interval: seconds between samples (> 0).
        disk_path: a path on the filesystem whose free space is recorded (the run directory).
        emit: called with ``(sample_index, unix_time, {key: value})``, on the sampler thread
            (or on the thread calling ``stop()``, for the last sample); it must not block.

    Example:
        >>> import tempfile
        >>> got = []
        >>> sampler = SystemSampler(0.05, tempfile.gettempdir(), got.append)
        >>> sampler.start(); time.sleep(0.3); sampler.stop()
        >>> got[0][0], "system/cpu.percent" in got[0][2]
        (0, True)
    """

    def __init__(self, interval: float, disk_path: str | os.PathLike[str], emit: Emit) -> None:
        self.interval = interval
        self.disk_path = os.fspath(disk_path)
        self.samples = 0
        self._emit = emit
        self._lock = threading.Lock()
        self._sources: _Sources | None = None
        self._closed = False
        self.deadline = 0.0
        self.wanted = False
        self._last = 0.0

    def start(self) -> None:
        self.deadline = time.monotonic() + min(self.interval, SETTLE_S)
        _hub().add(self)

    def stop(self) -> None:
        """Take a last sample (in this thread) and leave the sampler thread.

        Waits at most :data:`STOP_WAIT_S` for a sample in progress; never raises.
        """
        _hub().remove(self)
        if not self._lock.acquire(timeout=STOP_WAIT_S):
            self._closed = True  # a hung query (NVML): give up the last sample
            return
        try:
            if self._closed:
                return
            self._closed = True
            if self._sources is not None:
                if time.monotonic() - self._last >= MIN_WINDOW_S:
                    self._sample(self._sources)
                self._sources.close()
                self._sources = None
        except Exception:  # never raise into the program
            pass
        finally:
            self._lock.release()

    def detach(self) -> None:
        """Stop without a last sample and without waiting (a forked child's copy)."""
        self._closed = True

    def turn(self, now: float) -> None:
        """Sampler thread: prime the measuring windows, or take a sample; never raises."""
        with self._lock:
            if self._closed:
                return
            now = time.monotonic()
            try:
                if self._sources is None:
                    self._sources = _Sources(self.disk_path)
                    self.deadline = now + min(self.interval, FIRST_SAMPLE_S)
                else:
                    self._sample(self._sources)
                    self.deadline = max(self.deadline + self.interval, now)
            except Exception:
                self.deadline = now + self.interval
            self._last = now

    def _sample(self, sources: _Sources) -> None:
        values = sources.read()
        if values:
            self._emit((self.samples, time.time(), values))
            self.samples += 1


def _hub() -> Ticker:
    """This process's sampler thread."""
    return ticker("runlab-system", idle_exit=IDLE_EXIT_S)


class _Sources:
    """The readings of one sampler: psutil's, then NVML's when available."""

    def __init__(self, disk_path: str) -> None:
        self.readings: list[Reading] = []
        self.failures: dict[Reading, int] = {}
        self._nvml: Any = None
        with contextlib.suppress(Exception):
            self.readings += _Psutil(disk_path).readings()
        with contextlib.suppress(Exception):
            self._open_nvml()

    def read(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for reading in list(self.readings):
            try:
                reading(out)
            except Exception:
                count = self.failures.get(reading, 0) + 1
                self.failures[reading] = count
                if count >= MAX_FAILURES:
                    self.readings.remove(reading)
            else:
                self.failures.pop(reading, None)
        return out

    def _open_nvml(self) -> None:
        try:
            import pynvml
        except Exception:  # not installed (an optional extra): no GPU metrics, no noise
            return
        pynvml.nvmlInit()
        self._nvml = pynvml
        for index in range(int(pynvml.nvmlDeviceGetCount())):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            self.readings += _gpu_readings(pynvml, index, handle)

    def close(self) -> None:
        if self._nvml is not None:
            with contextlib.suppress(Exception):
                self._nvml.nvmlShutdown()
            self._nvml = None


class _Psutil:
    """Machine and process readings through psutil; rates from the previous sample's counters."""

    def __init__(self, disk_path: str) -> None:
        import psutil

        self.psutil = psutil
        self.disk_path = disk_path
        self.proc = psutil.Process()
        self.proc.cpu_percent(None)  # primes the process's CPU window
        self.cpu_times = _busy_total(psutil.cpu_times())  # and the machine's
        self.disk = self._disk_counters()
        self.disk_t = time.monotonic()
        self.net = self._net_counters()
        self.net_t = self.disk_t
        count_fds = getattr(self.proc, "num_fds", None) or getattr(self.proc, "num_handles", None)
        self.count_fds: Callable[[], int] | None = count_fds

    def readings(self) -> list[Reading]:
        found: list[Reading] = [self.cpu, self.memory, self.swap, self.disk_free, self.process]
        if self.disk is not None:
            found.append(self.disk_io)
        if self.net is not None:
            found.append(self.net_io)
        return found

    def _disk_counters(self) -> tuple[int, int] | None:
        with contextlib.suppress(Exception):  # no disks (some containers) or no permission
            c = self.psutil.disk_io_counters()
            if c is not None:
                return int(c.read_bytes), int(c.write_bytes)
        return None

    def _net_counters(self) -> tuple[int, int] | None:
        with contextlib.suppress(Exception):
            c = self.psutil.net_io_counters()
            if c is not None:
                return int(c.bytes_sent), int(c.bytes_recv)
        return None

    def cpu(self, out: dict[str, Any]) -> None:
        # Computed here rather than by psutil.cpu_percent(), whose window is per thread: one
        # thread samples every run, each on its own cadence.
        busy, total = _busy_total(self.psutil.cpu_times())
        d_busy, d_total = busy - self.cpu_times[0], total - self.cpu_times[1]
        self.cpu_times = (busy, total)
        if d_total > 0:
            out[f"{SYSTEM_PREFIX}cpu.percent"] = min(100.0, max(0.0, 100.0 * d_busy / d_total))

    def memory(self, out: dict[str, Any]) -> None:
        vm = self.psutil.virtual_memory()
        out[f"{SYSTEM_PREFIX}memory.percent"] = float(vm.percent)
        out[f"{SYSTEM_PREFIX}memory.used_mb"] = (vm.total - vm.available) / _MB

    def swap(self, out: dict[str, Any]) -> None:
        out[f"{SYSTEM_PREFIX}swap.percent"] = float(self.psutil.swap_memory().percent)

    def disk_free(self, out: dict[str, Any]) -> None:
        out[f"{SYSTEM_PREFIX}disk.free_gb"] = self.psutil.disk_usage(self.disk_path).free / _GB

    def disk_io(self, out: dict[str, Any]) -> None:
        now, before, dt = self._disk_counters(), self.disk, _since(self.disk_t)
        if now is None or before is None:
            raise OSError("disk I/O counters unavailable")
        self.disk, self.disk_t = now, time.monotonic()
        out[f"{SYSTEM_PREFIX}disk.read_mb_s"] = _rate(now[0], before[0], dt)
        out[f"{SYSTEM_PREFIX}disk.write_mb_s"] = _rate(now[1], before[1], dt)

    def net_io(self, out: dict[str, Any]) -> None:
        now, before, dt = self._net_counters(), self.net, _since(self.net_t)
        if now is None or before is None:
            raise OSError("network I/O counters unavailable")
        self.net, self.net_t = now, time.monotonic()
        out[f"{SYSTEM_PREFIX}net.sent_mb_s"] = _rate(now[0], before[0], dt)
        out[f"{SYSTEM_PREFIX}net.recv_mb_s"] = _rate(now[1], before[1], dt)

    def process(self, out: dict[str, Any]) -> None:
        proc = self.proc
        with proc.oneshot():
            out[f"{SYSTEM_PREFIX}proc.cpu_percent"] = float(proc.cpu_percent(None))
            out[f"{SYSTEM_PREFIX}proc.rss_mb"] = proc.memory_info().rss / _MB
            out[f"{SYSTEM_PREFIX}proc.threads"] = int(proc.num_threads())
            if self.count_fds is not None:
                with contextlib.suppress(Exception):  # AccessDenied on some platforms
                    out[f"{SYSTEM_PREFIX}proc.open_files"] = int(self.count_fds())


def _busy_total(times: Any) -> tuple[float, float]:
    """(busy, total) CPU seconds from ``psutil.cpu_times()``, counted as psutil does."""
    total = sum(times)
    # Guest time is already part of user/nice on Linux; iowait is idle time there.
    total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    return total - times.idle - getattr(times, "iowait", 0.0), total


def _since(t: float) -> float:
    return max(time.monotonic() - t, 1e-9)


def _rate(now: int, before: int, seconds: float) -> float:
    # Counters can go back (a disk or interface removed): a negative rate is no rate.
    return max(now - before, 0) / seconds / _MB


def _gpu_readings(nvml: Any, index: int, handle: Any) -> list[Reading]:
    """One reading per NVML query of GPU ``index`` (each fails, and is dropped, alone)."""
    key = f"{SYSTEM_PREFIX}gpu.{index}."

    def util(out: dict[str, Any]) -> None:
        out[key + "util"] = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)

    def memory(out: dict[str, Any]) -> None:
        info = nvml.nvmlDeviceGetMemoryInfo(handle)
        out[key + "memory_used_mb"] = int(info.used) / _MB
        if info.total:
            out[key + "memory_percent"] = 100.0 * int(info.used) / int(info.total)

    def power(out: dict[str, Any]) -> None:
        out[key + "power_w"] = nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0  # milliwatts

    def temperature(out: dict[str, Any]) -> None:
        sensor = getattr(nvml, "NVML_TEMPERATURE_GPU", 0)
        out[key + "temp_c"] = float(nvml.nvmlDeviceGetTemperature(handle, sensor))

    def sm_clock(out: dict[str, Any]) -> None:
        clock = getattr(nvml, "NVML_CLOCK_SM", 1)
        out[key + "sm_clock_mhz"] = float(nvml.nvmlDeviceGetClockInfo(handle, clock))

    def mem_clock(out: dict[str, Any]) -> None:
        clock = getattr(nvml, "NVML_CLOCK_MEM", 2)
        out[key + "mem_clock_mhz"] = float(nvml.nvmlDeviceGetClockInfo(handle, clock))

    # Renamed "clock event reasons" in recent drivers; older bindings have only the old name.
    reasons = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
        nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", None
    )

    def throttle(out: dict[str, Any]) -> None:
        if reasons is None:
            raise AttributeError("no NVML clock-throttle query")
        out[key + "throttle_reasons"] = int(reasons(handle))

    return [util, memory, power, temperature, sm_clock, mem_clock, throttle]
