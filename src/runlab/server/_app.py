"""The FastAPI app (``create_app``) and the blocking server behind ``runlab ui`` (``serve``).

The app serves the REST API of ``ui/API.md`` under ``/api`` (OpenAPI at ``/api/openapi.json``,
docs at ``/api/docs``) and the built web app from ``static/`` everywhere else: a path that is
not a static file gets ``index.html``, so the app's own routes are real URLs. Every error is
JSON ``{"message": ...}``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlab import _errors
from runlab._errors import (
    FilterSyntaxError,
    InvalidRunId,
    MultipleMatchError,
    NoMatchError,
    RunExistsError,
    RunlabError,
    RunNotFound,
    StorageError,
)
from runlab.server._files import UnsafePath
from runlab.server._security import Guard, allowed_hosts, is_loopback, new_token

if TYPE_CHECKING:
    from fastapi import FastAPI, Request, Response

STATIC_DIR = Path(__file__).resolve().parent / "static"
DEFAULT_PORT = 8765
BUILD_HINT = "cd ui && npm ci && npm run build (or reinstall runlab with Node available)"

_MISSING_APP = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>runlab</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>runlab</h1>
<p>The web app is not built in this installation, so only the REST API is served
(<a href="/api/docs">/api/docs</a>).</p>
<p>To build it, from a checkout of runlab run <code>cd ui &amp;&amp; npm ci &amp;&amp;
npm run build</code>, or reinstall runlab with Node available.</p>
</body></html>
"""


def create_app(
    dir: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str | None = None,
    trusted_hosts: list[str] | None = None,
    static_dir: str | os.PathLike[str] | None = None,
    series_cache_bytes: int | None = None,
) -> FastAPI:
    """The web app serving the run store ``dir``.

    Args:
        dir: the run store directory.
        host: the address the server is bound to; requests must name it (or, for a loopback
            address, ``localhost``/``127.0.0.1``/``[::1]``) in their ``Host`` header.
        port: the port the server is bound to (part of the accepted ``Host`` values).
        token: the bearer token API mutations need. Bound to a non-loopback address, one is
            drawn when none is given (read it back from ``app.state.token``).
        trusted_hosts: more accepted ``Host`` values (``name:port``), e.g. behind a proxy.
        static_dir: the built web app (default: the package's ``static/``).
        series_cache_bytes: byte budget of the decoded-series cache (default 256 MiB).

    Example:
        >>> import tempfile
        >>> app = create_app(tempfile.mkdtemp())
        >>> app.state.token is None
        True
    """
    from fastapi import FastAPI

    from runlab.server._backend import Backend
    from runlab.server._data import router as data_router
    from runlab.server._ops import router as ops_router
    from runlab.server._runs import router as runs_router
    from runlab.server._series import CACHE_BYTES

    if token is None and not is_loopback(host):
        token = new_token()
    app = FastAPI(
        title="runlab",
        summary="Local-first experiment tracking: the runs of one store.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.token = token
    app.state.runlab = Backend(
        os.fspath(dir),
        token=token,
        series_cache_bytes=CACHE_BYTES if series_cache_bytes is None else series_cache_bytes,
    )
    error_responses: dict[int | str, dict[str, Any]] = {
        "4XX": {"model": _error_model(), "description": "An error, as {message}"},
    }
    app.include_router(runs_router, prefix="/api", responses=error_responses)
    app.include_router(data_router, prefix="/api", responses=error_responses)
    app.include_router(ops_router, prefix="/api", responses=error_responses)
    _install_errors(app)
    _install_static(app, Path(static_dir) if static_dir is not None else STATIC_DIR)
    hosts = allowed_hosts(host, port, trusted_hosts or ())
    app.add_middleware(Guard, hosts=hosts, token=token)
    return app


def _error_model() -> Any:
    from runlab.server._models import ErrorOut

    return ErrorOut


# -- errors ------------------------------------------------------------------------------------

# A live run cannot be deleted (storage raises RunActiveError where it has one): a conflict.
_ACTIVE: tuple[tuple[type[Exception], int], ...] = tuple(
    (kind, 409) for kind in [getattr(_errors, "RunActiveError", None)] if isinstance(kind, type)
)
_STATUS: tuple[tuple[type[Exception], int], ...] = (
    *_ACTIVE,
    (RunNotFound, 404),
    (NoMatchError, 404),
    (FileNotFoundError, 404),
    (MultipleMatchError, 409),
    (RunExistsError, 409),  # restoring a run whose id a live run holds
    (FilterSyntaxError, 400),
    (InvalidRunId, 400),
    (UnsafePath, 400),
    (StorageError, 500),
    (RunlabError, 400),
    (ValueError, 400),
)


def _install_errors(app: FastAPI) -> None:
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    from runlab.server._backend import json_response

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return json_response({"message": detail}, exc.status_code)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
            parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error["msg"])
        return json_response({"message": "; ".join(parts) or "invalid request"}, 422)

    async def runlab_error(request: Request, exc: Exception) -> Response:
        status = next(code for kind, code in _STATUS if isinstance(exc, kind))
        body: dict[str, Any] = {"message": str(exc)}
        if isinstance(exc, FilterSyntaxError):
            body = {"message": exc.reason, "column": exc.column}
        elif isinstance(exc, FileNotFoundError) and exc.filename is not None:
            body = {"message": "file not found"}  # never echo server paths
        return json_response(body, status)

    async def crashed(request: Request, exc: Exception) -> Response:
        return json_response({"message": f"internal error: {type(exc).__name__}"}, 500)

    app.add_exception_handler(Exception, crashed)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    for kind, _status in _STATUS:
        app.add_exception_handler(kind, runlab_error)


# -- the web app -------------------------------------------------------------------------------


def _install_static(app: FastAPI, static: Path) -> None:
    from fastapi.responses import FileResponse, HTMLResponse
    from starlette.exceptions import HTTPException

    from runlab.server._files import resolve_inside

    def index() -> Response:
        page = static / "index.html"
        if page.is_file():
            return FileResponse(page, media_type="text/html", headers={"Cache-Control": "no-cache"})
        return HTMLResponse(_MISSING_APP)

    @app.get("/{path:path}", include_in_schema=False)
    def web_app(path: str) -> Response:
        if path == "api" or path.startswith("api/"):
            raise HTTPException(404, f"no API endpoint /{path}")
        if path and static.is_dir():
            try:
                return FileResponse(resolve_inside(static, path))
            except (UnsafePath, FileNotFoundError, OSError):
                pass
        return index()


def static_app_built(static_dir: Path = STATIC_DIR) -> bool:
    """Whether the web app has been built into ``static_dir``."""
    return (static_dir / "index.html").is_file()


# -- serving -------------------------------------------------------------------------------------


def serve(
    dir: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    open_browser: bool = False,
    token: str | None = None,
) -> None:
    """Serve the run store ``dir`` until interrupted (``runlab ui``).

    Args:
        dir: the run store directory.
        host: the address to bind; anything but loopback turns token auth on.
        port: the port; 0 picks a free one.
        open_browser: open the app in the default browser once listening.
        token: the token mutations need (drawn at random when bound beyond loopback).
    """
    import socket

    import typer
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio only sets TCP_NODELAY on accepted sockets whose protocol
    # says TCP, and without it a keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RunlabError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    port = sock.getsockname()[1]
    app = create_app(dir, host=host, port=port, token=token)
    shown_host = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown_host = socket.gethostname()
    url = f"http://{shown_host}:{port}/"
    if app.state.token is not None:
        url += f"?token={app.state.token}"
    typer.echo(f"runlab ui: serving {os.fspath(dir)} at {url}")
    if not static_app_built():
        typer.echo(
            f"  the web app is not built (only the API is served); to build it: {BUILD_HINT}"
        )
    typer.echo("  press Ctrl-C to stop")
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    server.run(sockets=[sock])
