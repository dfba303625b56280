"""``/api/health``: liveness, including the database."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from orchestrion.db import get_database

router = APIRouter()


@router.get("/")
def health() -> JSONResponse:
    try:
        with get_database().read() as session:
            session.execute(text("SELECT 1"))
    except Exception as e:  # any database failure means "not healthy", with the reason
        return JSONResponse({"status": "unavailable", "database": str(e)}, status_code=503)
    return JSONResponse("OK")
