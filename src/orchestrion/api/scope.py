"""Every request works for its application's runtime, with a database scope of its own.

``db.session`` in a handler is then the request's own session (closed, rolling back whatever was
not committed, once the response is sent), and ``get_database()`` & co. are the application's,
also when two applications share a Python process. A pure ASGI middleware (not
``BaseHTTPMiddleware``, which buffers streamed responses such as the live-update stream).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrion.db.sessions import database_scope
from orchestrion.runtime import Runtime, activate


class RuntimeMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with activate(self.runtime):
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            with database_scope(self.runtime.database):
                await self.app(scope, receive, send)
