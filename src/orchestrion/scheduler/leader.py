"""Leader election through the database: of all running schedulers, only the lease holder fires schedules.

The lease is one row (``scheduler_leader``). A scheduler takes or renews it with a conditional
UPDATE that matches only when the row is free, lapsed, or already its own; the database
serialises concurrent attempts, so at most one wins. No broker, lock service or clock agreement
beyond "roughly synchronised" is needed: skewed clocks can only shorten a lease, and firing is
fenced again per run (see ``fence``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

import structlog
from sqlalchemy import ColumnElement, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from orchestrion.db import Database
from orchestrion.db.schedule_models import SchedulerLeaderTable

logger = structlog.get_logger(__name__)

_ROW = 1


class Leader(NamedTuple):
    holder: str
    lease_until: datetime


class LeaderLease:
    """One scheduler's side of the lease: try to take it, keep it, and give it up on a graceful stop."""

    def __init__(self, db: Database, holder: str, lease: timedelta, renew_every: timedelta | None = None) -> None:
        self.db = db
        self.holder = holder
        self.lease = lease
        self.renew_every = renew_every if renew_every is not None else lease / 3
        self._held_until: datetime | None = None
        self._next_attempt: datetime | None = None

    def holds(self, now: datetime) -> bool:
        """Whether this scheduler led at its last renewal and that lease has not run out."""
        return self._held_until is not None and now < self._held_until

    def keep(self, now: datetime) -> bool:
        """Take or renew the lease when an attempt is due (every ``renew_every``); whether this scheduler leads."""
        if self._next_attempt is None or now >= self._next_attempt:
            self._next_attempt = now + self.renew_every
            was_leader = self.holds(now)
            self._held_until = now + self.lease if self._take(now) else None
            if self.holds(now) != was_leader:
                logger.info("Scheduler leadership changed", holder=self.holder, leader=self.holds(now))
        return self.holds(now)

    def _take(self, now: datetime) -> bool:
        until = now + self.lease
        with self.db.write() as session:
            taken = session.execute(
                update(SchedulerLeaderTable)
                .where(
                    SchedulerLeaderTable.id == _ROW,
                    or_(
                        SchedulerLeaderTable.holder == self.holder,
                        SchedulerLeaderTable.holder.is_(None),
                        SchedulerLeaderTable.lease_until < now,
                    ),
                )
                .values(holder=self.holder, lease_until=until)
            ).rowcount  # type: ignore[attr-defined]
            if taken:
                return True
            if session.get(SchedulerLeaderTable, _ROW) is not None:
                return False
        try:  # the row is missing (a table emptied by hand): whoever inserts it first leads
            with self.db.write() as session:
                session.execute(insert(SchedulerLeaderTable).values(id=_ROW, holder=self.holder, lease_until=until))
        except IntegrityError:
            return False
        return True

    def fence(self, now: datetime) -> ColumnElement[bool]:
        """SQL that is true only while this scheduler holds an unexpired lease: a condition on every firing."""
        return exists(
            select(SchedulerLeaderTable.id).where(
                SchedulerLeaderTable.id == _ROW,
                SchedulerLeaderTable.holder == self.holder,
                SchedulerLeaderTable.lease_until > now,
            )
        )

    def release(self) -> None:
        """Give the lease up so a standby takes over at its next attempt instead of waiting for it to lapse."""
        self._held_until = None
        with self.db.write() as session:
            session.execute(
                update(SchedulerLeaderTable)
                .where(SchedulerLeaderTable.id == _ROW, SchedulerLeaderTable.holder == self.holder)
                .values(holder=None, lease_until=None)
            )


def current_leader(db: Database) -> Leader | None:
    """Who holds the lease (it may have lapsed: compare ``lease_until`` with the time)."""
    with db.read() as session:
        row = session.get(SchedulerLeaderTable, _ROW)
        if row is None or row.holder is None or row.lease_until is None:
            return None
        return Leader(row.holder, row.lease_until)
