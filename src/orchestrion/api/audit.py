"""``/api/audit-log``: the operator audit log, read only; and the routes whose calls it records.

A route marked with ``audited_route`` runs with its caller's address (and, once authenticated,
name) as the audit log's caller (``services.audit``); the service it calls records what it did.
A call refused before that (not authenticated, not authorized, invalid input) is recorded here,
as refused with the reason; a route whose action depends on its body (pausing or continuing the
engine) names it from the body as sent, when it is JSON. ``AuditedRoute`` is the route class of
the routers that have such routes. There is no route to change or delete an entry.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from orchestrion.db.listing import parse_rest
from orchestrion.errors import OrchestrionError
from orchestrion.services import audit

F = TypeVar("F", bound=Callable[..., Any])


Action = str | Callable[[Any], str]


def audited_route(action: Action, target_kind: str, target_param: str | None = None) -> Callable[[F], F]:
    """Mark an endpoint whose calls are audited as ``action`` on ``target_kind`` (its id: path parameter
    ``target_param``); ``action`` may be a function of the request's JSON body (None when it has none)."""

    def mark(endpoint: F) -> F:
        endpoint.audit = (action, target_kind, target_param)  # type: ignore[attr-defined]
        return endpoint

    return mark


class AuditedRoute(APIRoute):
    """Runs a marked endpoint as its caller, and records a refusal nothing else recorded."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        marker = getattr(self.endpoint, "audit", None)
        if marker is None:
            return handler
        action, target_kind, target_param = marker

        async def audited_handler(request: Request) -> Response:
            with audit.acting_as(None, request.client.host if request.client else None) as caller:
                try:
                    return await handler(request)
                except (OrchestrionError, RequestValidationError) as e:
                    if not caller.recorded:
                        target = request.path_params.get(target_param) if target_param else None
                        reason = str(e) if isinstance(e, OrchestrionError) else "invalid request"
                        named = action if isinstance(action, str) else action(await _json_body(request))
                        await run_in_threadpool(audit.record_refusal, named, target_kind, target, reason)
                    raise

        return audited_handler


async def _json_body(request: Request) -> Any:
    """The request's body as JSON, or None when it is not JSON (a refused call's body may be anything)."""
    try:
        return orjson.loads(await request.body())
    except (orjson.JSONDecodeError, ClientDisconnect):
        return None


router = APIRouter()


class AuditEntrySchema(BaseModel):
    id: int
    at: datetime
    user: str | None
    client: str | None
    action: str
    target_kind: str
    target_id: str | None
    details: Any
    outcome: str
    reason: str | None
    prev_hash: str | None
    row_hash: str


@router.get("/", response_model=list[AuditEntrySchema])
def list_entries(
    response: Response,
    range_: str | None = Query(default=None, alias="range"),
    sort: str | None = Query(default=None),
    filter_: str | None = Query(
        default=None,
        alias="filter",
        description="field,value pairs: action, user, outcome, target_kind, target_id, target (text in the id), "
        "since and until (ISO 8601 times)",
    ),
) -> Any:
    """The audit log, newest first, paged (``range=first,end``) and filtered; ``Content-Range`` tells the total."""
    listing = parse_rest(range_, sort, filter_)
    items, total = audit.page(listing)
    response.headers.update(listing.page.headers("audit-log", total))
    return items
