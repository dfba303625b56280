"""The engine's status, its workers, and the caches (orchestrion keeps none)."""

from __future__ import annotations

import enum

import strawberry

from orchestrion.graphql.types import JSON


@strawberry.enum
class GlobalStatusEnum(enum.Enum):
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    PAUSING = "PAUSING"


@strawberry.type
class EngineSettingsType:
    global_lock: bool
    global_status: GlobalStatusEnum | None
    running_processes: int


@strawberry.type
class WorkerStatusType:
    executor_type: str
    number_of_workers_online: int
    number_of_queued_jobs: int
    number_of_running_jobs: int


@strawberry.type
class StatusType:
    engine_settings: EngineSettingsType | None
    worker_status: WorkerStatusType | None
    cache_names: JSON | None
