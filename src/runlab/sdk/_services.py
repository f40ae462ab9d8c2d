"""The side services a live run starts and stops: system metrics, output capture, environment
capture.

Each is a convenience: a service that cannot start is reported through the run's fault hook
(``run.faults`` and one warning) and the run goes on without it. Their modules are imported
here only when a run starts one, so ``import runlab`` stays light.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from runlab.storage._layout import FILES_DIR, OUTPUT_LOG

if TYPE_CHECKING:
    from runlab._settings import Settings
    from runlab.scenario import Scenario
    from runlab.sdk._capture import RunCapture
    from runlab.storage._spool import Spool
    from runlab.system._metrics import Emit, SystemSampler
    from runlab.system._output import SinkHandle

FaultHook = Callable[[str, BaseException], None]


def start_system_metrics(
    interval: float, run_dir: Path, emit: Emit, on_fault: FaultHook
) -> SystemSampler | None:
    """A started sampler of the system's metrics every ``interval`` seconds (``None`` when 0).

    A sampler that was made but failed to start is still returned, so that the run stops (or
    detaches) it like one that started.
    """
    if not interval:
        return None
    sampler = None
    try:
        from runlab.system._metrics import SystemSampler

        sampler = SystemSampler(interval, run_dir, emit)
        sampler.start()
    except Exception as exc:  # metrics are a convenience; never block a run for them
        on_fault("system metrics", exc)
    return sampler


def start_output_capture(run_dir: Path, on_fault: FaultHook) -> SinkHandle | None:
    """Start copying this process's stdout and stderr into the run's ``files/output.log``."""
    try:
        from runlab.system._output import output_capture

        return output_capture().add_sink(
            run_dir / FILES_DIR / OUTPUT_LOG,
            on_error=lambda exc: on_fault("output.log", exc),
        )
    except Exception as exc:  # capture is a convenience; never block a run for it
        on_fault("output capture", exc)
        return None


def stop_output_capture(sink: SinkHandle) -> None:
    from runlab.system._output import output_capture

    with contextlib.suppress(Exception):
        output_capture().remove_sink(sink)


def start_capture(
    run_dir: Path,
    settings: Settings,
    scenario: Scenario | None,
    seed: int | None,
    on_fault: FaultHook,
    spool: Spool | None,
    cwd: str,
) -> RunCapture:
    """Start capturing the run's environment (command, host, packages, git) in the background."""
    from runlab.sdk._capture import RunCapture

    capture = RunCapture(run_dir, settings, scenario, seed, on_fault, spool, cwd)
    capture.start()
    return capture
