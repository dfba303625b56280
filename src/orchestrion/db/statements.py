"""The per-step hot path: Core statements compiled once and run straight on a pooled DBAPI connection."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql import Executable

if TYPE_CHECKING:
    from orchestrion.db.database import Database


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
        columns = getattr(self.statement, "exported_columns", ())  # a SELECT's columns, or RETURNING's
        results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
        entry = self._compiled[dialect] = _Compiled(compiled.string, bool(compiled.positional), plan, results)
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

    def row(self, connection: Connection | RawConnection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """``fetchone`` with the values converted as the ORM would (JSON decoded, booleans on SQLite)."""
        if (row := self.fetchone(connection, params)) is None:
            return None
        results = self._compiled[connection.dialect].results
        return tuple(value if f is None else f(value) for f, value in zip(results, row, strict=True))

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


_GIVEN: Any = object()  # marks a parameter the caller gives (the others are literals of the statement)


class _Compiled(NamedTuple):
    sql: str
    positional: bool  # the driver takes a sequence in plan order (SQLite), else a mapping by name
    plan: tuple[tuple[str, Callable[[Any], Any] | None, Any], ...]  # (name, bind processor, fixed value or _GIVEN)
    results: tuple[Callable[[Any], Any] | None, ...]  # per result column, its result processor
