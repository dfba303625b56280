"""``/api/settings``: pause and continue the engine; the workers, the settings, and the caches orchestrion lacks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, StrictBool

from orchestrion.api.audit import AuditedRoute, audited_route
from orchestrion.runtime import current
from orchestrion.services import caches, engine
from orchestrion.services.exposed_settings import exposed_settings

router = APIRouter(route_class=AuditedRoute)


class EngineSettingsIn(BaseModel):
    global_lock: StrictBool  # true or false only: not "yes", "on" or 1


class WorkerStatusSchema(BaseModel):
    executor_type: str
    number_of_workers_online: int
    number_of_queued_jobs: int
    number_of_running_jobs: int


class EnvironmentVariableSchema(BaseModel):
    env_name: str
    env_value: Any


class ExposedSettingsSchema(BaseModel):
    name: str
    variables: list[EnvironmentVariableSchema]


class EngineStatusSchema(BaseModel):
    global_lock: bool
    running_processes: int
    global_status: str  # RUNNING, PAUSING (paused, steps still finishing) or PAUSED


def _switch_action(body: Any) -> str:
    """What a refused switch asked for, from its body as sent: ``engine.switch`` when that says neither."""
    lock = body.get("global_lock") if isinstance(body, dict) else None
    return engine.PAUSE if lock is True else engine.UNPAUSE if lock is False else "engine.switch"


def _status() -> EngineStatusSchema:
    return EngineStatusSchema.model_validate(engine.engine_status())


@router.get("/status", response_model=EngineStatusSchema)
def get_status() -> EngineStatusSchema:
    return _status()


@router.put("/status", response_model=EngineStatusSchema)
@audited_route(_switch_action, "engine")
def put_status(body: EngineSettingsIn) -> EngineStatusSchema:
    """Pause (running processes stop at their next step boundary) or continue them."""
    if body.global_lock:
        engine.pause_engine()
    else:
        engine.unpause_engine()
    return _status()


@router.get("/worker-status", response_model=WorkerStatusSchema)
def worker_status() -> WorkerStatusSchema:
    """The executor's workers: how many are online, how many processes wait for one and how many run."""
    found = current().executor.status()
    return WorkerStatusSchema(
        executor_type=found.executor_type,
        number_of_workers_online=found.workers_online,
        number_of_queued_jobs=found.queued_jobs,
        number_of_running_jobs=found.running_jobs,
    )


@router.get("/overview", response_model=list[ExposedSettingsSchema])
def overview() -> list[dict[str, Any]]:
    """The settings this application runs with; passwords and tokens are masked."""
    return exposed_settings(current().settings)


@router.get("/cache-names")
def cache_names() -> dict[str, str]:
    """The caches that can be flushed: none really (orchestrion has no cache), one harmless name."""
    return caches.CACHE_NAMES


@router.delete("/cache/{name}")
def clear_cache(name: str) -> int:
    """Flush a cache: nothing to delete, so 0 keys; 400 for a name ``cache-names`` does not list."""
    return caches.clear_cache(name)


@router.post("/search-index/reset")
def reset_search_index() -> None:
    """Accepted and ignored: orchestrion has no search index (its lists query the tables themselves)."""
    caches.reset_search_index()
