"""The scheduler's tables: schedules as plain data, and the single-row lease of the active scheduler.

A schedule names its task and trigger as text, never as a pickled callable, so renaming or moving
Python code cannot corrupt it and any scheduler instance (or a person with SQL) can read it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orchestrion.db.models import Base
from orchestrion.db.types import JsonColumn, UtcDateTime, utcnow


class ScheduleTable(Base):
    """When to start which task, with which form input.

    ``next_run_at`` is the scheduled time of the next run; NULL means "not planned yet" (the active
    scheduler plans it from its clock). Firing a run is a conditional UPDATE of this column, so a run
    is claimed by exactly one scheduler. ``last_error`` says why the last due run started no process.
    """

    __tablename__ = "schedules"
    __table_args__ = (Index("ix_schedules_enabled_next_run_at", "enabled", "next_run_at"),)

    schedule_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    workflow_name: Mapped[str] = mapped_column(String(255))
    trigger: Mapped[str] = mapped_column(String(16))
    cron_expression: Mapped[str | None] = mapped_column(String(255))
    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    user_inputs: Mapped[list[dict[str, Any]]] = mapped_column(JsonColumn)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    misfire_policy: Mapped[str] = mapped_column(String(16), default="run_once")
    next_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_process_id: Mapped[uuid.UUID | None] = mapped_column()  # no foreign key: task clean-up deletes processes
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SchedulerLeaderTable(Base):
    """One row: which scheduler instance may fire schedules, and until when without renewing."""

    __tablename__ = "scheduler_leader"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    holder: Mapped[str | None] = mapped_column(String(255))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
