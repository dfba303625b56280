"""A configured database: its engine, its sessions and the SQLite and PostgreSQL specifics.

SQLite (the embedded default) runs in WAL mode and takes its write lock when a write transaction
begins (``BEGIN IMMEDIATE``), so two writers never deadlock on a lock upgrade. PostgreSQL uses
psycopg 3. The same code and migrations serve both.
"""

from __future__ import annotations

import math
import os
import select
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from orchestrion.db.models import Base
from orchestrion.db.sessions import bind_session, scope_key
from orchestrion.db.statements import RawConnection
from orchestrion.engine.serialization import dumps
from orchestrion.settings import DEFAULT_CONNECTION_TIMEOUT, normalise_uri

BaseModel = Base  # orchestrator-core's name for the declarative base; an application's own tables derive from it


class RawJSON(str):
    """JSON text that is already serialised; written to JSON columns as it is."""

    __slots__ = ()


def _json_serializer(value: Any) -> str:
    if isinstance(value, RawJSON):
        return value
    return dumps(value).decode()


def _json_deserializer(value: str | int | float) -> Any:
    """JSON text as Python, and a number as it is.

    SQLite gives JSON columns NUMERIC affinity: JSON text that is a number literal (``12``, ``1.5``)
    is stored, and read back, as an INTEGER or REAL rather than as text. It also stores a float
    without fraction as an integer: ``1.0`` reads back as ``1`` (equal as JSON numbers).
    """
    return value if isinstance(value, int | float) else orjson.loads(value)


class Database:
    """An engine plus sessions: ``write()`` for work that changes data, ``read()`` for queries."""

    def __init__(
        self,
        uri: str,
        *,
        pool_size: int = 10,
        sqlite_synchronous: str = "NORMAL",
        connection_timeout: float = DEFAULT_CONNECTION_TIMEOUT,
    ) -> None:
        """``connection_timeout``: the longest a thread waits for a connection, pooled or new (see the setting)."""
        self.uri = normalise_uri(uri)
        url = make_url(self.uri)
        self.is_sqlite = url.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {
            "json_serializer": _json_serializer,
            "json_deserializer": _json_deserializer,
            "pool_timeout": connection_timeout,
        }
        if self.is_sqlite:
            if url.database in (None, "", ":memory:"):
                raise ValueError("orchestrion needs a SQLite file, not an in-memory database (workers share it)")
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            kwargs["pool_size"] = pool_size
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size)
            if "connect_timeout" not in url.query:  # libpq counts whole seconds, at least 2
                kwargs["connect_args"] = {"connect_timeout": max(2, math.ceil(connection_timeout))}
        self.engine: Engine = create_engine(self.uri, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine, sqlite_synchronous)
        else:
            _check_liveness_on_checkout(self.engine)
            if "jit" not in f"{url.query.get('options', '')} {os.environ.get('PGOPTIONS', '')}":  # else as chosen
                _without_jit(self.engine)
        self._write_engine = self.engine.execution_options(sqlite_immediate=True)
        self._write = sessionmaker(self._write_engine, expire_on_commit=False, autoflush=False)
        self._read = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        # ``db.session`` outside a step: one session per scope (see orchestrion.db.sessions)
        self.scoped = scoped_session(sessionmaker(self.engine, expire_on_commit=False), scopefunc=scope_key)
        # Workers keep a connection between their steps (orchestrion.storage.checkpoints); at most half
        # the pool's, so steps that run long while holding theirs idle never starve the API of connections.
        self._keepable = threading.BoundedSemaphore(max(1, pool_size // 2))

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on error; the step's session inside it."""
        with self._write() as session, session.begin(), bind_session(session):
            yield session

    def write_session(self) -> Session:
        """A bare write session for callers that manage commits themselves (the runner's journal)."""
        return self._write()

    @contextmanager
    def single_statements(self) -> Iterator[RawConnection]:
        """A connection outside any transaction, for ``FastStatement`` s: each statement commits on its own.

        A lone statement is atomic by itself, so reads and single-statement writes need no BEGIN
        and COMMIT round trips around them.
        """
        connection = self.autocommit_connection()
        try:
            yield connection
        finally:
            self.release_autocommit(connection)

    def autocommit_connection(self) -> RawConnection:
        """``single_statements``' connection, for a caller that keeps it a while; hand it back with
        ``release_autocommit`` (SQLite's driver runs in autocommit mode anyway; transactions are begun explicitly)."""
        connection = RawConnection(self)
        if not self.is_sqlite:
            try:
                connection.dbapi_connection.autocommit = True
            except BaseException:
                connection.close()
                raise
        return connection

    def release_autocommit(self, connection: RawConnection) -> None:
        try:
            if not self.is_sqlite:
                try:
                    connection.dbapi_connection.autocommit = False
                except Exception:
                    connection._pooled.invalidate()
        finally:
            connection.close()

    def may_keep(self) -> bool:
        """Take a place for a connection kept between steps; False when all are taken (then hand it back)."""
        return self._keepable.acquire(blocking=False)

    def kept_released(self) -> None:
        """Give back the place ``may_keep`` gave."""
        self._keepable.release()

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    def dispose(self) -> None:
        self.scoped.remove()
        self.engine.dispose()


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below, not by the driver
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# A pooled connection idle for longer than this is pinged (a round trip) before it is handed out.
PING_AFTER_IDLE_SECONDS = 1.0


def _new_uuid_hex() -> str:
    return uuid.uuid4().hex  # the text SQLAlchemy's Uuid type stores on SQLite


@event.listens_for(Engine, "connect")
def _sqlite_uuid_functions(dbapi_connection: Any, _record: Any) -> None:
    """PostgreSQL's UUID functions on every SQLite connection, for SQL that applications' migrations write.

    On every engine, not only orchestrion's: an application's ``env.py`` runs its migrations on an
    engine of its own (``uuid_generate_v4()`` as a column default, say).
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        for name in ("uuid_generate_v4", "gen_random_uuid"):
            dbapi_connection.create_function(name, 0, _new_uuid_hex)


def _without_jit(engine: Engine) -> None:
    """Turn PostgreSQL's JIT compiler off for every connection: orchestrion's statements are short, and
    compiling one costs more than it saves. The planner's guesses inflate a list page's cost past
    the JIT threshold: compiling took 20-25 ms of a 35 ms search page at a million processes.

    A ``SET`` when the connection is made, not libpq's ``options``, which PgBouncer refuses (behind
    PgBouncer's transaction pooling it holds only for the server connection it was made on). Where
    those options (in the URI or ``PGOPTIONS``) set ``jit``, they decide; it overrides a ``jit`` set
    with ``ALTER ROLE`` or ``ALTER DATABASE``.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET jit = off")
        dbapi_connection.commit()


def _check_liveness_on_checkout(engine: Engine) -> None:
    """Pre-ping without a round trip per checkout: hand out only connections that are still alive.

    A connection the server closed (restart, ``pg_terminate_backend``, idle timeout) has a readable
    socket (the server's farewell or EOF); one that sat idle for a while may have died silently.
    Either is pinged, and a failed ping makes the pool replace it, as ``pool_pre_ping`` would. A
    connection that was in use moments ago, with nothing waiting on its socket, is handed out as it
    is: that is the common case in a running process (a step's session, the connection a run checkpoints on).
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["orchestrion_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("orchestrion_idle_since", None)
        if idle_since is None:
            return  # just connected
        if getattr(dbapi_connection, "closed", False) or getattr(dbapi_connection, "broken", False):
            raise exc.DisconnectionError("connection closed")
        if time.monotonic() - idle_since <= PING_AFTER_IDLE_SECONDS and not _socket_readable(dbapi_connection):
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as e:
            if dialect.is_disconnect(e, dbapi_connection, None):  # type: ignore[arg-type]
                raise exc.DisconnectionError(str(e)) from e
            raise


def still_fresh(connection: RawConnection, idle_since: float) -> bool:
    """Whether a connection kept out of the pool may be used again as it is: what the pool's checkout
    would hand out without a ping (see ``_check_liveness_on_checkout``)."""
    dbapi_connection = connection.dbapi_connection
    if getattr(dbapi_connection, "closed", False) or getattr(dbapi_connection, "broken", False):
        return False
    return time.monotonic() - idle_since <= PING_AFTER_IDLE_SECONDS and not _socket_readable(dbapi_connection)


def _socket_readable(dbapi_connection: Any) -> bool:
    """An idle connection has nothing to read; data (or EOF) means the server spoke: check it."""
    try:
        fileno = dbapi_connection.fileno()
        return bool(select.select([fileno], [], [], 0)[0])
    except Exception:
        return True
