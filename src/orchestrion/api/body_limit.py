"""The request body limit (``MAX_REQUEST_BODY_BYTES``): a larger body answers 413 and is never held in memory.

A pure ASGI middleware. A body that declares a larger ``Content-Length`` is refused before any of
it is read; one without (chunked) is counted as its chunks arrive, and reading stops at the first
chunk over the limit: the handler reading it gets ``RequestBodyTooLargeError``, which FastAPI
passes on (an ``HTTPException``) to the error handlers, so the answer has the API's JSON shape.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrion.api.errors import problem


class RequestBodyTooLargeError(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than the limit of {limit:,} bytes (MAX_REQUEST_BODY_BYTES)")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            error = RequestBodyTooLargeError(self.max_bytes)
            await problem(error.status_code, error.detail, type(error).__name__)(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestBodyTooLargeError(self.max_bytes)
            return message

        await self.app(scope, receive_within_limit, send)
