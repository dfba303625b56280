"""One database scope per HTTP request: ``db.session`` in a handler is the request's own session.

A pure ASGI middleware (not ``BaseHTTPMiddleware``, which buffers streamed responses such as the
live-update stream); the session is closed, rolling back whatever was not committed, when the
response has been sent.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrion.db.database import Database
from orchestrion.db.sessions import database_scope


class DatabaseScopeMiddleware:
    def __init__(self, app: ASGIApp, database: Database) -> None:
        self.app = app
        self.database = database

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with database_scope(self.database):
            await self.app(scope, receive, send)
