"""What ``ls`` and ``export`` share: the ``--filter`` option, key lists, sorting, plain values."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from runlab._errors import FilterSyntaxError
    from runlab.query._filter import Filter, Key

FilterOption = Annotated[
    str | None,
    typer.Option(
        "--filter",
        "-f",
        help="Only runs matching this expression, e.g. 'lr >= 1e-4 and tags has \"baseline\"' "
        "(keys: config.<k>, summary.<k>, run.<field>, or a bare key; "
        "operators ==, !=, <, <=, >, >=, in, not in, has, and, or, not).",
        show_default=False,
    ),
]

EXIT_USAGE = 2
"""Exit status for a filter, column or sort key that does not parse (as for a bad option)."""


def syntax_error(option: str, exc: FilterSyntaxError) -> NoReturn:
    """Print the parse error (its caret line included) to stderr and exit with status 2."""
    from runlab.cli._common import err

    err().print(f"Invalid {option}: {exc}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_USAGE)


def parse_filter(text: str | None) -> Filter | None:
    """The ``--filter`` expression parsed; exits with status 2 on a syntax error."""
    if text is None:
        return None
    from runlab._errors import FilterSyntaxError
    from runlab.query._filter import parse

    try:
        return parse(text)
    except FilterSyntaxError as exc:
        syntax_error("--filter", exc)


def parse_keys(text: str | None, option: str) -> list[Key]:
    """Comma-separated keys (``lr,summary.loss``) parsed; exits with status 2 on a bad one."""
    if text is None:
        return []
    from runlab._errors import FilterSyntaxError
    from runlab.query._filter import parse_key

    keys = []
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            keys.append(parse_key(part.strip()))
        except FilterSyntaxError as exc:
            syntax_error(option, exc)
    return keys


def parse_sort(text: str | None) -> tuple[Key | None, bool]:
    """``--sort KEY`` (ascending) or ``--sort -KEY`` (descending) parsed."""
    if text is None:
        return None, False
    descending = text.startswith("-")
    keys = parse_keys(text[1:] if descending else text, "--sort")
    if len(keys) != 1:
        from runlab._errors import FilterSyntaxError

        syntax_error("--sort", FilterSyntaxError("expected one key", text=text, column=1))
    return keys[0], descending


def sort_runs(runs: Sequence[Any], key: Key, descending: bool) -> list[Any]:
    """``runs`` ordered by ``key`` (stable); runs without a value (or NaN) come last either way.

    Numbers sort before strings, strings before anything else (compared as text).
    """
    from runlab.query._filter import resolve

    present: list[tuple[tuple[int, Any], Any]] = []
    missing: list[Any] = []
    for run in runs:
        found, value = resolve(run, key)
        if not found or value is None or (isinstance(value, float) and math.isnan(value)):
            missing.append(run)
        elif isinstance(value, (int, float)):
            present.append(((0, float(value)), run))
        elif isinstance(value, str):
            present.append(((1, value), run))
        else:
            present.append(((2, str(value)), run))
    present.sort(key=lambda pair: pair[0], reverse=descending)
    return [run for _, run in present] + missing


def iso_utc(seconds: float | None) -> str | None:
    """Seconds since the epoch as ISO 8601 in UTC (``2026-01-02T03:04:05.678+00:00``)."""
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).isoformat()


def plain(value: Any) -> Any:
    """A value JSON can carry: non-finite floats become None, tuples lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value
