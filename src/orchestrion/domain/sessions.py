"""Where domain code reads from: the running step's transaction, else the current scope's session, else a fresh one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from sqlalchemy.orm import Session

from orchestrion.db import get_database
from orchestrion.db.sessions import in_scope, transaction_session


@contextmanager
def reading() -> Iterator[Session]:
    """Inside a step, reads see the step's own uncommitted writes; in a scope (a request, a form), the
    scope's session; elsewhere a fresh session, so a script never reads through a stale transaction."""
    if (current := transaction_session()) is not None:
        yield current
    elif in_scope():
        yield get_database().scoped()
    else:
        with get_database().read() as fresh:
            yield fresh


def as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
