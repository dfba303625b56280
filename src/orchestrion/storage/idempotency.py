"""Idempotency keys of starts: the one module that writes ``process_idempotency_keys``.

A client that does not know whether its start arrived (the connection broke after the server
committed) sends it again with the same key and gets the process the first request created. The
key is written in the transaction that creates the process, so a key names a process that exists
or nothing at all; of two requests with one key racing, the second waits for the first's commit
and then finds its process.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from orchestrion.db.database import Database
from orchestrion.db.models import IdempotencyKeyTable
from orchestrion.errors import ProcessConflictError

_K = IdempotencyKeyTable


@dataclass(frozen=True)
class KeyedStart:
    """The start a key was first used for."""

    process_id: uuid.UUID
    request_hash: str


def find(db: Database, key: str, since: datetime) -> KeyedStart | None:
    """The start ``key`` was used for at or after ``since``; None when it is new (or expired)."""
    with db.read() as session:
        return _find(session, key, since)


def _find(session: Session, key: str, since: datetime) -> KeyedStart | None:
    row = session.execute(select(_K.process_id, _K.request_hash).where(_K.key == key, _K.created_at >= since)).first()
    return KeyedStart(row.process_id, row.request_hash) if row is not None else None


def remember(
    session: Session, key: str, request_hash: str, process_id: uuid.UUID, now: datetime, retention: timedelta
) -> KeyedStart | None:
    """Record ``key`` for the process being created in ``session``'s transaction.

    Returns the start that holds the key already (a concurrent request's, now committed), in which
    case this transaction must not create its process. Expired keys are dropped on the way, which
    keeps the table to one retention window of starts.
    """
    session.execute(delete(_K).where(_K.created_at < now - retention))
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = session.execute(
        insert(_K)
        .values(key=key, request_hash=request_hash, process_id=process_id, created_at=now)
        .on_conflict_do_nothing(index_elements=[_K.key])
        .returning(_K.key)
    ).first()
    if inserted is not None:
        return None
    holder = _find(session, key, now - retention)
    if holder is None:  # the holder expired between the two statements: the caller's retry inserts
        raise ProcessConflictError(f"Idempotency-Key {key!r} was in use a moment ago; send the request again")
    return holder
