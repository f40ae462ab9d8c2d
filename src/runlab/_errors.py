"""runlab's exceptions.

Every error runlab raises on purpose derives from :class:`RunlabError`::

    RunlabError
     ├── RunNotFound          (also a LookupError) an id or name matches no run
     ├── InvalidRunId         (also a ValueError)  a custom run id breaks the id rule
     ├── StorageError         (also an OSError)    the run store cannot be read or written
     │    └── CorruptRecord                        a log frame fails its checksum
     ├── StepOrderError       (also a ValueError)  a key's step went backwards
     ├── RunFinishedError                         logging to a run that has finished
     ├── RunExistsError                           a custom run id is already taken
     ├── RunActiveError                           a live run cannot be deleted (stop it first)
     ├── SettingsError        (also a ValueError)  a setting or RUNLAB_* variable is invalid
     ├── ScenarioError        (also a ValueError)  a scenario spec is malformed or invalid
     ├── FilterSyntaxError    (also a ValueError)  a run filter expression does not parse
     ├── NoMatchError         (also a ValueError)  no run of a collection matches
     ├── MultipleMatchError   (also a ValueError)  several runs match where one was expected
     ├── ConfigMismatchError  (also a TypeError)   a config does not fit a typed view's dataclass
     └── ExperimentError                          a launched experiment failed or cannot start

Invalid values passed to ``run.log`` raise the built-in ``TypeError`` / ``ValueError``
subclasses below (:class:`LogTypeError`, :class:`LogKeyError`) so that ordinary
``except TypeError`` code keeps working.
"""

from __future__ import annotations

from typing import Any


class RunlabError(Exception):
    """Root of every error raised by runlab."""


class RunNotFound(RunlabError, LookupError):
    """No run matches the given id."""


class InvalidRunId(RunlabError, ValueError):
    """A run id does not follow the id rule."""


class StorageError(RunlabError, OSError):
    """The run store cannot be read or written."""


class CorruptRecord(StorageError):
    """A record of a run log fails its checksum or framing."""


class StepOrderError(RunlabError, ValueError):
    """A metric was logged at a step lower than its previous step."""


class RunFinishedError(RunlabError):
    """An operation needs a running run, but the run has finished."""


class SettingsError(RunlabError, ValueError):
    """A setting (argument or ``RUNLAB_*`` variable) has an invalid value."""


class ScenarioError(RunlabError, ValueError):
    """A scenario spec is malformed: bad ``${...}`` syntax, arguments, keys or references.

    ``path`` is the key path (``robot.links[2].mass``), ``text`` the offending value and
    ``column`` the 1-based position of the problem within ``text``, where they apply.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        text: str | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.text = text
        self.column = column


class FilterSyntaxError(RunlabError, ValueError):
    """A run filter expression (``lr >= 1e-4 and tags has "x"``) does not parse.

    ``text`` is the expression and ``column`` the 1-based position of the problem; the message
    ends with the expression and a caret under that column.
    """

    def __init__(self, message: str, *, text: str, column: int) -> None:
        shown = text.replace("\n", " ").replace("\t", " ").replace("\r", " ")
        caret = " " * (column - 1) + "^"
        super().__init__(f"{message} (column {column})\n  {shown}\n  {caret}")
        self.reason = message
        self.text = text
        self.column = column


class LogTypeError(RunlabError, TypeError):
    """A logged value has a type runlab cannot record as a scalar."""


class LogKeyError(RunlabError, ValueError):
    """A logged key is empty, too long, reserved or contains forbidden characters."""


class RunExistsError(RunlabError):
    """A run with the requested id already exists in the store."""


class RunActiveError(RunlabError):
    """The run is still running (its heartbeat is fresh), and the operation needs it ended."""


class NoMatchError(RunlabError, ValueError):
    """No run of a collection matches the criteria given to ``get``/``first``/``last``."""


class MultipleMatchError(RunlabError, ValueError):
    """Several runs of a collection match the criteria given to ``get``/``try_get``."""


class ConfigMismatchError(RunlabError, TypeError):
    """A run's config does not fit the dataclass of a typed view; the field is named."""


class ExperimentError(RunlabError):
    """A launched experiment (``call_experiment``, ``grid.run``) failed or cannot start.

    ``traceback`` is the child process's formatted traceback and ``run_id`` the variant's run,
    where they exist (a launch refused up front, e.g. no ``mpirun``, has neither).
    """

    def __init__(
        self, message: str, *, traceback: str | None = None, run_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.traceback = traceback
        self.run_id = run_id

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword-only fields survive pickling (executors ship exceptions between processes)
        return (_experiment_error, (str(self), self.traceback, self.run_id))


def _experiment_error(message: str, traceback: str | None, run_id: str | None) -> ExperimentError:
    return ExperimentError(message, traceback=traceback, run_id=run_id)


class RunlabWarning(UserWarning):
    """A problem runlab worked around (e.g. storage faults while training continues)."""
