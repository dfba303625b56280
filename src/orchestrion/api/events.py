"""Live updates over a WebSocket (``/api/ws/events``) or Server-Sent Events (``/api/events``).

Messages have orchestrator-core's shape, ``{"name": "invalidateCache", "value": {"type":
"processes", "id": ..., "status": ...}}``, and are sent only for committed changes.

The WebSocket speaks orchestrator-ui's protocol: it answers each ``__ping__`` with ``__pong__``
(the UI drops a socket that does not answer within 2 s), and besides each changed process or
subscription it names the lists and counts that change makes stale (``{"type": "processes",
"id": "LIST"}``, ``{"type": "processStatusCounts"}``, ``{"type": "subscriptions"}``): the UI
refetches exactly the queries tagged with what a message names.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from orchestrion.api.openapi import error_responses
from orchestrion.api.security import TOKEN_SUBPROTOCOL, NotAuthenticatedError, current_user, stream_user
from orchestrion.services.change_feed import Change, ChangeFeed

router = APIRouter()


def _feed(app: object) -> ChangeFeed:
    feed = getattr(app, "change_feed", None)
    assert isinstance(feed, ChangeFeed), "the app has no change feed"
    return feed


PING, PONG = "__ping__", "__pong__"


def invalidations(changes: list[Change]) -> list[dict[str, Any]]:
    """The messages for a batch of changes: each change, then what it makes stale, each message once."""
    found: dict[str, dict[str, Any]] = {}
    for change in changes:
        values = [change.message()["value"]]
        if change.type == "processes":
            values += [{"type": "processes", "id": "LIST"}, {"type": "processStatusCounts"}]
        elif change.type == "subscriptions":
            values += [{"type": "subscriptions", "id": "LIST"}, {"type": "subscriptions"}]
        for value in values:
            found.setdefault(json.dumps(value, sort_keys=True), {"name": "invalidateCache", "value": value})
    return list(found.values())


async def _send_changes(websocket: WebSocket, changes: asyncio.Queue[Change]) -> None:
    while True:
        batch = [await changes.get()]
        while not changes.empty():
            batch.append(changes.get_nowait())
        for message in invalidations(batch):
            await websocket.send_json(message)


@router.websocket("/ws/events")
async def websocket_events(websocket: WebSocket) -> None:
    try:
        current_user(websocket)
    except NotAuthenticatedError:
        await websocket.close(code=4401, reason="A valid bearer token is required")
        return
    # A browser drops a connection whose server does not pick one of the subprotocols it offered.
    offered = websocket.scope.get("subprotocols") or []
    await websocket.accept(subprotocol=TOKEN_SUBPROTOCOL if TOKEN_SUBPROTOCOL in offered else None)
    async with _feed(websocket.app).listen() as changes:
        sender = asyncio.create_task(_send_changes(websocket, changes))
        try:
            while (received := await websocket.receive())["type"] != "websocket.disconnect":
                if received.get("text") == PING:  # anything else a client sends is ignored
                    await websocket.send_text(PONG)
        except WebSocketDisconnect:  # the connection broke while a message was sent
            return
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await sender  # a send that failed because the client left is no error


@router.get("/events", dependencies=[Depends(stream_user)], responses=error_responses(401))
async def server_sent_events(request: Request) -> StreamingResponse:
    """The same messages as ``text/event-stream``, for clients that prefer EventSource."""

    async def stream() -> AsyncIterator[str]:
        async with _feed(request.app).listen() as changes:
            yield ": connected\n\n"
            while not await request.is_disconnected():
                yield f"data: {json.dumps((await changes.get()).message())}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")
