"""Database access: one engine per configured database and the session of the running step.

SQLite (the embedded default) runs in WAL mode and takes its write lock when a write transaction
begins (``BEGIN IMMEDIATE``), so two writers never deadlock on a lock upgrade. PostgreSQL uses
psycopg 3. The same code and migrations serve both.
"""

from __future__ import annotations

import select
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple, TypeVar

import orjson
from sqlalchemy import Connection, Dialect, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Executable

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
            kwargs.update(pool_size=pool_size, max_overflow=pool_size)
        self.engine: Engine = create_engine(self.uri, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine, sqlite_synchronous)
        else:
            _check_liveness_on_checkout(self.engine)
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
    def single_statements(self) -> Iterator[RawConnection]:
        """A connection outside any transaction, for ``FastStatement`` s: each statement commits on its own.

        A lone statement is atomic by itself, so reads and single-statement writes need no BEGIN
        and COMMIT round trips around them.
        """
        connection = RawConnection(self)
        try:
            if self.is_sqlite:  # the driver runs in autocommit mode; transactions are begun explicitly
                yield connection
                return
            raw = connection.dbapi_connection
            raw.autocommit = True
            try:
                yield connection
            finally:
                try:
                    raw.autocommit = False
                except Exception:
                    connection._pooled.invalidate()
        finally:
            connection.close()

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


# A pooled connection idle for longer than this is pinged (a round trip) before it is handed out.
PING_AFTER_IDLE_SECONDS = 1.0


def _check_liveness_on_checkout(engine: Engine) -> None:
    """Pre-ping without a round trip per checkout: hand out only connections that are still alive.

    A connection the server closed (restart, ``pg_terminate_backend``, idle timeout) has a readable
    socket (the server's farewell or EOF); one that sat idle for a while may have died silently.
    Either is pinged, and a failed ping makes the pool replace it, as ``pool_pre_ping`` would. A
    connection that was in use moments ago, with nothing waiting on its socket, is handed out as it
    is: that is the common case in a running process, one checkout per step.
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


def _socket_readable(dbapi_connection: Any) -> bool:
    """An idle connection has nothing to read; data (or EOF) means the server spoke: check it."""
    try:
        fileno = dbapi_connection.fileno()
        return bool(select.select([fileno], [], [], 0)[0])
    except Exception:
        return True


class FastStatement:
    """A Core statement compiled once per dialect and run straight on the DBAPI cursor.

    For the per-step hot path: no ORM layer, no cache-key computation, no result objects. The bind
    values go through the very type processors SQLAlchemy applies (UUIDs, UTC timestamps, JSON), so
    what is stored is identical to executing the statement through a session. It runs in the
    transaction of the ``Connection`` it is given.
    """

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: weakref.WeakKeyDictionary[Dialect, _Compiled] = weakref.WeakKeyDictionary()

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        binds: dict[str, tuple[Callable[[Any], Any] | None, Any]] = {}
        for bind, name in compiled.bind_names.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required:
                binds[name] = (processor, _GIVEN)
            else:  # a literal of the statement (``id = 1``)
                binds[name] = (None, processor(bind.value) if processor is not None else bind.value)
        names = tuple(compiled.positiontup) if compiled.positional else tuple(binds)
        plan = tuple((name, *binds[name]) for name in names)
        entry = self._compiled[dialect] = _Compiled(compiled.string, bool(compiled.positional), plan)
        return entry

    def execute(self, connection: Connection | RawConnection, params: Mapping[str, Any]) -> Any:
        """Execute with ``params`` (by bind name; extra keys are ignored); returns the (shared) DBAPI cursor."""
        dialect = connection.dialect
        pooled = connection._pooled if isinstance(connection, RawConnection) else connection.connection
        entry = self._compiled.get(dialect) or self._compile(dialect)
        values = [
            (params[name] if processor is None else processor(params[name])) if fixed is _GIVEN else fixed
            for name, processor, fixed in entry.plan
        ]
        cursor = _cursor(pooled)
        if entry.positional:
            cursor.execute(entry.sql, values)
        else:
            cursor.execute(entry.sql, {name: value for (name, _, _), value in zip(entry.plan, values, strict=True)})
        return cursor

    def fetchone(self, connection: Connection | RawConnection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Execute and return the first row (for ``RETURNING`` and single-row queries)."""
        rows = self.execute(connection, params).fetchall()  # all: the statement is finished, not left open
        return tuple(rows[0]) if rows else None

    def run(self, connection: Connection | RawConnection, params: Mapping[str, Any]) -> int:
        """Execute; returns the number of rows it changed."""
        return int(self.execute(connection, params).rowcount)


def _cursor(pooled: Any) -> Any:
    """One cursor per DBAPI connection, reused: psycopg keeps its per-cursor adaptation caches warm.

    Kept in the pooled connection's ``info``, which lives exactly as long as the DBAPI connection.
    """
    info = pooled.info
    cached = info.get("orchestrion_cursor")
    if cached is None or cached[0] is not pooled.dbapi_connection:
        cached = info["orchestrion_cursor"] = (pooled.dbapi_connection, pooled.dbapi_connection.cursor())
    return cached[1]


class RawConnection:
    """A pooled DBAPI connection for ``FastStatement`` s, without SQLAlchemy's Session or Connection objects."""

    __slots__ = ("_pooled", "dbapi_connection", "dialect")

    def __init__(self, db: Database) -> None:
        self.dialect = db.engine.dialect
        self._pooled = db.engine.raw_connection()
        self.dbapi_connection: Any = self._pooled.dbapi_connection

    def close(self) -> None:
        """Hand the connection back to the pool (which rolls back whatever was not committed)."""
        self._pooled.close()


class RawTransaction(RawConnection):
    """A pooled DBAPI connection in a write transaction: the cheapest way to run a few statements atomically.

    SQLite takes its write lock at once (``BEGIN IMMEDIATE``, as ``Database.write`` does); psycopg
    begins the transaction with the first statement.
    """

    __slots__ = ()

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        if db.is_sqlite:
            try:
                self.dbapi_connection.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._pooled.close()
                raise

    def commit(self) -> None:
        self.dbapi_connection.commit()

    def rollback(self) -> None:
        self.dbapi_connection.rollback()


class StepSession:
    """The running step's session, opened only when the step (or a hook) first asks for it.

    Most steps never touch the database themselves; their checkpoint then needs no ORM session.
    """

    __slots__ = ("_db", "session")

    def __init__(self, db: Database) -> None:
        self._db = db
        self.session: Session | None = None

    def get(self) -> Session:
        if self.session is None:
            self.session = self._db.write_session()
        return self.session


_GIVEN: Any = object()  # marks a parameter the caller gives (the others are literals of the statement)


class _Compiled(NamedTuple):
    sql: str
    positional: bool  # the driver takes a sequence in plan order (SQLite), else a mapping by name
    plan: tuple[tuple[str, Callable[[Any], Any] | None, Any], ...]  # (name, bind processor, fixed value or _GIVEN)


_SessionT = TypeVar("_SessionT", Session, StepSession)
_current: ContextVar[Session | StepSession | None] = ContextVar("orchestrion_session", default=None)
_database: Database | None = None


def session() -> Session:
    """The session of the running step (or of ``Database.write``); steps use it for their own writes."""
    if (current := _current.get()) is None:
        raise RuntimeError("No database transaction is active; use it from a step or inside db.write()")
    if isinstance(current, StepSession):
        return current.get()
    return current


@contextmanager
def bind_session(current: _SessionT) -> Iterator[_SessionT]:
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


class _Db:
    """``from orchestrion.db import db; db.session.add(...)``: orchestrator-core's spelling of ``session()``."""

    @property
    def session(self) -> Session:
        return session()

    @property
    def database(self) -> Database:
        return get_database()


db = _Db()
