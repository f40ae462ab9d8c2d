"""runlab's web server: the REST API of ``ui/API.md`` and the built web app, in one FastAPI app.

``create_app(dir)`` builds the app (FastAPI is imported only then); ``serve(dir)`` runs it with
uvicorn (``runlab ui``). Storage is read through the catalog and history readers only, so the
same app can serve a team server's catalog later.
"""

from __future__ import annotations

from runlab.server._app import create_app, serve

__all__ = ["create_app", "serve"]
