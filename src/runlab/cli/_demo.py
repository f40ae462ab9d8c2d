"""``runlab demo``: placeholder, being written in this session."""

from __future__ import annotations

import typer


def demo() -> None:
    """Not written yet."""
    raise typer.Exit(2)
