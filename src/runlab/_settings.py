"""One settings object, resolved once: explicit argument > ``RUNLAB_*`` environment > default."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Mapping
from typing import Any, Literal, get_args

from runlab._errors import SettingsError

Mode = Literal["online", "offline", "disabled"]
MODES: tuple[str, ...] = get_args(Mode)

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})

# Environment names that differ from ``RUNLAB_<FIELD>``.
_ENV_ALIASES = {"quiet": ("RUNLAB_SILENT", "RUNLAB_QUIET")}


@dataclasses.dataclass(frozen=True)
class Settings:
    """How a run records.

    Every field can also be set as ``RUNLAB_<FIELD>`` in the environment (``quiet`` also as
    ``RUNLAB_SILENT``). An explicit value wins over the environment, which wins over the default.

    Example:
        >>> Settings(flush_interval=0.05).flush_interval
        0.05
    """

    dir: str = "./runlab"
    """Root directory of the run store."""
    project: str = "default"
    mode: Mode = "online"
    flush_interval: float = 0.1
    """Seconds between writer flushes: at most this much is lost on SIGKILL."""
    write_through: bool = False
    """Write every ``log()`` call to the OS before returning (slow, loses nothing on SIGKILL)."""
    fsync: bool = False
    """Also ``fsync`` each flush (survives power loss; costs milliseconds per flush)."""
    heartbeat_interval: float = 10.0
    """Seconds between heartbeats; a running run missing 3 beats reads as crashed."""
    buffer_size: int = 20_000
    """Log calls buffered before ``log()`` waits for the writer (bounds memory); wide calls
    are also capped at about 200k queued points, whichever comes first."""
    quiet: bool = False
    """Silence runlab's terminal lines."""
    capture_output: bool = True
    """Tee stdout/stderr into the run's ``output.log``."""
    capture_git: bool = True
    capture_env: bool = True
    """Host, user, OS, Python, CPU, memory and GPU description."""
    capture_packages: bool = True
    capture_command: bool = True
    """Command line, argv and working directory."""
    system_metrics_interval: float = 10.0
    """Seconds between system-metrics samples (CPU, memory, disk, network, process, GPUs) kept as
    ``system/*`` history keys; 0 turns the sampler off."""
    data_dir: str = "./data"
    """Where ``setup_logger_kwargs`` (and grid launches) put experiment output directories."""
    force_datestamp: bool = False
    """Always prefix ``setup_logger_kwargs`` output directories with a date and time stamp."""
    default_shorthand: bool = True
    """``ExperimentGrid.add`` derives a shorthand from a key given none (off: the full key)."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise SettingsError(f"mode={self.mode!r} is not one of {', '.join(MODES)}")
        for name in ("flush_interval", "heartbeat_interval"):
            value = getattr(self, name)
            # Beyond TIMEOUT_MAX (inf included) the writer thread's timed wait would raise.
            if not isinstance(value, (int, float)) or not 0 < value <= threading.TIMEOUT_MAX:
                raise SettingsError(
                    f"{name}={value!r} must be a number > 0 (seconds, at most "
                    f"{threading.TIMEOUT_MAX:.0f})"
                )
        interval = self.system_metrics_interval
        if (
            isinstance(interval, bool)
            or not isinstance(interval, (int, float))
            or not 0 <= interval <= threading.TIMEOUT_MAX
        ):
            raise SettingsError(
                f"system_metrics_interval={interval!r} must be a number >= 0 (seconds between "
                f"samples, at most {threading.TIMEOUT_MAX:.0f}; 0 turns system metrics off)"
            )
        if not isinstance(self.buffer_size, int) or self.buffer_size < 1:
            raise SettingsError(f"buffer_size={self.buffer_size!r} must be an int >= 1")

    @classmethod
    def resolve(
        cls,
        settings: Settings | Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        **explicit: Any,
    ) -> Settings:
        """Build settings from explicit values, then ``settings``, then the environment.

        Args:
            settings: a ``Settings`` (all of its fields count as explicit) or a dict of fields.
            env: the environment to read (``os.environ`` when None).
            **explicit: fields given as direct arguments (``None`` means "not given").

        Raises:
            SettingsError: unknown field, or a value that breaks its rule.
        """
        given = {k: v for k, v in explicit.items() if v is not None}
        if isinstance(settings, Settings):
            # Every field of a Settings counts as explicit: the environment cannot change it.
            return dataclasses.replace(settings, **given) if given else settings
        env = os.environ if env is None else env
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        from_env: dict[str, str] = {}
        for name, field in fields.items():
            names = _ENV_ALIASES.get(name, (f"RUNLAB_{name.upper()}",))
            for env_name in names:
                raw = env.get(env_name)
                if raw is not None:
                    values[name] = _parse_env(env_name, raw, field.default)
                    from_env[name] = f"{env_name}={raw!r}"
                    break
        if settings is not None:
            unknown = sorted(set(settings) - set(fields))
            if unknown:
                raise SettingsError(
                    f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}"
                )
            values.update(settings)
            for name in settings:
                from_env.pop(name, None)
        values.update(given)
        for name, source in from_env.items():
            if name in given:
                continue
            try:  # check alone, so the message can name the variable it came from
                cls(**{name: values[name]})
            except SettingsError as exc:
                raise SettingsError(f"{source} is invalid: {exc}") from None
        return cls(**values)


def _parse_env(name: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise SettingsError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")
    if isinstance(default, (int, float)):
        try:
            return type(default)(raw)
        except ValueError:
            kind = "an integer" if isinstance(default, int) else "a number"
            raise SettingsError(f"{name}={raw!r} is not {kind}") from None
    return raw
