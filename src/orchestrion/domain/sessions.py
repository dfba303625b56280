"""Where domain code reads from: the running step's transaction when there is one, else a read session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from sqlalchemy.orm import Session

from orchestrion import db


@contextmanager
def reading() -> Iterator[Session]:
    """Inside a step, reads see the step's own uncommitted writes; elsewhere (the API) a fresh session."""
    try:
        current = db.session()
    except RuntimeError:
        with db.get_database().read() as fresh:
            yield fresh
        return
    yield current


def as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
