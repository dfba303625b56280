"""The process store's tables (SQLAlchemy 2 typed ORM)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, func, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Query, mapped_column, relationship

from orchestrion.db.types import JsonColumn, UtcDateTime, UUIDType, new_uuid, utcnow


class _QueryProperty:
    """``Table.query``: a legacy ``Query`` on the current session (orchestrator-core's spelling)."""

    def __get__(self, _instance: object, owner: type[Base]) -> Query[Any]:
        from orchestrion.db import db

        return db.session.query(owner)


class Base(DeclarativeBase):
    """The metadata every table shares, the application's own tables too (``orchestrion.db.database.BaseModel``)."""

    type_annotation_map = {uuid.UUID: UUIDType}
    query: ClassVar[_QueryProperty] = _QueryProperty()


class WorkflowTable(Base):
    __tablename__ = "workflows"

    workflow_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4, server_default=new_uuid())
    name: Mapped[str] = mapped_column(String(255), unique=True)
    target: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    is_task: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.current_timestamp())
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ProcessTable(Base):
    """One row per process: its status plus where and from which state it continues.

    ``cursor`` is the identity path of the next step (``["Group", "Sub step"]`` inside a step group);
    ``state`` is the state that step starts from. ``seq`` is the sequence number of the latest step
    row. ``claimed_by``/``lease_until`` say which worker runs the process and until when its claim
    holds without renewal.
    """

    __tablename__ = "processes"
    __table_args__ = (
        Index("ix_processes_parent_group", "parent_process_id", "child_group"),
        # for lists at scale (migration 0014): the default order, the dashboard's counts; they also serve
        # ``started_at`` and ``is_task`` alone (migration 0015 dropped those indexes, which every checkpoint wrote)
        Index("ix_processes_newest_first", text("started_at DESC"), "process_id"),
        Index("ix_processes_task_status", "is_task", "last_status"),
        # (0016) one workflow's processes in the list's order, or by status: a list sorted by or filtered on workflow
        Index("ix_processes_workflow_newest_first", "workflow_id", text("started_at DESC"), "process_id"),
        Index("ix_processes_workflow_status", "workflow_id", "last_status", text("started_at DESC"), "process_id"),
        # (0019, built per database, as the filters compare: lower(created_by) or created_by COLLATE NOCASE)
        # ix_processes_creator_newest_first: one creator's processes or tasks in the list's order
        # (0016) only processes with a parent: SQLite disregards ix_processes_parent_group, the column being mostly NULL
        Index(
            "ix_processes_children",
            "parent_process_id",
            sqlite_where=text("parent_process_id IS NOT NULL"),
            postgresql_where=text("parent_process_id IS NOT NULL"),
        ),
    )

    process_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # ix_processes_workflow_newest_first leads with it (0016 dropped its own index)
    workflow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflows.workflow_id"))
    workflow_fingerprint: Mapped[str] = mapped_column(String(64))
    assignee: Mapped[str] = mapped_column(String(50), default="SYSTEM")
    last_status: Mapped[str] = mapped_column(String(50), index=True)
    last_step: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)  # ix_processes_newest_first
    last_modified_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    failed_reason: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(255))
    is_task: Mapped[bool] = mapped_column(Boolean, default=False)  # ix_processes_task_status
    note: Mapped[str | None] = mapped_column(Text)
    cursor: Mapped[list[str] | None] = mapped_column(JsonColumn)
    state: Mapped[dict[str, Any]] = mapped_column(JsonColumn)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    last_row_key: Mapped[str | None] = mapped_column(String(255))
    abort_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    abort_requested_by: Mapped[str | None] = mapped_column(String(255))  # who asked for the abort still to come
    # Who caused the run in progress and how (``start``, ``resume``, ...): written on its history rows.
    run_by: Mapped[str | None] = mapped_column(String(255))
    run_action: Mapped[str | None] = mapped_column(String(32))
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    callback_token: Mapped[str | None] = mapped_column(String(128))
    callback_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # What the external system last reported while the process awaits its callback; cleared on delivery.
    callback_progress: Mapped[Any] = mapped_column(JsonColumn)
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    next_retry_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # A child process: the parent whose step created it, the group the parent awaits it in, and the
    # path of the parallel branch it runs (None: a child of another workflow).
    parent_process_id: Mapped[uuid.UUID | None] = mapped_column(UUIDType)
    child_group: Mapped[str | None] = mapped_column(String(255))
    branch: Mapped[str | None] = mapped_column(Text)
    # What a parent waits for (``engine.children.WakeCondition``); None when it waits for no children.
    awaiting_children: Mapped[Any] = mapped_column(JsonColumn)

    workflow: Mapped[WorkflowTable] = relationship(lazy="joined")
    steps: Mapped[list[ProcessStepTable]] = relationship(
        order_by="ProcessStepTable.seq", cascade="all, delete-orphan", passive_deletes=True
    )


class ProcessStepTable(Base):
    """The audit trail: one row per executed step (one per step group), ordered by ``seq``."""

    __tablename__ = "process_steps"
    __table_args__ = (UniqueConstraint("process_id", "seq", name="uq_process_steps_process_seq"),)

    step_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    process_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("processes.process_id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    step_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(50))
    state: Mapped[dict[str, Any]] = mapped_column(JsonColumn)
    created_by: Mapped[str | None] = mapped_column(String(255))  # who caused the run that wrote the row
    action: Mapped[str | None] = mapped_column(String(32))  # how: start, resume, retry, callback, abort, ...
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The process's hash chain (``db.chain``): this row's hash and the one of the row before it.
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str | None] = mapped_column(String(64))


class InputStateTable(Base):
    """What people (and callers) put into a process: the initial form and every resume."""

    __tablename__ = "input_states"
    __table_args__ = (Index("ix_input_states_process_id", "process_id"),)

    input_state_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    process_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("processes.process_id", ondelete="CASCADE"))
    input_state: Mapped[dict[str, Any]] = mapped_column(JsonColumn)
    input_time: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    input_type: Mapped[str] = mapped_column(String(32))


class IdempotencyKeyTable(Base):
    """A client's ``Idempotency-Key`` for a start, and the process it created: a retried start finds it here."""

    __tablename__ = "process_idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    process_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("processes.process_id", ondelete="CASCADE"))
    request_hash: Mapped[str] = mapped_column(String(64))  # what was asked with the key: the same, or refused
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class AuditLogTable(Base):
    """The operator audit log: who did what outside processes, from where, and whether it was done or refused.

    Append-only (``storage.audit`` is its one writer; no API changes or deletes an entry, only the
    retention sweep); ``row_hash`` chains every entry to the one before it (``db.chain``).
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    user: Mapped[str | None] = mapped_column(String(255), index=True)
    client: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_kind: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[Any] = mapped_column(JsonColumn)
    outcome: Mapped[str] = mapped_column(String(16))  # done or refused
    reason: Mapped[str | None] = mapped_column(Text)  # why it was refused
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class EngineSettingsTable(Base):
    """A single row: whether the engine is paused."""

    __tablename__ = "engine_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    global_lock: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


# The catalogue, subscription and scheduler tables share this metadata (migrations, create_all);
# imported last because they refer to the tables above, and re-exported here under the names
# orchestrator-core applications import from ``db.models``.
from orchestrion.db.domain_models import (  # noqa: E402
    FixedInputTable,
    ProcessSubscriptionTable,
    ProductBlockRelationTable,
    ProductBlockTable,
    ProductTable,
    ResourceTypeTable,
    SubscriptionInstanceRelationTable,
    SubscriptionInstanceTable,
    SubscriptionInstanceValueTable,
    SubscriptionTable,
)
from orchestrion.db.schedule_models import SchedulerLeaderTable, ScheduleTable  # noqa: E402

__all__ = [
    "AuditLogTable",
    "Base",
    "EngineSettingsTable",
    "FixedInputTable",
    "IdempotencyKeyTable",
    "InputStateTable",
    "ProcessStepTable",
    "ProcessSubscriptionTable",
    "ProcessTable",
    "ProductBlockRelationTable",
    "ProductBlockTable",
    "ProductTable",
    "ResourceTypeTable",
    "ScheduleTable",
    "SchedulerLeaderTable",
    "SubscriptionInstanceRelationTable",
    "SubscriptionInstanceTable",
    "SubscriptionInstanceValueTable",
    "SubscriptionTable",
    "WorkflowTable",
]
