"""Live updates over a WebSocket (``/api/ws/events``) or Server-Sent Events (``/api/events``).

Messages have orchestrator-core's shape, ``{"name": "invalidateCache", "value": {"type":
"processes", "id": ..., "status": ...}}``, and are sent only for committed changes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from orchestrion.api.security import NotAuthenticatedError, current_user
from orchestrion.services.change_feed import ChangeFeed

router = APIRouter()


def _feed(app: object) -> ChangeFeed:
    feed = getattr(app, "change_feed", None)
    assert isinstance(feed, ChangeFeed), "the app has no change feed"
    return feed


@router.websocket("/ws/events")
async def websocket_events(websocket: WebSocket) -> None:
    try:
        current_user(websocket)
    except NotAuthenticatedError:
        await websocket.close(code=4401, reason="A valid bearer token is required")
        return
    await websocket.accept()
    async with _feed(websocket.app).listen() as changes:
        try:
            while True:
                await websocket.send_json((await changes.get()).message())
        except WebSocketDisconnect:
            return


@router.get("/events", dependencies=[Depends(current_user)])
async def server_sent_events(request: Request) -> StreamingResponse:
    """The same messages as ``text/event-stream``, for clients that prefer EventSource."""

    async def stream() -> AsyncIterator[str]:
        async with _feed(request.app).listen() as changes:
            yield ": connected\n\n"
            while not await request.is_disconnected():
                yield f"data: {json.dumps((await changes.get()).message())}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")
