"""What a database error means for the work that met it: retrying helps, or it cannot.

An *infrastructure* error (the connection was lost, the server is restarting, a serialization
failure or deadlock, SQLite's write lock still held when its busy timeout ran out) says nothing
about the work: the transaction was rolled back, and the same work succeeds once the database is
back. A *data* error (a constraint, a value the column cannot take) will fail again every time.
Both are recognised from SQLAlchemy's wrappers and from the drivers' own exceptions, anywhere in
the chain of causes (a step may wrap the error it met).
"""

from __future__ import annotations

import random
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import structlog
from sqlalchemy import exc

logger = structlog.get_logger(__name__)
T = TypeVar("T")

# PostgreSQL SQLSTATEs after which the same transaction succeeds on a retry. Class 08 (connection
# exceptions) is matched as a class.
_RETRYABLE_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "57P01",  # admin_shutdown (a terminated backend, a fast shutdown)
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (the server is starting or in recovery)
        "53300",  # too_many_connections
    }
)
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, exc.DBAPIError) and current.orig is not None:
            yield current.orig
        current = current.__cause__ or current.__context__


def _is_retryable(error: BaseException) -> bool:
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, exc.DisconnectionError | exc.TimeoutError):  # TimeoutError: no pooled connection came free
        return True
    if isinstance(error, sqlite3.OperationalError):
        return str(error).startswith(_SQLITE_BUSY)
    # psycopg's errors exist only once it is loaded (PostgreSQL in use): a SQLite server never imports it
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(error, psycopg.OperationalError):
        sqlstate = getattr(error, "sqlstate", None)
        # No SQLSTATE: the client lost the connection ("server closed the connection unexpectedly").
        return sqlstate is None or sqlstate.startswith("08") or sqlstate in _RETRYABLE_SQLSTATES
    return False


def is_transient(error: BaseException) -> bool:
    """An infrastructure error: the transaction was rolled back and the same work may simply be tried again."""
    return any(_is_retryable(e) for e in _chain(error))


def rejects_data(error: BaseException) -> bool:
    """A data or integrity error (from SQLAlchemy or straight from the driver): retrying cannot help."""
    return any(cls.__name__ in ("DataError", "IntegrityError") for cls in type(error).__mro__)


def retry_delay(attempt: int, *, base: float = 0.05, cap: float = 2.0) -> float:
    """Seconds to wait before the next try after ``attempt`` (0-based) failures in a row.

    Doubling from ``base`` up to ``cap``, drawn from the upper half of each doubling so workers that
    met the same outage do not all come back at once. The cap is short: an outage's end should be
    noticed within a couple of seconds, well inside a lease.
    """
    ceiling = min(base * 2.0 ** min(attempt, 32), cap)
    return ceiling * (0.5 + random.random() / 2)


def wait_out(work: Callable[[], T], *, patience: float, what: str) -> T:
    """``work()``, tried again while it meets infrastructure errors, for up to ``patience`` seconds.

    For a service starting up: a server restarted in the middle of a database outage (or a
    failover) should come up once the database is back, not exit and need a person to start it.
    """
    deadline = time.monotonic() + patience
    attempt = 0
    while True:
        try:
            return work()
        except Exception as e:
            delay = retry_delay(attempt, cap=2.0)
            if not is_transient(e) or time.monotonic() + delay > deadline:
                raise
            logger.warning(f"The database is unavailable; {what} waits for it", error=str(e), attempt=attempt + 1)
            time.sleep(delay)
            attempt += 1
