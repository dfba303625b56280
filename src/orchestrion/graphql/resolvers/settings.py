"""The ``settings`` query: the engine's status and its workers."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from orchestrion.graphql.schemas.settings import EngineSettingsType, GlobalStatusEnum, StatusType, WorkerStatusType
from orchestrion.graphql.types import OrchestratorInfo
from orchestrion.services.caches import CACHE_NAMES
from orchestrion.services.engine import engine_status


async def resolve_settings(info: OrchestratorInfo) -> StatusType:
    engine = await run_in_threadpool(engine_status)
    workers = await run_in_threadpool(info.context.runtime.executor.status)
    return StatusType(
        engine_settings=EngineSettingsType(
            global_lock=bool(engine["global_lock"]),
            global_status=GlobalStatusEnum(engine["global_status"]),
            running_processes=int(engine["running_processes"]),  # type: ignore[call-overload]
        ),
        worker_status=WorkerStatusType(
            executor_type=workers.executor_type,
            number_of_workers_online=workers.workers_online,
            number_of_queued_jobs=workers.queued_jobs,
            number_of_running_jobs=workers.running_jobs,
        ),
        cache_names=CACHE_NAMES,
    )
