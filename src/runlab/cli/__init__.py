"""runlab's command line (Typer + Rich).

Each command lives in its own module; heavy libraries (Polars, SQLAlchemy) are imported inside
the commands that need them so that ``runlab --help`` starts fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from runlab.cli._delete import delete, gc, mv, restore, stop
from runlab.cli._demo import demo
from runlab.cli._episodes import episodes
from runlab.cli._export import export
from runlab.cli._ls import ls
from runlab.cli._reindex import reindex
from runlab.cli._show import show
from runlab.cli._sweep import sweep
from runlab.cli._ui import ui
from runlab.cli._watch import watch

__all__ = ["app", "main"]

app = typer.Typer(
    name="runlab",
    help="Local-first experiment tracking: list, inspect and manage recorded runs.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("ls")(ls)
app.command("show")(show)
app.command("episodes")(episodes)
app.command("delete")(delete)
app.command("restore")(restore)
app.command("gc")(gc)
app.command("mv")(mv)
app.command("stop")(stop)
app.command("reindex")(reindex)
app.command("export")(export)
app.command("sweep")(sweep)
app.command("ui")(ui)
app.command("demo")(demo)
app.command("watch")(watch)


def version() -> str:
    """The installed distribution's version, else the package's ``__version__``."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("runlab")
    except PackageNotFoundError:
        import runlab

        return str(getattr(runlab, "__version__", "unknown"))


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"runlab {version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_print_version,
            is_eager=True,
            help="Show runlab's version and exit.",
        ),
    ] = False,
) -> None:
    """Local-first experiment tracking: list, inspect and manage recorded runs."""


def main() -> None:
    """Entry point of the ``runlab`` script."""
    app()
