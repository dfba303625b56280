"""Schedules as data: what people create and change (API, CLI), and the SQL the scheduler fires them with.

Every write is validated here (the trigger, and that the workflow is a registered task), so the
API and the CLI refuse the same things with the same words.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrion.db import Database
from orchestrion.db.schedule_models import ScheduleTable
from orchestrion.db.types import texts_storable
from orchestrion.engine.registry import get_workflow
from orchestrion.engine.serialization import StateSerializationError, dumps
from orchestrion.errors import InvalidInputError, ScheduleNameTakenError, ScheduleNotFoundError
from orchestrion.scheduler.triggers import MisfirePolicy, Trigger, TriggerKind, first_run, make_trigger
from orchestrion.services.audit import audited


class InvalidScheduleError(InvalidInputError):
    """The schedule names no task, or something else that could never run."""


def _one_empty_page() -> list[dict[str, Any]]:
    return [{}]


def _storable_text(text: str) -> str:
    if not texts_storable(text):
        raise ValueError("must be UTF-8 text without NUL characters")
    return text


def _storable(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Form pages must survive the trip through a JSON column on either database."""
    if not texts_storable(pages):
        raise ValueError("must hold UTF-8 text without NUL characters")
    try:
        dumps(pages)
    except StateSerializationError as e:
        raise ValueError(f"cannot be stored as JSON: {e}") from None
    return pages


Text = Annotated[str, AfterValidator(_storable_text)]
Pages = Annotated[list[dict[str, Any]], AfterValidator(_storable)]


class ScheduleSpec(BaseModel):
    """What a person decides about a schedule (the body of create and replace)."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=255, description="Unique name, used by the CLI")
    workflow_name: Text = Field(max_length=255, description="A registered task (SYSTEM workflow)")
    trigger: TriggerKind
    cron_expression: Text | None = Field(None, max_length=255, description="Five fields, in UTC, for trigger 'cron'")
    interval_seconds: int | None = Field(None, description="Seconds between runs, for trigger 'interval'")
    user_inputs: Pages = Field(default_factory=_one_empty_page, description="Form pages for the task")
    enabled: bool = True
    misfire_policy: MisfirePolicy = MisfirePolicy.RUN_ONCE


class ScheduleChanges(BaseModel):
    """A partial update: only the fields given change.

    A field a schedule cannot be without may be left out, not ``null`` (400; the JSON schema says
    so too): its ``None`` default only stands for "not given".
    """

    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, Field(min_length=1, max_length=255)] | SkipJsonSchema[None] = None
    workflow_name: Annotated[Text, Field(max_length=255)] | SkipJsonSchema[None] = None
    trigger: TriggerKind | SkipJsonSchema[None] = None
    cron_expression: Text | None = Field(None, max_length=255)
    interval_seconds: int | None = None
    user_inputs: Pages | SkipJsonSchema[None] = None
    enabled: bool | SkipJsonSchema[None] = None
    misfire_policy: MisfirePolicy | SkipJsonSchema[None] = None

    @field_validator("name", "workflow_name", "trigger", "user_inputs", "enabled", "misfire_policy")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out, but not null")
        return value


class Schedule(BaseModel):
    """A schedule as stored, with what the scheduler did with it last."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    schedule_id: uuid.UUID
    name: str
    workflow_name: str
    trigger: TriggerKind
    cron_expression: str | None
    interval_seconds: int | None
    user_inputs: list[dict[str, Any]]
    enabled: bool
    misfire_policy: MisfirePolicy
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_process_id: uuid.UUID | None
    last_error: str | None
    created_at: datetime

    def make_trigger(self) -> Trigger:
        return make_trigger(self.trigger, self.cron_expression, self.interval_seconds)

    def spec(self) -> ScheduleSpec:
        return ScheduleSpec.model_validate(self.model_dump(include=set(ScheduleSpec.model_fields)))


def check_task(workflow_name: str) -> None:
    """Only registered tasks can be scheduled: nobody is there to fill in a form or pick a subscription."""
    try:
        wf = get_workflow(workflow_name)
    except Exception as e:  # a registration whose module does not import
        raise InvalidScheduleError(f"Workflow {workflow_name!r} cannot be loaded: {e}") from e
    if wf is None:
        raise InvalidScheduleError(f"Workflow {workflow_name!r} is not registered")
    if not wf.is_task:
        raise InvalidScheduleError(
            f"Workflow {workflow_name!r} is not a task (its target is {wf.target.value}); only SYSTEM workflows run on"
            " a schedule"
        )


def _validated(spec: ScheduleSpec) -> Trigger:
    trigger = make_trigger(spec.trigger, spec.cron_expression, spec.interval_seconds)
    check_task(spec.workflow_name)
    return trigger


def _row(session: Session, key: uuid.UUID | str, *, lock: bool = False) -> ScheduleTable:
    """A schedule by id or by name."""
    query = select(ScheduleTable)
    try:
        query = query.where(ScheduleTable.schedule_id == uuid.UUID(str(key)))
    except ValueError:
        if not texts_storable(str(key)):  # no name is like that, and the databases refuse to compare with it
            raise ScheduleNotFoundError(f"Schedule {str(key)!r} does not exist") from None
        query = query.where(ScheduleTable.name == str(key))
    if lock:
        query = query.with_for_update()
    found = session.execute(query).scalar_one_or_none()
    if found is None:
        raise ScheduleNotFoundError(f"Schedule {str(key)!r} does not exist")
    return found


def list_schedules(db: Database) -> list[Schedule]:
    with db.read() as session:
        rows = session.execute(select(ScheduleTable).order_by(ScheduleTable.name)).scalars()
        return [Schedule.model_validate(row) for row in rows]


def get_schedule(db: Database, key: uuid.UUID | str) -> Schedule:
    with db.read() as session:
        return Schedule.model_validate(_row(session, key))


def _name_taken(name: str) -> ScheduleNameTakenError:
    return ScheduleNameTakenError(f"A schedule named {name!r} already exists")


def create_schedule(db: Database, spec: ScheduleSpec, now: datetime, *, start: datetime | None = None) -> Schedule:
    """Store a new schedule; an enabled one is planned for the trigger's first time after ``now`` (and ``start``)."""
    with audited("schedule.create", "schedule", database=db, **_described(spec)) as note:
        trigger = _validated(spec)
        row = ScheduleTable(
            schedule_id=uuid.uuid4(),
            **spec.model_dump(),
            next_run_at=first_run(trigger, now, start) if spec.enabled else None,
            created_at=now,
        )
        note.target_id = str(row.schedule_id)
        try:
            with note.write() as session:
                session.add(row)
        except IntegrityError:
            raise _name_taken(spec.name) from None
    return Schedule.model_validate(row)


def _described(spec: ScheduleSpec) -> dict[str, Any]:
    """What the audit log keeps of a schedule: all but the task's input (which may be long)."""
    return spec.model_dump(mode="json", exclude={"user_inputs"})


def replace_schedule(
    db: Database, key: uuid.UUID | str, spec: ScheduleSpec, now: datetime, *, start: datetime | None = None
) -> Schedule:
    """Make the schedule match ``spec``; it is re-planned when its trigger changes, it is enabled, or ``start``
    (the first run's earliest time) is given."""
    with audited("schedule.change", "schedule", key, database=db) as note:
        trigger = _validated(spec)
        try:
            with note.write() as session:
                row = _row(session, key, lock=True)
                note.target_id = str(row.schedule_id)
                before = Schedule.model_validate(row).spec()
                for field, value in spec.model_dump().items():
                    setattr(row, field, value)
                if not spec.enabled:
                    row.next_run_at = None
                elif row.next_run_at is None or start is not None or _trigger_fields(before) != _trigger_fields(spec):
                    row.next_run_at = first_run(trigger, now, start)
                session.flush()
                changed = Schedule.model_validate(row)
                old, new = _described(before), _described(spec)
                note.details["changed"] = {name: [old[name], new[name]] for name in new if old[name] != new[name]}
        except IntegrityError:
            raise _name_taken(spec.name) from None
    return changed


def update_schedule(
    db: Database, key: uuid.UUID | str, changes: ScheduleChanges, now: datetime, *, start: datetime | None = None
) -> Schedule:
    """Change only the fields given; switching the trigger kind drops the other kind's field."""
    current = get_schedule(db, key).spec()
    given = changes.model_dump(exclude_unset=True)
    if given.get("trigger", current.trigger) != current.trigger:
        current = current.model_copy(update={"cron_expression": None, "interval_seconds": None})
    merged = ScheduleSpec.model_validate({**current.model_dump(), **given})
    return replace_schedule(db, key, merged, now, start=start)


def _trigger_fields(spec: ScheduleSpec) -> tuple[str, str | None, int | None]:
    return spec.trigger, spec.cron_expression, spec.interval_seconds


def delete_schedule(db: Database, key: uuid.UUID | str) -> None:
    with audited("schedule.delete", "schedule", key, database=db) as note, note.write() as session:
        row = _row(session, key, lock=True)
        note.target_id = str(row.schedule_id)
        note.details.update(_described(Schedule.model_validate(row).spec()))
        session.delete(row)


# --- what the scheduler runs ---------------------------------------------------------------------


def due_schedules(db: Database, now: datetime) -> list[Schedule]:
    with db.read() as session:
        rows = session.execute(
            select(ScheduleTable)
            .where(ScheduleTable.enabled.is_(True), ScheduleTable.next_run_at <= now)
            .order_by(ScheduleTable.next_run_at)
        ).scalars()
        return [Schedule.model_validate(row) for row in rows]


def unplanned_schedules(db: Database) -> list[Schedule]:
    """Enabled schedules without a next run: seeded by a migration, or edited by hand in SQL."""
    with db.read() as session:
        rows = session.execute(
            select(ScheduleTable).where(ScheduleTable.enabled.is_(True), ScheduleTable.next_run_at.is_(None))
        ).scalars()
        return [Schedule.model_validate(row) for row in rows]


def plan(db: Database, schedule_id: uuid.UUID, next_run_at: datetime) -> bool:
    """Set the first run of an unplanned schedule, unless someone planned it meanwhile."""
    with db.write() as session:
        changed = session.execute(
            update(ScheduleTable)
            .where(ScheduleTable.schedule_id == schedule_id, ScheduleTable.next_run_at.is_(None))
            .values(next_run_at=next_run_at)
        )
        return bool(changed.rowcount)  # type: ignore[attr-defined]


def claim_run(
    db: Database,
    schedule: Schedule,
    next_run_at: datetime,
    *,
    fired_at: datetime | None,
    fence: ColumnElement[bool],
) -> bool:
    """Take the run due at ``schedule.next_run_at`` by moving it to ``next_run_at``; True for exactly one caller.

    The UPDATE matches only while the row still has the due time it was read with and ``fence``
    holds (this scheduler still leads), so two schedulers, or one that lost its lease a moment ago,
    can never both take the same run. ``fired_at`` is set as ``last_run_at`` when the run fires.
    """
    values: dict[str, Any] = {"next_run_at": next_run_at}
    if fired_at is not None:
        values["last_run_at"] = fired_at
    with db.write() as session:
        changed = session.execute(
            update(ScheduleTable)
            .where(
                ScheduleTable.schedule_id == schedule.schedule_id,
                ScheduleTable.enabled.is_(True),
                ScheduleTable.next_run_at == schedule.next_run_at,
                fence,
            )
            .values(**values)
        )
        return bool(changed.rowcount)  # type: ignore[attr-defined]


def record_start(
    db: Database,
    schedule_id: uuid.UUID,
    process_id: uuid.UUID | None,
    error: str | None,
    *,
    ran_at: datetime | None = None,
) -> None:
    """Note the process a run started, or why it started none."""
    values: dict[str, Any] = {"last_error": error}
    if process_id is not None:
        values["last_process_id"] = process_id
    if ran_at is not None:
        values["last_run_at"] = ran_at
    with db.write() as session:
        session.execute(update(ScheduleTable).where(ScheduleTable.schedule_id == schedule_id).values(**values))


def disable(db: Database, schedule_id: uuid.UUID, reason: str) -> None:
    """Stop a schedule that can never run (its stored trigger is broken), saying why."""
    with db.write() as session:
        session.execute(
            update(ScheduleTable)
            .where(ScheduleTable.schedule_id == schedule_id)
            .values(enabled=False, next_run_at=None, last_error=reason)
        )
