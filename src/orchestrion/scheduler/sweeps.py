"""The SQL behind the built-in tasks: find processes that need a push, fail expired callbacks, delete old tasks.

Each function works in the session it is given, so a task step can make its changes part of its
own transaction (they commit with the step's checkpoint, or not at all).
"""

from __future__ import annotations

import uuid
from contextlib import suppress
from datetime import datetime

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.orm import Session

from orchestrion.db.models import ProcessStepTable, ProcessTable, WorkflowTable
from orchestrion.engine.runner import error_state
from orchestrion.engine.status import IN_FLIGHT_STATUSES, ProcessStatus, StepStatus
from orchestrion.workflows import loaded_workflow


class CallbackTimeoutError(Exception):
    """Recorded as the error of a callback step nobody answered in time."""


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


def fail_timed_out_callback(session: Session, process_id: uuid.UUID, now: datetime) -> bool:
    """Fail a process whose callback did not come in time; False when it no longer awaits one.

    The process row is locked and its status checked again under the lock, so a callback that
    arrives at the same moment either wins (the process moved on: nothing happens here) or finds
    the process failed and is refused. The cursor goes back to the first step of the callback
    group, so a retry calls the action again with a fresh token instead of waiting on a dead one.
    """
    p = session.execute(
        select(ProcessTable).where(ProcessTable.process_id == process_id).with_for_update(of=ProcessTable)
    ).scalar_one_or_none()
    if p is None or p.last_status != ProcessStatus.AWAITING_CALLBACK:
        return False
    deadline = p.callback_deadline
    if deadline is None or deadline > now:
        return False
    reason = f"Callback timed out: no answer by {deadline.isoformat()}; retry to run the callback step again"
    cursor = tuple(p.cursor or ())
    wf = loaded_workflow(p.workflow.name)
    restart = cursor
    if wf is not None and cursor:
        with suppress(StopIteration):  # the workflow changed: keep the cursor, the retry will say so
            restart = wf.group_start(cursor)
    if cursor and p.last_row_key == cursor[0]:  # the group's history row shows the failure, as any failed step's would
        session.execute(
            update(ProcessStepTable)
            .where(ProcessStepTable.process_id == process_id, ProcessStepTable.seq == p.seq)
            .values(status=StepStatus.FAILED, state=error_state(CallbackTimeoutError(reason))[0], completed_at=now)
        )
    session.execute(
        update(ProcessTable)
        .where(ProcessTable.process_id == process_id)
        .values(
            last_status=ProcessStatus.FAILED,
            failed_reason=reason,
            traceback=None,
            assignee="SYSTEM",
            cursor=list(restart),
            callback_token=None,
            callback_deadline=None,
            last_modified_at=now,
        )
    )
    session.expire(p)
    return True


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


def instance_in_flight(session: Session, workflow_name: str) -> bool:
    """Whether a process of this workflow is created, running or resumed (so a new one would overlap it)."""
    return bool(
        session.execute(
            select(
                exists()
                .where(ProcessTable.workflow_id == WorkflowTable.workflow_id)
                .where(
                    WorkflowTable.name == workflow_name,
                    ProcessTable.last_status.in_([s.value for s in IN_FLIGHT_STATUSES]),
                )
            )
        ).scalar()
    )
