"""The scheduler loop: each tick, if this instance leads, fire every due schedule exactly once.

It runs as a thread of the API server (``orchestrion run``) or as its own process
(``orchestrion scheduler run``); any number may run against one database. A tick never raises
into the loop: a refused start is recorded on the schedule, a database hiccup is logged and the
next tick tries again.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from orchestrion.db import Database
from orchestrion.db.types import utcnow
from orchestrion.errors import StartPredicateError
from orchestrion.runtime import activate, current, of_database
from orchestrion.scheduler import schedules
from orchestrion.scheduler.leader import LeaderLease
from orchestrion.scheduler.schedules import Schedule
from orchestrion.scheduler.triggers import InvalidTriggerError, decide
from orchestrion.storage.tables import new_worker_id

logger = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
SCHEDULER_USER = "scheduler"


@dataclass(frozen=True, slots=True)
class Fired:
    """What became of one due run: a process, a refusal (``error``), or a missed run skipped by policy."""

    schedule: str
    process_id: uuid.UUID | None = None
    error: str | None = None
    skipped: bool = False


def start_task(schedule: Schedule) -> tuple[uuid.UUID | None, Exception | None]:
    """Start the schedule's task; the process id, or why it was not started (never raises)."""
    from orchestrion.services.processes import start_process

    try:
        return start_process(schedule.workflow_name, schedule.user_inputs, user=SCHEDULER_USER), None
    except Exception as e:  # a run predicate, a paused engine, a form that no longer fits: recorded, not fatal
        return None, e


def _reason(error: Exception | None) -> str | None:
    return f"{type(error).__name__}: {error}" if error is not None else None


def run_now(db: Database, key: uuid.UUID | str, now: datetime) -> Fired:
    """Start a schedule's task at once, outside its timetable and without leading (``scheduler force``)."""
    schedule = schedules.get_schedule(db, key)
    process_id, error = start_task(schedule)
    schedules.record_start(db, schedule.schedule_id, process_id, _reason(error), ran_at=now)
    return Fired(schedule.name, process_id, _reason(error))


class Scheduler:
    """One scheduler instance. ``tick`` does one round; ``start``/``run`` loop until ``stop``."""

    def __init__(
        self,
        db: Database | None = None,
        *,
        clock: Clock = utcnow,
        holder: str | None = None,
        tick_seconds: float | None = None,
        lease_seconds: float | None = None,
        misfire_grace_seconds: float | None = None,
    ) -> None:
        self.runtime = (of_database(db) if db is not None else None) or current()  # whose tasks it starts
        self.db = db or self.runtime.database
        self.clock = clock
        settings = self.runtime.settings
        self.tick_seconds = tick_seconds if tick_seconds is not None else settings.SCHEDULER_TICK_SECONDS
        lease = timedelta(seconds=lease_seconds if lease_seconds is not None else settings.SCHEDULER_LEASE_SECONDS)
        self.lease = LeaderLease(self.db, holder or new_worker_id(), lease)
        self.grace = timedelta(
            seconds=misfire_grace_seconds
            if misfire_grace_seconds is not None
            else settings.SCHEDULER_MISFIRE_GRACE_SECONDS
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def holder(self) -> str:
        return self.lease.holder

    def tick(self) -> list[Fired]:
        """Renew or seek the lease; if leading, plan new schedules and fire the due ones."""
        now = self.clock()
        if not self.lease.keep(now):
            return []
        for schedule in schedules.unplanned_schedules(self.db):
            self._plan(schedule, now)
        fired = []
        for schedule in schedules.due_schedules(self.db, now):
            if (outcome := self._fire(schedule, now)) is not None:
                fired.append(outcome)
        return fired

    def _plan(self, schedule: Schedule, now: datetime) -> None:
        try:
            schedules.plan(self.db, schedule.schedule_id, schedule.make_trigger().after(now))
        except InvalidTriggerError as e:
            self._disable(schedule, e)

    def _disable(self, schedule: Schedule, error: InvalidTriggerError) -> None:
        logger.error("Schedule has an invalid trigger; disabled", schedule=schedule.name, error=str(error))
        schedules.disable(self.db, schedule.schedule_id, f"Disabled: {error}")

    def _fire(self, schedule: Schedule, now: datetime) -> Fired | None:
        """Claim the due run (atomically advancing ``next_run_at``), then start it; None if another took it."""
        assert schedule.next_run_at is not None
        try:
            decision = decide(schedule.make_trigger(), schedule.next_run_at, now, schedule.misfire_policy, self.grace)
        except InvalidTriggerError as e:
            self._disable(schedule, e)
            return None
        claimed = schedules.claim_run(
            self.db,
            schedule,
            decision.next_run_at,
            fired_at=now if decision.fire else None,
            fence=self.lease.fence(now),
        )
        if not claimed:
            return None
        log = logger.bind(schedule=schedule.name, task=schedule.workflow_name, due_at=schedule.next_run_at.isoformat())
        if not decision.fire:
            log.info("Missed run skipped (misfire policy 'skip')", next_run_at=decision.next_run_at.isoformat())
            return Fired(schedule.name, skipped=True)
        process_id, error = start_task(schedule)
        schedules.record_start(self.db, schedule.schedule_id, process_id, _reason(error))
        if isinstance(error, StartPredicateError):  # the normal "nothing to do" of a periodic task
            log.debug("Scheduled task skipped: its run predicate refused", reason=error.message)
        elif error is not None:
            log.warning("Scheduled task not started", reason=_reason(error))
        else:
            log.info("Scheduled task started", process_id=str(process_id), missed=decision.missed)
        return Fired(schedule.name, process_id, _reason(error))

    # --- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        """Tick until ``stop``; then give the lease up so a standby takes over at once."""
        logger.info("Scheduler started", holder=self.holder)
        try:
            with activate(self.runtime):
                self._loop()
        finally:
            try:
                self.lease.release()
            except Exception:
                logger.exception("Could not release the scheduler lease; it lapses by itself")
            logger.info("Scheduler stopped", holder=self.holder)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                logger.exception("Scheduler tick failed; trying again at the next tick")
            self._stop.wait(self.tick_seconds)

    def start(self) -> None:
        """Run the loop in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="orchestrion-scheduler", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the loop to stop after the current tick (safe from a signal handler)."""
        self._stop.set()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop the loop, letting a tick in progress finish, and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
