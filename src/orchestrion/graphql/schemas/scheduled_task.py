"""Schedules of tasks, as orchestrator-core's scheduled-task list shows them."""

from __future__ import annotations

from datetime import datetime

import strawberry


@strawberry.type
class ScheduledTaskGraphql:
    id: str
    workflow_id: str | None
    name: str | None
    next_run_time: datetime | None
    trigger: str
