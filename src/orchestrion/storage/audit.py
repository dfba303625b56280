"""The audit log's rows: appending an entry to its chain, reading pages of it, and the retention sweep.

The one writer of ``audit_log`` (``services.audit`` decides what is recorded). Entries form one
hash chain, so appending is serialised: on PostgreSQL by a transaction-scoped advisory lock,
on SQLite by its write lock; an entry's id is the previous one's plus one, so a deleted entry
leaves a gap ``audit verify`` reports. Nothing here edits an entry; the sweep removes the oldest
and records, as an entry of its own, up to which entry and hash it removed, so the chain's new
start can still be checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from orchestrion.db.chain import audit_hash
from orchestrion.db.listing import ListQuery, ListSpec, QueryError, any_of, contains
from orchestrion.db.models import AuditLogTable
from orchestrion.db.types import texts_storable

_A = AuditLogTable
RETENTION_ACTION = "audit.retention"
_LOCK_KEY = 0x6F72636861756469  # pg_advisory_xact_lock's key for appending to the audit log ("orchaudi")
DONE, REFUSED = "done", "refused"
_TEXT = 255  # the length of the user, client and target id columns


@dataclass(frozen=True)
class Entry:
    """What an entry says, before it is chained."""

    user: str | None
    client: str | None
    action: str
    target_kind: str
    target_id: str | None
    details: Any = None
    outcome: str = DONE
    reason: str | None = None


def _lock_chain(session: Session) -> None:
    """One writer at a time on the chain (SQLite's write transactions are exclusive already)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def append(session: Session, entry: Entry, at: datetime) -> int:
    """Chain ``entry`` to the latest one and insert it, in ``session``'s transaction; returns its id."""
    _lock_chain(session)
    last = session.execute(select(_A.id, _A.row_hash).order_by(_A.id.desc()).limit(1)).first()
    return _insert(session, entry, at, last.id if last else 0, last.row_hash if last else None)


def _storable(text: str | None, limit: int | None = None) -> str | None:
    """Text as the entry keeps it: a refused request may name a target no database stores (a NUL, a lone
    surrogate, more than the column holds), and its refusal must still be recorded; those characters are
    kept as escapes, and what is too long is cut at ``limit``."""
    if text is not None and not texts_storable(text):
        text = text.encode("utf-8", "backslashreplace").decode().replace("\x00", "\\x00")
    return text[:limit] if text is not None and limit is not None else text


def _storable_details(details: Any) -> Any:
    """Details as the entry keeps them: a refused request's may hold what no JSON column stores (a NUL, a
    lone surrogate, an integer beyond 64 bits); then they are kept as their text."""
    try:
        orjson.dumps(details)
    except TypeError:
        return {"unstorable": _storable(repr(details))}
    return details if texts_storable(details) else {"unstorable": _storable(repr(details))}


def _insert(session: Session, entry: Entry, at: datetime, last_id: int, last_hash: str | None) -> int:
    entry_id = last_id + 1
    row = AuditLogTable(
        id=entry_id,
        at=at,
        user=_storable(entry.user, _TEXT),
        client=_storable(entry.client, _TEXT),
        action=entry.action,
        target_kind=entry.target_kind,
        target_id=_storable(entry.target_id, _TEXT),
        details=_storable_details(entry.details),
        outcome=entry.outcome,
        reason=_storable(entry.reason),
        prev_hash=last_hash,
    )
    row.row_hash = audit_hash(row)
    session.add(row)
    session.flush()
    return entry_id


def remove_before(session: Session, cutoff: datetime, now: datetime) -> int:
    """The retention sweep: remove the entries older than ``cutoff`` and record that (returns how many)."""
    _lock_chain(session)
    through = session.execute(select(_A.id, _A.row_hash).where(_A.at < cutoff).order_by(_A.id.desc()).limit(1)).first()
    if through is None:
        return 0
    removed = int(session.execute(delete(_A).where(_A.id <= through.id)).rowcount)  # type: ignore[attr-defined]
    last = session.execute(select(_A.id, _A.row_hash).order_by(_A.id.desc()).limit(1)).first()
    details = {
        "removed": removed,
        "through_id": through.id,
        "through_hash": through.row_hash,
        "before": cutoff.isoformat(),
    }
    entry = Entry("SYSTEM", None, RETENTION_ACTION, "audit_log", None, details)
    _insert(session, entry, now, *(tuple(last) if last else (through.id, through.row_hash)))
    return removed


def has_entries_before(session: Session, cutoff: datetime) -> bool:
    return session.execute(select(_A.id).where(_A.at < cutoff).limit(1)).first() is not None


def _moment(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{value!r} is not an ISO 8601 time (e.g. 2026-12-01T12:00:00+00:00)") from None


AUDIT_LIST = ListSpec(
    entity="audit-log",
    sorts={"at": _A.at, "id": _A.id, "user": _A.user, "action": _A.action, "outcome": _A.outcome},
    filters={
        "action": lambda v: _A.action.in_(v.split("|")),
        "user": lambda v: _A.user.in_(v.split("|")),
        "outcome": lambda v: _A.outcome.in_(any_of(v)),
        "target_kind": lambda v: _A.target_kind.in_(any_of(v)),
        "target_id": lambda v: _A.target_id == v,
        "target": lambda v: contains(_A.target_id, v),
        "since": lambda v: _A.at >= _moment(v),
        "until": lambda v: _A.at < _moment(v),
    },
    tiebreak=(_A.id.desc(),),
)

_COLUMNS: tuple[Any, ...] = (_A.id, _A.at, _A.user, _A.client, _A.action, _A.target_kind, _A.target_id)
_COLUMNS += (_A.details, _A.outcome, _A.reason, _A.prev_hash, _A.row_hash)


def page(session: Session, listing: ListQuery) -> tuple[list[dict[str, Any]], int]:
    """One page of entries (newest first unless sorted otherwise), and how many match in all."""
    rows, total = AUDIT_LIST.fetch(session, select(*_COLUMNS), listing)
    return [dict(row._mapping) for row in rows], total
