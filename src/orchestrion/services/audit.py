"""The operator audit log: which actions outside processes are recorded, by whom, from where, with what outcome.

An operation records itself by running inside ``audited(action, kind, target_id)``. Its entry
commits with its change: an operation that owns its transaction opens it with ``note.write()``,
one whose store opens it hands ``note.append`` to the store as the work done ``within`` it; an
operation that changed nothing in a database is recorded when it returns. A refused operation
(one of orchestrion's refusals raised) rolled its transaction back, so it is recorded as refused,
with the reason, in a transaction of its own. Who and from where come from the entrance: the REST
API (``api.audit``), GraphQL and the command line (``acting_as``) say so for the call in progress;
a Python caller without either is ``SYSTEM``. Entries are appended by ``storage.audit`` alone, and
nothing edits them; ``sweep`` removes those older than ``AUDIT_LOG_RETENTION_DAYS``.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from orchestrion.db import Database, get_database
from orchestrion.db.listing import ListQuery
from orchestrion.engine.clock import utcnow
from orchestrion.errors import OrchestrionError
from orchestrion.runtime import current
from orchestrion.storage import audit as rows
from orchestrion.storage.verify import ChainReport, verify_audit_log, verify_history

DONE, REFUSED = rows.DONE, rows.REFUSED


@dataclass
class Caller:
    """Who the call in progress is for, and from which address; ``recorded``: whether an entry was written for it."""

    user: str | None = "SYSTEM"
    client: str | None = None
    recorded: bool = False


_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("orchestrion_audit_caller", default=None)


@contextmanager
def acting_as(user: str | None, client: str | None = None) -> Iterator[Caller]:
    """The audited operations called inside are ``user``'s, from ``client`` (the command line: its OS user)."""
    caller = Caller(user, client)
    token = _caller.set(caller)
    try:
        yield caller
    finally:
        _caller.reset(token)


def caller() -> Caller:
    return _caller.get() or Caller()


@dataclass
class Note:
    """An audited operation's entry while the operation runs: the target's id once known, what changed, and
    whether it was written in the operation's own transaction."""

    action: str
    target_kind: str
    target_id: str | None
    details: dict[str, Any] = field(default_factory=dict)
    database: Database | None = None
    written: bool = False

    def append(self, session: Session, **details: Any) -> None:
        """Write the entry, as done and with ``details`` added, in ``session``'s transaction: it commits with
        the operation's change or not at all."""
        self.details.update(details)
        _append(session, self._entry(DONE))
        self.written = True

    @contextmanager
    def write(self) -> Iterator[Session]:
        """The operation's write transaction, its entry written in it when the body returns."""
        with (self.database or get_database()).write() as session:
            yield session
            self.append(session)

    def _entry(self, outcome: str, reason: str | None = None) -> rows.Entry:
        who = caller()
        who.recorded = True
        return rows.Entry(
            who.user, who.client, self.action, self.target_kind, self.target_id, self.details or None, outcome, reason
        )


@contextmanager
def audited(
    action: str, target_kind: str, target_id: object = None, *, database: Database | None = None, **details: Any
) -> Iterator[Note]:
    """Record the operation in the body: done with its change (``Note.write``, ``Note.append``) or when it
    returns, refused (and re-raised) when it is refused.

    ``database``: the one the operation changes, when the caller names it (default: the current runtime's).
    """
    note = Note(action, target_kind, str(target_id) if target_id is not None else None, dict(details), database)
    try:
        yield note
    except OrchestrionError as e:
        _record(note._entry(REFUSED, str(e)), database)
        raise
    if not note.written:
        _record(note._entry(DONE), database)


def record_refusal(action: str, target_kind: str, target_id: str | None, reason: str) -> None:
    """Record a call refused before its operation ran (not authenticated, not authorised, invalid input)."""
    _record(Note(action, target_kind, target_id)._entry(REFUSED, reason))


def _record(entry: rows.Entry, database: Database | None = None) -> None:
    with (database or get_database()).write() as session:
        _append(session, entry)


def _append(session: Session, entry: rows.Entry) -> None:
    rows.append(session, entry, utcnow())


def page(listing: ListQuery) -> tuple[list[dict[str, Any]], int]:
    with get_database().read() as session:
        return rows.page(session, listing)


def retention_cutoff(now: datetime) -> datetime:
    return now - timedelta(days=current().settings.AUDIT_LOG_RETENTION_DAYS)


def has_expired_entries(now: datetime) -> bool:
    with get_database().read() as session:
        return rows.has_entries_before(session, retention_cutoff(now))


def sweep(session: Session, now: datetime) -> int:
    """Remove the entries older than ``AUDIT_LOG_RETENTION_DAYS`` in ``session``'s transaction (the sweep
    records itself); how many."""
    return rows.remove_before(session, retention_cutoff(now), now)


def verify(process_ids: Collection[uuid.UUID] | None = None) -> tuple[ChainReport, ChainReport]:
    """Walk the history's chains (all, or those of ``process_ids``) and the audit log's: (history, audit log),
    each with its first break if any."""
    with get_database().read() as session:
        return verify_history(session, process_ids), verify_audit_log(session)
