"""Database access: one engine per configured database and the session of the running step.

SQLite (the embedded default) runs in WAL mode and takes its write lock when a write transaction
begins (``BEGIN IMMEDIATE``), so two writers never deadlock on a lock upgrade. PostgreSQL uses
psycopg 3. The same code and migrations serve both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from orchestrion.engine.serialization import dumps


class RawJSON(str):
    """JSON text that is already serialised; written to JSON columns as it is."""

    __slots__ = ()


def _json_serializer(value: Any) -> str:
    if isinstance(value, RawJSON):
        return value
    return dumps(value).decode()


def normalise_uri(uri: str) -> str:
    """Accept plain ``postgresql://`` URIs and use psycopg 3 for them."""
    url = make_url(uri)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


class Database:
    """An engine plus sessions: ``write()`` for work that changes data, ``read()`` for queries."""

    def __init__(self, uri: str, *, pool_size: int = 10, sqlite_synchronous: str = "NORMAL") -> None:
        self.uri = normalise_uri(uri)
        url = make_url(self.uri)
        self.is_sqlite = url.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"json_serializer": _json_serializer, "json_deserializer": orjson.loads}
        if self.is_sqlite:
            if url.database in (None, "", ":memory:"):
                raise ValueError("orchestrion needs a SQLite file, not an in-memory database (workers share it)")
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            kwargs["pool_size"] = pool_size
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine: Engine = create_engine(self.uri, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine, sqlite_synchronous)
        self._write_engine = self.engine.execution_options(sqlite_immediate=True)
        self._write = sessionmaker(self._write_engine, expire_on_commit=False, autoflush=False)
        self._read = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on error; the step's session inside it."""
        with self._write() as session, session.begin():
            token = _current.set(session)
            try:
                yield session
            finally:
                _current.reset(token)

    def write_session(self) -> Session:
        """A bare write session for callers that manage commits themselves (the runner's journal)."""
        return self._write()

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    def dispose(self) -> None:
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


_current: ContextVar[Session | None] = ContextVar("orchestrion_session", default=None)
_database: Database | None = None


def session() -> Session:
    """The session of the running step (or of ``Database.write``); steps use it for their own writes."""
    if (current := _current.get()) is None:
        raise RuntimeError("No database transaction is active; use it from a step or inside db.write()")
    return current


@contextmanager
def bind_session(current: Session) -> Iterator[Session]:
    token = _current.set(current)
    try:
        yield current
    finally:
        _current.reset(token)


def get_database() -> Database:
    if _database is None:
        raise RuntimeError("The database is not initialised; call orchestrion.db.init_database() first")
    return _database


def init_database(uri: str | None = None, *, migrate: bool = True) -> Database:
    """Configure the process-wide database (from ``DATABASE_URI`` by default) and apply migrations."""
    global _database
    from orchestrion.settings import app_settings

    if _database is not None:
        _database.dispose()
    _database = Database(
        uri or app_settings.DATABASE_URI,
        pool_size=app_settings.DATABASE_POOL_SIZE,
        sqlite_synchronous=app_settings.SQLITE_SYNCHRONOUS,
    )
    if migrate:
        from orchestrion.db.migrate import upgrade

        upgrade(_database)
    return _database


def is_initialised() -> bool:
    return _database is not None
