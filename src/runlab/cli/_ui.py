"""``runlab ui``: serve the run store's web app and REST API on this machine."""

from __future__ import annotations

from typing import Annotated

import typer

from runlab.cli._common import DirOption, fail, store_dir


def ui(
    dir: DirOption = None,
    host: Annotated[
        str,
        typer.Option(help="Address to bind; anything but loopback requires a token to edit."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port).")] = 8765,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the app in the default browser.")
    ] = False,
) -> None:
    """Browse, compare and manage runs in a web browser."""
    from runlab._errors import RunlabError
    from runlab.server import serve  # imports FastAPI and uvicorn

    try:
        serve(store_dir(dir), host=host, port=port, open_browser=open_browser)
    except RunlabError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        pass
