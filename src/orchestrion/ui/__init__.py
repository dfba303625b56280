"""The web UI: static files (HTML, ES modules, CSS) served by the app itself, no build step.

``mount_ui(app)`` serves the single page at ``/`` and its assets under ``/ui``; the page routes
in the URL fragment (``/#/processes``), so no other server path is involved. It also adds the
UI's read-only summaries under ``/api/ui`` (``orchestrion.ui.api``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from orchestrion.api.openapi import SECURED
from orchestrion.ui import api

STATIC = Path(__file__).parent / "static"
# Revalidate on every load (cheap 304s), so an upgraded server never runs with stale modules.
NO_CACHE = {"Cache-Control": "no-cache"}


class _Assets(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(NO_CACHE)
        return response


def mount_ui(app: FastAPI) -> None:
    """Serve the UI at ``/`` (assets under ``/ui``) and its summaries under ``/api/ui``."""
    app.include_router(api.router, prefix="/api/ui", tags=["ui"], **SECURED)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=NO_CACHE)

    app.mount("/ui", _Assets(directory=STATIC), name="ui")
