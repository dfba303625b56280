"""The API's documentation pages (Swagger UI at ``/api/docs``, ReDoc at ``/api/redoc``) with their assets served
from the installed packages, so they work without internet access.

FastAPI's own pages load Swagger UI, ReDoc and a favicon from CDNs; ``fastapi-offline`` ships those
files (Swagger UI 5, ReDoc 2), and they are served here under ``ASSETS``. Only its files are used:
the pages are FastAPI's, with the app's Swagger UI settings.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/api/docs-assets"
_FILES = Path(str(files("fastapi_offline") / "static"))


def serve_docs(app: FastAPI, docs_url: str, redoc_url: str) -> None:
    """Serve Swagger UI at ``docs_url`` and ReDoc at ``redoc_url`` (the app is built with both None), offline."""
    assert app.openapi_url is not None
    openapi_url = app.openapi_url
    app.mount(ASSETS, StaticFiles(directory=_FILES), name="docs-assets")

    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        redirect = app.swagger_ui_oauth2_redirect_url
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            oauth2_redirect_url=root + redirect if redirect else None,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )

    app.add_api_route(docs_url, swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route(redoc_url, redoc, methods=["GET"], include_in_schema=False)
    if app.swagger_ui_oauth2_redirect_url:
        app.add_api_route(
            app.swagger_ui_oauth2_redirect_url,
            lambda: get_swagger_ui_oauth2_redirect_html(),
            methods=["GET"],
            include_in_schema=False,
        )
