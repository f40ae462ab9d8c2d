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
ALERT_LEVELS = ("INFO", "WARN", "ERROR")
"""Alert levels, least severe first (``runlab.AlertLevel`` names them)."""

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
    alert_console: bool = True
    """Print alerts on runlab's terminal console (silenced by ``quiet``/``RUNLAB_SILENT``)."""
    alert_console_level: str = "INFO"
    """Least level (``INFO``, ``WARN``, ``ERROR``) an alert needs to reach each sink."""
    alert_webhook: str | None = None
    """URL that receives each alert as a JSON object (``POST``)."""
    alert_webhook_level: str = "INFO"
    alert_slack_webhook: str | None = None
    """A Slack-compatible incoming-webhook URL (``{"text": ..., "blocks": [...]}``)."""
    alert_slack_webhook_level: str = "INFO"
    alert_email: str | None = None
    """Comma-separated addresses that receive alerts by email (through ``alert_smtp``)."""
    alert_email_level: str = "INFO"
    alert_smtp: str = "localhost:25"
    """The SMTP server for alert email, ``host:port``."""
    alert_smtp_from: str | None = None
    """Sender address of alert email (default ``runlab@<host>``)."""
    alert_smtp_user: str | None = None
    alert_smtp_password: str | None = dataclasses.field(default=None, repr=False)
    alert_smtp_starttls: bool = False
    """Upgrade the SMTP connection with STARTTLS before logging in."""

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
        self._check_alerts()

    def _check_alerts(self) -> None:
        for name in (
            "alert_console_level",
            "alert_webhook_level",
            "alert_slack_webhook_level",
            "alert_email_level",
        ):
            value = getattr(self, name)
            level = value.strip().upper() if isinstance(value, str) else value
            level = {"WARNING": "WARN"}.get(level, level)
            if level not in ALERT_LEVELS:
                raise SettingsError(f"{name}={value!r} is not one of {', '.join(ALERT_LEVELS)}")
            object.__setattr__(self, name, level)  # normalised: "warn" and "WARNING" -> "WARN"
        for name in ("alert_webhook", "alert_slack_webhook", "alert_email"):
            if getattr(self, name) == "":
                object.__setattr__(self, name, None)  # RUNLAB_ALERT_WEBHOOK= turns a sink off
        for name in ("alert_webhook", "alert_slack_webhook"):
            url = getattr(self, name)
            if url is not None and (
                not isinstance(url, str) or not url.startswith(("http://", "https://"))
            ):
                raise SettingsError(f"{name}={url!r} must be an http:// or https:// URL")
        host, _, port = str(self.alert_smtp).rpartition(":")
        if not isinstance(self.alert_smtp, str) or not host or not port.isdigit():
            raise SettingsError(
                f"alert_smtp={self.alert_smtp!r} must be host:port (for example localhost:25)"
            )
        email = self.alert_email
        if email is not None and (not isinstance(email, str) or "@" not in email):
            raise SettingsError(
                f"alert_email={email!r} must be an address, or several separated by commas"
            )

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
            # Equal values need no new (validated) copy: sweep trials pass their own dir.
            if any(getattr(settings, k) != v for k, v in given.items()):
                return dataclasses.replace(settings, **given)
            return settings
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
