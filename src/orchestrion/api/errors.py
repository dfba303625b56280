"""Every error answers JSON of one shape: ``{"type", "title", "detail", "status"}`` (+ form data for forms)."""

from __future__ import annotations

from http import HTTPStatus

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic_forms.exception_handlers.fastapi import form_error_handler
from pydantic_forms.exceptions import FormException, FormOverflowError
from starlette.exceptions import HTTPException

from orchestrion.db.failures import is_transient
from orchestrion.errors import (
    ApplicationCodeError,
    ConflictError,
    InvalidInputError,
    NotAuthenticatedError,
    NotAuthorizedError,
    NotFoundError,
    OrchestrionError,
    PreconditionError,
    TooLargeError,
    UnavailableError,
)

logger = structlog.get_logger(__name__)

DATABASE_UNAVAILABLE = "The database is unavailable (connection lost, restarting, or busy); try again shortly"


def problem(status: int, detail: str, type_: str, **extra: object) -> JSONResponse:
    return JSONResponse(
        {"type": type_, "title": HTTPStatus(status).phrase, "detail": detail, "status": status, **extra},
        status_code=status,
    )


# The HTTP status of each branch of the error hierarchy (orchestrion.errors); the first match in the
# error's class hierarchy decides. This is the only place that knows about HTTP statuses.
STATUS_OF: dict[type[Exception], int] = {
    TooLargeError: 413,
    InvalidInputError: 400,
    NotAuthenticatedError: 401,
    NotAuthorizedError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    PreconditionError: 412,
    ApplicationCodeError: 500,
    UnavailableError: 503,
}


def status_of(exc: Exception) -> int:
    return next((STATUS_OF[cls] for cls in type(exc).__mro__ if cls in STATUS_OF), 400)


async def _orchestrion_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OrchestrionError)
    return problem(status_of(exc), str(exc), type(exc).__name__)


async def _form_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, FormOverflowError):
        return problem(400, str(exc), type(exc).__name__)
    assert isinstance(exc, FormException)
    return await form_error_handler(request, exc)


async def _request_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return problem(400, "Request not valid", "RequestValidationError", validation_errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return problem(exc.status_code, str(exc.detail), type(exc).__name__)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """Anything else: the database being away (503, try again), or a bug or the application's code failing (500).

    Still the one JSON shape, with the reason.
    """
    if is_transient(exc):
        logger.warning("Request failed: the database is unavailable", path=request.url.path, error=str(exc))
        response = problem(503, DATABASE_UNAVAILABLE, "DatabaseUnavailableError")
        response.headers["Retry-After"] = "1"
        return response
    logger.error("Request failed", path=request.url.path, exc_info=exc)
    return problem(500, f"{type(exc).__name__}: {exc}", type(exc).__name__)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OrchestrionError, _orchestrion_error)
    app.add_exception_handler(FormException, _form_error)
    app.add_exception_handler(RequestValidationError, _request_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
