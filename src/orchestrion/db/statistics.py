"""SQLite's planner statistics (``ANALYZE``), kept current as PostgreSQL's autovacuum keeps its own.

SQLite gathers none by itself, and without them its planner takes every equality for a handful of
rows. At 100,000 processes that had orchestrator-ui's completed tab take 75 ms instead of 30, its
100th page 123 instead of 32, and its subscriptions' search 162 instead of 83: an index on whether a
process is a task looked as selective as one on its creator. ``ANALYZE`` reads every index under
the write lock (155 ms at 100,000 processes), so it runs only when a table has grown or shrunk to
more than twice or less than half of what it last measured (``stale``), checked when the server
starts and every ``INTERVAL``. A connection reads the statistics when it opens, so the pool's
connections are replaced after each run. PostgreSQL: nothing to do.
"""

from __future__ import annotations

import threading

import structlog
from sqlalchemy import Connection, text

from orchestrion.db.database import Database

logger = structlog.get_logger(__name__)

INTERVAL = 3600.0  # seconds between checks
MIN_ROWS = 1_000  # a smaller table is read whole whatever its plan
CHANGE = 2.0  # a table measured at n rows is measured again beyond n * CHANGE or below n / CHANGE


def _tables(connection: Connection) -> list[str]:
    found = connection.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).scalars()
    return list(found)


def _measured(connection: Connection) -> dict[str, int]:
    """The rows of each table when ``ANALYZE`` last ran (the first number of its ``sqlite_stat1`` rows)."""
    if not connection.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first():
        return {}
    rows = connection.exec_driver_sql("SELECT tbl, max(CAST(stat AS INTEGER)) FROM sqlite_stat1 GROUP BY tbl")
    return {table: int(n) for table, n in rows}


def stale(connection: Connection) -> list[str]:
    """The tables of at least ``MIN_ROWS`` rows whose size changed past ``CHANGE`` since they were measured."""
    measured = _measured(connection)
    changed = []
    for table in _tables(connection):
        rows = int(connection.exec_driver_sql(f'SELECT count(*) FROM "{table}"').scalar_one())
        before = measured.get(table, 0)
        if rows >= MIN_ROWS and not before / CHANGE <= rows <= before * CHANGE:
            changed.append(table)
    return changed


def refresh(database: Database) -> bool:
    """``ANALYZE`` when a table is ``stale`` (SQLite only), then new connections; True when it ran.

    The check reads; ``ANALYZE`` runs in a write transaction of its own (``BEGIN IMMEDIATE``), which
    waits for the write lock as a step does: in the check's read transaction it would fail at once
    whenever a step had committed meanwhile.
    """
    if not database.is_sqlite:
        return False
    with database.engine.connect() as connection:
        changed = stale(connection)
    if not changed:
        return False
    with database.write() as session:
        session.execute(text("ANALYZE"))
    database.engine.dispose()  # connections in use are closed when they come back
    logger.info("Refreshed SQLite's planner statistics", tables=changed)
    return True


class StatisticsKeeper:
    """A thread that runs ``refresh`` now and every ``interval`` seconds until stopped."""

    def __init__(self, database: Database, interval: float = INTERVAL) -> None:
        self.database = database
        self.interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="orchestrion-sqlite-statistics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """No new check; one running may wait for the write lock, which it then finishes on its own."""
        self._stopped.set()
        self._thread.join(timeout=1.0)

    def _run(self) -> None:
        while True:
            try:
                refresh(self.database)
            except Exception:  # a locked or unreachable database: the next check tries again
                logger.exception("SQLite's planner statistics were not refreshed")
            if self._stopped.wait(self.interval):
                return
