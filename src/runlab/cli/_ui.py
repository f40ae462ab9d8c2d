"""``runlab ui``: placeholder, being written in this session."""

from __future__ import annotations

import typer


def ui() -> None:
    """Not written yet."""
    raise typer.Exit(2)
