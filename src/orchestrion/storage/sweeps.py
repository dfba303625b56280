"""The queries and changes behind the built-in tasks and run predicates: retries due, expired callbacks, old tasks.

They work in the session they are given, so a task's step can make its changes part of its own
transaction (they commit with the step's checkpoint, or not at all).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from orchestrion.db.models import ProcessTable, WorkflowTable
from orchestrion.engine.status import IN_FLIGHT_STATUSES, ProcessStatus
from orchestrion.storage.steering import fail_timed_out_callback

__all__ = [
    "awaiting_callbacks_with_deadline",
    "delete_completed_tasks",
    "due_retries",
    "expired_callbacks",
    "fail_timed_out_callback",
    "has_completed_tasks_before",
    "instance_in_flight",
    "tasks_in",
    "uncompleted_instances",
]


def due_retries(session: Session, now: datetime) -> list[uuid.UUID]:
    """Waiting processes (``retrystep``) whose backoff has passed, the longest-waiting first."""
    return list(
        session.execute(
            select(ProcessTable.process_id)
            .where(
                ProcessTable.last_status == ProcessStatus.WAITING,
                or_(ProcessTable.next_retry_at.is_(None), ProcessTable.next_retry_at <= now),
            )
            .order_by(ProcessTable.next_retry_at)
        ).scalars()
    )


def expired_callbacks(session: Session, now: datetime) -> list[uuid.UUID]:
    """Processes awaiting a callback whose deadline has passed."""
    return list(
        session.execute(
            select(ProcessTable.process_id).where(
                ProcessTable.last_status == ProcessStatus.AWAITING_CALLBACK,
                ProcessTable.callback_deadline <= now,
            )
        ).scalars()
    )


def awaiting_callbacks_with_deadline(session: Session) -> int:
    """How many processes await a callback that has a deadline."""
    query = select(func.count()).where(
        ProcessTable.last_status == ProcessStatus.AWAITING_CALLBACK, ProcessTable.callback_deadline.is_not(None)
    )
    return int(session.scalar(query) or 0)


def delete_completed_tasks(session: Session, before: datetime) -> int:
    """Delete completed task processes last changed before ``before`` (their steps and inputs go by cascade)."""
    deleted = session.execute(
        delete(ProcessTable)
        .where(
            ProcessTable.is_task.is_(True),
            ProcessTable.last_status == ProcessStatus.COMPLETED,
            ProcessTable.last_modified_at < before,
        )
        .execution_options(synchronize_session=False)
    )
    return int(deleted.rowcount)  # type: ignore[attr-defined]


def has_completed_tasks_before(session: Session, before: datetime) -> bool:
    return bool(
        session.execute(
            select(
                exists().where(
                    ProcessTable.is_task.is_(True),
                    ProcessTable.last_status == ProcessStatus.COMPLETED,
                    ProcessTable.last_modified_at < before,
                )
            )
        ).scalar()
    )


def tasks_in(session: Session, statuses: Collection[ProcessStatus]) -> list[uuid.UUID]:
    """Task processes in one of ``statuses``, the oldest first (what "retry all tasks" goes through)."""
    query = select(ProcessTable.process_id).where(
        ProcessTable.is_task.is_(True), ProcessTable.last_status.in_([s.value for s in statuses])
    )
    return list(session.execute(query.order_by(ProcessTable.started_at, ProcessTable.process_id)).scalars())


def _of_workflow(workflow_name: str) -> ColumnElement[bool]:
    return ProcessTable.workflow_id.in_(select(WorkflowTable.workflow_id).where(WorkflowTable.name == workflow_name))


def instance_in_flight(session: Session, workflow_name: str) -> bool:
    """Whether a process of this workflow is created, running or resumed (so a new one would overlap it)."""
    in_flight = ProcessTable.last_status.in_([s.value for s in IN_FLIGHT_STATUSES])
    return bool(session.execute(select(exists().where(_of_workflow(workflow_name), in_flight))).scalar())


def uncompleted_instances(session: Session, workflow_name: str) -> int:
    """How many processes of this workflow are neither completed nor aborted."""
    finished = [ProcessStatus.COMPLETED.value, ProcessStatus.ABORTED.value]
    query = select(func.count()).where(_of_workflow(workflow_name), ProcessTable.last_status.not_in(finished))
    return int(session.scalar(query) or 0)
