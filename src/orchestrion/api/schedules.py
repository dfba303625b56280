"""``/api/schedules``: list, read, create, change and delete the schedules the scheduler runs."""

from __future__ import annotations

from fastapi import APIRouter, Response

from orchestrion.db import get_database
from orchestrion.db.types import utcnow
from orchestrion.scheduler import schedules
from orchestrion.scheduler.schedules import Schedule, ScheduleChanges, ScheduleSpec

router = APIRouter()


@router.get("/", response_model=list[Schedule])
def list_schedules() -> list[Schedule]:
    return schedules.list_schedules(get_database())


@router.get("/{schedule_id_or_name}", response_model=Schedule)
def show_schedule(schedule_id_or_name: str) -> Schedule:
    return schedules.get_schedule(get_database(), schedule_id_or_name)


@router.post("/", response_model=Schedule, status_code=201)
def create_schedule(spec: ScheduleSpec) -> Schedule:
    """400 for a bad trigger or a workflow that is not a registered task; 409 for a name in use."""
    return schedules.create_schedule(get_database(), spec, utcnow())


@router.put("/{schedule_id_or_name}", response_model=Schedule)
def replace_schedule(schedule_id_or_name: str, spec: ScheduleSpec) -> Schedule:
    return schedules.replace_schedule(get_database(), schedule_id_or_name, spec, utcnow())


@router.patch("/{schedule_id_or_name}", response_model=Schedule)
def update_schedule(schedule_id_or_name: str, changes: ScheduleChanges) -> Schedule:
    """Change some fields; a new trigger (or enabling) plans the next run from now."""
    return schedules.update_schedule(get_database(), schedule_id_or_name, changes, utcnow())


@router.delete("/{schedule_id_or_name}", status_code=204)
def delete_schedule(schedule_id_or_name: str) -> Response:
    schedules.delete_schedule(get_database(), schedule_id_or_name)
    return Response(status_code=204)
