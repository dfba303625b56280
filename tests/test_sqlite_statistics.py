"""SQLite's planner statistics: measured when a table has grown past what they say, and used by every
connection after, so SQLite picks an index as it does once it knows the data; the server keeps them."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database, statistics
from orchestrion.db.statistics import MIN_ROWS, refresh, stale
from orchestrion.settings import AppSettings

# A creator's processes in miniature: two kinds, many creators. Without statistics SQLite takes the
# kind's equality for the narrower condition; it holds half the rows, the creator one.
QUERY = "SELECT count(*) FROM probe WHERE kind = 0 AND creator LIKE 'user7'"


def _probe(database: Database, rows: int, start: int = 0) -> None:
    with database.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS probe (kind INTEGER NOT NULL, creator TEXT NOT NULL)")
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_probe_kind ON probe (kind)")
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_probe_creator ON probe (creator COLLATE NOCASE, kind)")
        values = [{"kind": i % 2, "creator": f"user{i}"} for i in range(start, start + rows)]
        conn.exec_driver_sql("INSERT INTO probe (kind, creator) VALUES (:kind, :creator)", values)  # type: ignore[arg-type]


def _plan(conn: Connection) -> str:
    return " ".join(row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + QUERY))


def test_a_grown_table_is_measured_and_every_later_connection_plans_with_it(sqlite_db: Database) -> None:
    _probe(sqlite_db, MIN_ROWS // 2)
    with sqlite_db.engine.connect() as conn:
        assert stale(conn) == []  # too small to matter
    _probe(sqlite_db, MIN_ROWS, start=MIN_ROWS // 2)
    with sqlite_db.engine.connect() as conn:
        assert stale(conn) == ["probe"]
        assert "ix_probe_kind" in _plan(conn)
    assert refresh(sqlite_db)
    with sqlite_db.engine.connect() as conn:
        assert stale(conn) == []
        assert "ix_probe_creator" in _plan(conn)  # a new connection of the pool, with the statistics
    assert not refresh(sqlite_db)  # nothing changed enough
    _probe(sqlite_db, 2 * MIN_ROWS, start=3 * MIN_ROWS)  # 3,500 rows, measured at 1,500
    assert refresh(sqlite_db)


def test_a_step_committing_meanwhile_does_not_stop_the_measuring(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check reads while steps commit; ``ANALYZE`` then waits for the write lock like any writer."""
    _probe(sqlite_db, 2 * MIN_ROWS)
    checked = statistics.stale

    def stale_then_a_commit(connection: Connection) -> list[str]:
        found = checked(connection)
        with sqlite_db.write() as session:  # another connection writes after the check has read
            session.execute(text("INSERT INTO probe (kind, creator) VALUES (1, 'meanwhile')"))
        return found

    monkeypatch.setattr(statistics, "stale", stale_then_a_commit)
    assert statistics.refresh(sqlite_db)
    with sqlite_db.engine.connect() as conn:
        assert checked(conn) == []


@pytest.mark.postgres
def test_postgresql_keeps_its_own(postgres_db: Database) -> None:
    assert not refresh(postgres_db)


def test_the_server_measures_what_grew_while_it_was_stopped(sqlite_db: Database) -> None:
    _probe(sqlite_db, 2 * MIN_ROWS)
    with TestClient(OrchestratorCore(AppSettings(SCHEDULER_ENABLED=False), database=sqlite_db)):
        deadline = time.monotonic() + 30
        while True:
            with sqlite_db.engine.connect() as conn:
                if not stale(conn):
                    break
            assert time.monotonic() < deadline, "the server did not measure the grown table"
            time.sleep(0.05)
        with sqlite_db.engine.connect() as conn:
            assert "ix_probe_creator" in _plan(conn)
