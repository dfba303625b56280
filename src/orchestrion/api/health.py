"""``/api/health``: liveness, including the database and, with the Celery executor, the broker."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from orchestrion.db import get_database
from orchestrion.executors import get_executor

router = APIRouter()


def _database() -> str | None:
    try:
        with get_database().read() as session:
            session.execute(text("SELECT 1"))
    except Exception as e:  # any database failure means "not healthy", with the reason
        return str(e)
    return None


@router.get("/")
def health() -> JSONResponse:
    """``{"status": "OK", "database": "OK"[, "broker": "OK"]}``; 503 with the reason in place of "OK" when one fails."""
    problems = {"database": _database(), **get_executor().dependencies()}
    body = {part: problem or "OK" for part, problem in problems.items()}
    healthy = not any(problems.values())
    return JSONResponse({"status": "OK" if healthy else "unavailable", **body}, status_code=200 if healthy else 503)
