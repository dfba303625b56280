"""Triggers: when a schedule's runs fall due, and what happens to runs the scheduler missed.

Pure functions of the times they are given (no clock of their own), so they are tested with any
"now". Cron expressions are read in UTC, like every timestamp orchestrion stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import CroniterError, croniter
from pydantic_forms.types import strEnum

from orchestrion.errors import InvalidInputError

MAX_INTERVAL = 366 * 24 * 3600  # a year: plenty, and within a 32-bit column and datetime's range


class InvalidTriggerError(InvalidInputError):
    """A cron expression or interval that cannot schedule anything."""


class TriggerKind(strEnum):
    CRON = "cron"
    INTERVAL = "interval"


class MisfirePolicy(strEnum):
    """What a run missed by more than the grace time (the scheduler was down) does when it is noticed."""

    RUN_ONCE = "run_once"  # fire once, however many runs were missed
    SKIP = "skip"  # drop it; the next run is the next one in the future


@dataclass(frozen=True, slots=True)
class CronTrigger:
    expression: str

    def after(self, moment: datetime) -> datetime:
        """The first time the expression matches strictly after ``moment``."""
        return croniter(self.expression, moment).get_next(datetime)

    def following(self, due_at: datetime, now: datetime) -> datetime:
        return self.after(max(due_at, now))


@dataclass(frozen=True, slots=True)
class IntervalTrigger:
    seconds: int

    def after(self, moment: datetime) -> datetime:
        return moment + timedelta(seconds=self.seconds)

    def following(self, due_at: datetime, now: datetime) -> datetime:
        """The first run after ``now`` on the grid ``due_at + k * interval``: late runs cause no drift."""
        step = timedelta(seconds=self.seconds)
        if now < due_at:
            return due_at + step
        return due_at + step * ((now - due_at) // step + 1)


Trigger = CronTrigger | IntervalTrigger


def make_trigger(kind: str, cron_expression: str | None, interval_seconds: int | None) -> Trigger:
    """Validate a trigger as stored (kind plus the one field that kind uses); raises ``InvalidTriggerError``."""
    if kind == TriggerKind.CRON:
        if interval_seconds is not None:
            raise InvalidTriggerError("A cron trigger takes cron_expression, not interval_seconds")
        return _cron(cron_expression)
    if kind == TriggerKind.INTERVAL:
        if cron_expression is not None:
            raise InvalidTriggerError("An interval trigger takes interval_seconds, not cron_expression")
        if interval_seconds is None or isinstance(interval_seconds, bool) or not 1 <= interval_seconds <= MAX_INTERVAL:
            raise InvalidTriggerError(
                f"interval_seconds must be a whole number of seconds >= 1 and <= {MAX_INTERVAL} (a year),"
                f" not {interval_seconds}"
            )
        return IntervalTrigger(int(interval_seconds))
    raise InvalidTriggerError(f"Unknown trigger {kind!r}; use 'cron' or 'interval'")


def _cron(expression: str | None) -> CronTrigger:
    text = " ".join((expression or "").split())
    fields = "minute hour day-of-month month day-of-week"
    if not text:
        raise InvalidTriggerError(f"A cron trigger needs cron_expression: five fields ({fields}) or @daily etc.")
    if not text.startswith("@") and len(text.split()) != 5:
        raise InvalidTriggerError(f"Cron expression {text!r} must have five fields: {fields}")
    if not croniter.is_valid(text):
        raise InvalidTriggerError(f"Cron expression {text!r} is not valid ({fields})")
    trigger = CronTrigger(text)
    try:
        trigger.after(datetime(2000, 1, 1, tzinfo=UTC))
    except CroniterError:
        raise InvalidTriggerError(f"Cron expression {text!r} never matches a date") from None
    return trigger


def first_run(trigger: Trigger, now: datetime, start: datetime | None = None) -> datetime:
    """When a new (or re-planned) schedule runs first: after ``now``, and not before ``start`` when given.

    An interval schedule with a ``start`` runs on the grid ``start + k * interval``, so a start in
    the past keeps its rhythm; a cron schedule's first match may be ``start`` itself.
    """
    if start is None:
        return trigger.after(now)
    if isinstance(trigger, IntervalTrigger):
        return start if start > now else trigger.following(start, now)
    return trigger.after(max(now, start - timedelta(microseconds=1)))


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a run that is due: start it or not, and when the schedule runs next."""

    fire: bool
    missed: bool
    next_run_at: datetime


def decide(trigger: Trigger, due_at: datetime, now: datetime, policy: MisfirePolicy, grace: timedelta) -> Decision:
    """A run due at ``due_at``, noticed at ``now``: later than ``grace`` is a miss, handled by ``policy``.

    Either way only one run is considered: missed runs are coalesced, never replayed one by one.
    """
    missed = now - due_at > grace
    fire = not missed or policy == MisfirePolicy.RUN_ONCE
    return Decision(fire=fire, missed=missed, next_run_at=trigger.following(due_at, now))
