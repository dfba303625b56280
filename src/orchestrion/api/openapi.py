"""The error statuses in the OpenAPI document: each operation lists those it answers, all in the one error shape.

FastAPI lists 422 for every operation with parameters, which orchestrion never answers (malformed
requests answer 400), and nothing of the errors its handlers do answer. ``document_errors`` puts
that right in one place when the app builds its document: every operation gets 400, 500 and 503,
404 when its path names something and 413 when it reads a body. A route (or a router) adds the
statuses that depend on what it does with ``error_responses``; ``SECURED`` adds 401 with the
authentication it asks for.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import Depends
from pydantic import BaseModel, ConfigDict

from orchestrion.api.security import current_user

# A malformed request, the application's code failing, the database unreachable or the engine paused.
EVERY_OPERATION = frozenset({400, 500, 503})


class ErrorSchema(BaseModel):
    """Every error answer: ``validation_errors`` come with 400 for invalid input, ``form`` and ``meta`` with 510."""

    model_config = ConfigDict(extra="allow", title="Error")

    type: str
    title: str
    detail: str
    status: int


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses``: the error statuses it answers besides those ``document_errors`` derives."""
    return {status: {"description": HTTPStatus(status).phrase} for status in statuses}


# ``include_router(..., **SECURED)``: every route of the router needs an authenticated caller, or answers 401.
SECURED: dict[str, Any] = {"dependencies": [Depends(current_user)], "responses": error_responses(401)}


def _statuses(operation: dict[str, Any]) -> set[int]:
    statuses = set(EVERY_OPERATION)
    if any(parameter["in"] == "path" for parameter in operation.get("parameters", ())):
        statuses.add(404)
    if "requestBody" in operation:
        statuses.add(413)
    return statuses | {int(status) for status in operation["responses"] if int(status) >= 400}


def document_errors(openapi: dict[str, Any]) -> dict[str, Any]:
    """``openapi`` with each operation's error statuses, FastAPI's 422 and its validation schemas gone."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Error"] = ErrorSchema.model_json_schema()
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in openapi["paths"].values():
        for operation in operations.values():
            operation["responses"].pop("422", None)
            for status in sorted(_statuses(operation)):
                operation["responses"][str(status)] = {"description": HTTPStatus(status).phrase, "content": content}
    return openapi
