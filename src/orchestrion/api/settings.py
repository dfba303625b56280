"""``/api/settings``: pause and continue the engine."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from orchestrion.db import get_database
from orchestrion.services import engine
from orchestrion.storage import process_queries

router = APIRouter()


class EngineSettingsIn(BaseModel):
    global_lock: bool


class EngineStatusSchema(BaseModel):
    global_lock: bool
    running_processes: int
    global_status: str  # RUNNING, PAUSING (paused, steps still finishing) or PAUSED


def _status() -> EngineStatusSchema:
    paused = engine.is_engine_paused()
    with get_database().read() as session:
        running = process_queries.running_claimed(session)
    state = "RUNNING" if not paused else ("PAUSING" if running else "PAUSED")
    return EngineStatusSchema(global_lock=paused, running_processes=running, global_status=state)


@router.get("/status", response_model=EngineStatusSchema)
def get_status() -> EngineStatusSchema:
    return _status()


@router.put("/status", response_model=EngineStatusSchema)
def put_status(body: EngineSettingsIn) -> EngineStatusSchema:
    """Pause (running processes stop at their next step boundary) or continue them."""
    if body.global_lock:
        engine.pause_engine()
    else:
        engine.unpause_engine()
    return _status()
