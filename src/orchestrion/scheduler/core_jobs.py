"""orchestrator-core's schedule bodies (APScheduler jobs, what orchestrator-ui sends) on orchestrion's schedules.

orchestrator-core queues ``{scheduled_type: create|update|delete, ...}`` for its scheduler to apply
later; orchestrion applies the change at once, to its schedules as data. APScheduler's triggers are
mapped onto orchestrion's two: ``interval`` (weeks ... seconds) becomes ``interval_seconds``;
``cron`` (its fields, APScheduler's defaults for the fields not given) becomes a five-field cron
expression in UTC; ``start_date`` becomes the first run's earliest time. What orchestrion's
schedules cannot hold is refused with a 400 that says why: a one-off ``date`` trigger, seconds,
years, ISO weeks, an end date, jitter, another time zone, and a cron trigger that restricts both
day of month and day of week (APScheduler wants both; a cron expression takes either).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from orchestrion.auth import authorize
from orchestrion.db import Database
from orchestrion.engine.registry import get_workflow
from orchestrion.engine.workflow import Workflow
from orchestrion.errors import ScheduleNotFoundError, WorkflowNotFoundError
from orchestrion.scheduler.schedules import (
    InvalidScheduleError,
    Pages,
    Schedule,
    ScheduleChanges,
    ScheduleSpec,
    Text,
    create_schedule,
    delete_schedule,
    get_schedule,
    list_schedules,
    update_schedule,
)
from orchestrion.scheduler.triggers import TriggerKind
from orchestrion.storage.workflow_rows import WorkflowRow, workflow_rows

CoreTrigger = Literal["interval", "cron", "date"]


def _one_empty_page() -> list[dict[str, Any]]:
    return [{}]


class CoreJobCreate(BaseModel):
    scheduled_type: Literal["create"] = "create"
    name: Text | None = Field(None, max_length=255)
    workflow_name: Text = Field(max_length=255)
    workflow_id: uuid.UUID
    trigger: CoreTrigger
    trigger_kwargs: dict[str, Any] = Field(default_factory=dict)
    user_inputs: Pages = Field(default_factory=_one_empty_page)


class CoreJobUpdate(BaseModel):
    scheduled_type: Literal["update"] = "update"
    schedule_id: uuid.UUID
    name: Text | None = Field(None, max_length=255)
    trigger: CoreTrigger | None = None
    trigger_kwargs: dict[str, Any] | None = None


class CoreJobDelete(BaseModel):
    scheduled_type: Literal["delete"] = "delete"
    workflow_id: uuid.UUID
    schedule_id: uuid.UUID | None = None


class CoreJobAnswer(BaseModel):
    message: str
    status: Literal["CREATED", "UPDATED", "DELETED"]


# --- the triggers ---------------------------------------------------------------------------------

_INTERVAL_UNITS = ("weeks", "days", "hours", "minutes", "seconds")
# Most significant first, as APScheduler fills in the fields not given: those before the last one
# given match anything, those after it take their smallest value.
_CRON_FIELDS = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
_CRON_SMALLEST = {"month": "1", "day": "1", "hour": "0", "minute": "0", "second": "0"}
_COMMON = ("start_date", "end_date", "timezone", "jitter")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # APScheduler's 0-6; cron's 1-7 (7: Sunday)
_WEEKDAY = r"([0-6]|mon|tue|wed|thu|fri|sat|sun)"
_WEEKDAY_EXPRESSION = re.compile(rf"^(\*|{_WEEKDAY}(-{_WEEKDAY})?)(/\d+)?$")
_MOMENT = TypeAdapter(datetime)
_YEARS = range(1970, 3000)  # a first run outside these is a mistake (and beyond what the clock arithmetic takes)


class TriggerNotRepresentableError(InvalidScheduleError):
    """An APScheduler trigger that orchestrion's schedules (cron or interval, in UTC) cannot hold."""


def _refuse(trigger: str, why: str) -> TriggerNotRepresentableError:
    return TriggerNotRepresentableError(f"The {trigger} trigger cannot be stored as an orchestrion schedule: {why}")


def _moment(value: Any, what: str) -> datetime:
    try:
        moment = _MOMENT.validate_python(value)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValidationError, OverflowError):
        raise InvalidScheduleError(f"{what} {value!r} is not a date and time") from None
    if moment.year not in _YEARS:
        raise InvalidScheduleError(f"{what} {value!r} must lie between {_YEARS.start} and {_YEARS.stop}")
    return moment


def _check_common(trigger: str, kwargs: dict[str, Any], fields: tuple[str, ...]) -> datetime | None:
    """Refuse unknown and unrepresentable arguments; the ``start_date`` given, if any."""
    if unknown := sorted(set(kwargs) - set(fields) - set(_COMMON)):
        allowed = ", ".join((*fields, *_COMMON))
        raise InvalidScheduleError(f"Unknown {trigger} trigger argument(s) {', '.join(unknown)}; allowed: {allowed}")
    if kwargs.get("end_date") is not None:
        raise _refuse(trigger, "schedules have no end date (delete the schedule when it should stop)")
    if kwargs.get("jitter"):
        raise _refuse(trigger, "schedules run at their time, without jitter")
    if kwargs.get("timezone") not in (None, "UTC", "utc", "Etc/UTC"):
        raise _refuse(trigger, f"schedules run in UTC, not in {kwargs['timezone']!r}")
    start = kwargs.get("start_date")
    return None if start is None else _moment(start, "start_date")


def _interval_seconds(kwargs: dict[str, Any]) -> int:
    given = {unit: kwargs[unit] for unit in _INTERVAL_UNITS if kwargs.get(unit) is not None}
    for unit, value in given.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidScheduleError(f"Interval {unit} must be a number, not {value!r}")
    try:
        seconds = timedelta(**given).total_seconds()
    except (OverflowError, ValueError):
        raise _refuse("interval", f"{given} is not a length of time") from None
    if seconds != int(seconds):
        raise _refuse("interval", f"intervals are whole seconds, not {seconds}")
    return int(seconds)


def _cron_value(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidScheduleError(f"Cron field {name} must be a number or an expression, not {value!r}")
    return "".join(str(value).lower().split())


def _weekday_number(token: str) -> str:
    return str((int(token) if token.isdigit() else _WEEKDAYS.index(token)) + 1)


def _cron_weekdays(expression: str) -> str:
    """APScheduler's day_of_week (0 or mon: Monday) as cron's (1: Monday ... 7: Sunday)."""
    if expression == "*":
        return expression
    parts = []
    for part in expression.split(","):
        found = _WEEKDAY_EXPRESSION.match(part)
        if found is None:
            raise _refuse("cron", f"day_of_week {part!r} has no cron equivalent")
        _, first, _, last, step = found.groups()
        days = "1-7" if first is None else _weekday_number(first) + (f"-{_weekday_number(last)}" if last else "")
        parts.append(days + (step or ""))
    return ",".join(parts)


def _cron_expression(kwargs: dict[str, Any]) -> str:
    given = {name: _cron_value(name, kwargs[name]) for name in _CRON_FIELDS if kwargs.get(name) is not None}
    fields: dict[str, str] = {}
    pending, smallest = set(given), False
    for name in _CRON_FIELDS:
        if name in given:
            fields[name] = given[name]
            pending.discard(name)
            smallest = not pending
        else:
            fields[name] = _CRON_SMALLEST.get(name, "*") if smallest else "*"
    if fields["second"] != "0":
        raise _refuse("cron", "schedules run on whole minutes (second must be 0)")
    for name in ("year", "week"):
        if fields[name] != "*":
            raise _refuse("cron", f"a cron expression has no {name} field")
    if fields["day"] != "*" and fields["day_of_week"] != "*":
        raise _refuse("cron", "a cron expression matches day or day_of_week; APScheduler would need both")
    day = "L" if fields["day"] == "last" else fields["day"]
    return " ".join((fields["minute"], fields["hour"], day, fields["month"], _cron_weekdays(fields["day_of_week"])))


def schedule_trigger(trigger: str, kwargs: dict[str, Any]) -> tuple[dict[str, Any], datetime | None]:
    """An APScheduler trigger as orchestrion's trigger fields, and the first run's earliest time."""
    if trigger == "date":
        raise _refuse(
            "date",
            "schedules repeat (cron or interval); to run a task once, start it then (POST /api/processes/{task})",
        )
    if trigger == "interval":
        start = _check_common(trigger, kwargs, _INTERVAL_UNITS)
        return {"trigger": TriggerKind.INTERVAL, "interval_seconds": _interval_seconds(kwargs)}, start
    start = _check_common(trigger, kwargs, _CRON_FIELDS)
    return {"trigger": TriggerKind.CRON, "cron_expression": _cron_expression(kwargs)}, start


# --- the jobs -------------------------------------------------------------------------------------


def _row_of(db: Database, workflow_id: uuid.UUID) -> WorkflowRow:
    with db.read() as session:
        found = next((row for row in workflow_rows(session).values() if row.workflow_id == workflow_id), None)
    if found is None:
        raise WorkflowNotFoundError(f"Task {workflow_id} does not exist")
    return found


def _may_schedule(workflow_name: str, user: str, user_model: Any) -> Workflow | None:
    """The task, when the user may start it (who may start a task may schedule it, as in orchestrator-core)."""
    wf = get_workflow(workflow_name)
    if wf is not None:
        authorize(wf, "start_workflow", user, user_model=user_model)
    return wf


def _free_name(db: Database, wanted: str) -> str:
    """``wanted``, or with `` (2)``, `` (3)`` ... after it: orchestrator-ui names every schedule of a task alike."""
    taken = {schedule.name for schedule in list_schedules(db)}
    name, n = wanted[:255], 1
    while name in taken:
        n += 1
        suffix = f" ({n})"
        name = wanted[: 255 - len(suffix)] + suffix
    return name


def create_job(db: Database, job: CoreJobCreate, now: datetime, user: str, user_model: Any = None) -> Schedule:
    row = _row_of(db, job.workflow_id)
    if row.name != job.workflow_name:
        raise InvalidScheduleError(f"workflow_id {job.workflow_id} is task {row.name!r}, not {job.workflow_name!r}")
    _may_schedule(row.name, user, user_model)
    fields, start = schedule_trigger(job.trigger, job.trigger_kwargs)
    name = _free_name(db, job.name or row.description or row.name)
    spec = ScheduleSpec(name=name, workflow_name=row.name, user_inputs=job.user_inputs, **fields)
    return create_schedule(db, spec, now, start=start)


def update_job(db: Database, job: CoreJobUpdate, now: datetime, user: str, user_model: Any = None) -> Schedule:
    """A new name and/or trigger; a trigger without arguments leaves the trigger as it is (as in orchestrator-core)."""
    schedule = get_schedule(db, job.schedule_id)
    if _may_schedule(schedule.workflow_name, user, user_model) is None:
        raise WorkflowNotFoundError(f"Task {schedule.workflow_name!r} does not exist")
    changes: dict[str, Any] = {}
    start = None
    if job.name:
        changes["name"] = job.name
    if job.trigger and job.trigger_kwargs:
        fields, start = schedule_trigger(job.trigger, job.trigger_kwargs)
        changes.update(fields)
    return update_schedule(db, schedule.schedule_id, ScheduleChanges(**changes), now, start=start)


def delete_job(db: Database, job: CoreJobDelete, user: str, user_model: Any = None) -> None:
    row = _row_of(db, job.workflow_id)
    if job.schedule_id is None:
        raise InvalidScheduleError("schedule_id is needed: which of the task's schedules is to go")
    schedule = get_schedule(db, job.schedule_id)
    if schedule.workflow_name != row.name:
        raise ScheduleNotFoundError(f"Schedule {job.schedule_id} is not a schedule of task {row.name!r}")
    _may_schedule(row.name, user, user_model)
    delete_schedule(db, schedule.schedule_id)
