"""The ``scheduledTasks`` query: orchestrion's schedules, as orchestrator-core lists its scheduled jobs."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from orchestrion.graphql.loaders import in_thread
from orchestrion.graphql.pagination import Connection, to_graphql_result_page
from orchestrion.graphql.resolvers.helpers import page_size
from orchestrion.graphql.schemas.scheduled_task import ScheduledTaskGraphql
from orchestrion.graphql.types import GraphqlFilter, GraphqlSort, OrchestratorInfo
from orchestrion.graphql.utils import create_resolver_error_handler
from orchestrion.names import camel_to_snake
from orchestrion.scheduler.schedules import Schedule, list_schedules
from orchestrion.storage.workflow_rows import workflow_rows

_FIELDS: dict[str, Callable[[Schedule], str]] = {
    "name": lambda s: s.name,
    "workflow_name": lambda s: s.workflow_name,
    "next_run_time": lambda s: s.next_run_at.isoformat() if s.next_run_at else "",
    "trigger": lambda s: s.trigger,
}


def _text(schedule: Schedule, key: str) -> str:
    """What filters match and sorts order on: the field as lower-case text."""
    return _FIELDS[key](schedule).lower()


def _trigger(s: Schedule) -> str:
    return f"cron[{s.cron_expression}]" if s.trigger == "cron" else f"interval[{s.interval_seconds}s]"


async def resolve_scheduled_tasks(
    info: OrchestratorInfo,
    filter_by: list[GraphqlFilter] | None = None,
    sort_by: list[GraphqlSort] | None = None,
    first: int = 10,
    after: int = 0,
) -> Connection[ScheduledTaskGraphql]:
    handle_error = create_resolver_error_handler(info)
    database = info.context.runtime.database

    def read(session: Session) -> tuple[list[Schedule], dict[str, Any]]:
        ids = {name: str(row.workflow_id) for name, row in workflow_rows(session).items()}
        return list_schedules(database), ids

    schedules, workflow_ids = await in_thread(info, read)
    for item in filter_by or []:
        key = camel_to_snake(item.field)
        if key not in _FIELDS:
            handle_error("Invalid filter arguments", invalid_filters=[item.field], valid_filter_keys=sorted(_FIELDS))
            continue
        wanted = [v.lower() for v in item.value.split("|")]
        schedules = [s for s in schedules if any(w in _text(s, key) for w in wanted)]
    for order in reversed(sort_by or []):
        key = camel_to_snake(order.field)
        if key not in _FIELDS:
            handle_error("Invalid sort arguments", invalid_sorting=[order.field], valid_sort_keys=sorted(_FIELDS))
            continue
        schedules.sort(key=partial(_text, key=key), reverse=order.order.name == "DESC")
    size = page_size(info, first)
    page = [
        ScheduledTaskGraphql(
            id=str(s.schedule_id),
            workflow_id=workflow_ids.get(s.workflow_name),
            name=s.name,
            next_run_time=s.next_run_at,
            trigger=_trigger(s),
        )
        for s in schedules[after : after + size + 1]
    ]
    fields = sorted({"name", "workflowName", "nextRunTime", "trigger"})
    return to_graphql_result_page(page, size, after, len(schedules), fields, fields)
