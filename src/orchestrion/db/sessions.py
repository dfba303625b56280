"""Which session database code uses: the running step's transaction, else the session of the current scope.

Inside a step, ``db.session`` is the step's own transaction, committed with its checkpoint. Outside
one (form generators, API handlers, scripts) it is the session of the current *scope*: a request,
a form evaluation, or a ``database_scope()`` block, each with a session of its own that is closed
when the scope ends. Code outside any scope (a script, a test) gets one session per thread, as
with orchestrator-core; it commits or rolls back itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from orchestrion.db.database import Database


class StepSession:
    """The running step's session, opened only when the step (or a hook) first asks for it.

    Most steps never touch the database themselves; their checkpoint then needs no ORM session.
    """

    __slots__ = ("_before_open", "_db", "session")

    def __init__(self, db: Database, before_open: Callable[[], None] | None = None) -> None:
        self._db = db
        self._before_open = before_open  # the journal hands back the connection it kept: one per worker at a time
        self.session: Session | None = None

    def get(self) -> Session:
        if self.session is None:
            if self._before_open is not None:
                self._before_open()
            self.session = self._db.write_session()
        return self.session


_SessionT = TypeVar("_SessionT", Session, StepSession)
_current: ContextVar[Session | StepSession | None] = ContextVar("orchestrion_session", default=None)
_scope: ContextVar[object | None] = ContextVar("orchestrion_scope", default=None)


def transaction_session() -> Session | None:
    """The session of the running step (or of ``Database.write``), or None outside one."""
    current = _current.get()
    if isinstance(current, StepSession):
        return current.get()
    return current


def session() -> Session:
    """The session of the running step (or of ``Database.write``); steps use it for their own writes."""
    if (current := transaction_session()) is None:
        raise RuntimeError("No database transaction is active; use it from a step or inside db.write()")
    return current


def connection_of(session: Session) -> Connection:
    """The session's connection, for a statement built once and run there (no ORM layer), after the flush an ORM
    query would have done first: a scope's session autoflushes (a step's and the read sessions do not)."""
    if session.autoflush:
        session.flush()  # nothing to do, and nothing done, when the session holds no change
    return session.connection()


@contextmanager
def bind_session(current: _SessionT) -> Iterator[_SessionT]:
    token = _current.set(current)
    try:
        yield current
    finally:
        _current.reset(token)


def scope_key() -> object:
    """What ``Database.scoped`` keys its sessions by: the current scope, else the thread."""
    return _scope.get() or threading.get_ident()


def in_scope() -> bool:
    return _scope.get() is not None


@contextmanager
def database_scope(database: Database) -> Iterator[None]:
    """A scope with a session of its own, closed (rolling back what was not committed) at the end."""
    token = _scope.set(object())
    try:
        yield
    finally:
        database.scoped.remove()
        _scope.reset(token)


@contextmanager
def reading(database: Database) -> Iterator[Session]:
    """The session to read from: inside a step, the step's own (so reads see its uncommitted writes);
    in a scope (a request, a form), the scope's; elsewhere a fresh one, so a script never reads
    through a stale transaction."""
    if (current := transaction_session()) is not None:
        yield current
    elif in_scope():
        yield database.scoped()
    else:
        with database.read() as fresh:
            yield fresh
