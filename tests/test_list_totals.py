"""List totals through the REST API: counted, or PostgreSQL's estimate when it expects many rows (flagged)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database, listing
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import State
from orchestrion.workflow import StepList, done, init, step, workflow

STARTS = 12


@step("Note")
def note() -> State:
    return {"noted": True}


@workflow("List totals")
def list_totals() -> StepList:
    return init >> note >> done


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    with (
        WorkflowInstanceForTests(list_totals, "list_totals"),
        TestClient(OrchestratorCore(database=database)) as c,
    ):
        for _ in range(STARTS):
            assert c.post("/api/processes/list_totals", json=[{}]).status_code == 201
        yield c


def _total(response: object) -> tuple[int, str | None]:
    headers = response.headers  # type: ignore[attr-defined]
    found = re.fullmatch(r"processes \d+-\d+/(\d+)", headers["content-range"])
    assert found is not None, headers["content-range"]
    return int(found[1]), headers.get(listing.ESTIMATED_HEADER)


def test_totals_are_counted_below_the_estimate_threshold(client: TestClient) -> None:
    assert _total(client.get("/api/processes/", params={"range": "0,5"})) == (STARTS, None)
    assert _total(client.get("/api/processes/", params={"range": "10,20"})) == (STARTS, None)  # a short page
    assert _total(client.get("/api/processes/", params={"range": "20,30"})) == (STARTS, None)  # past the end


def test_many_rows_on_postgres_give_the_planners_estimate_flagged(
    client: TestClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "ESTIMATE_ABOVE", 3)
    total, estimated = _total(client.get("/api/processes/", params={"range": "0,5"}))
    if database.is_sqlite:
        assert (total, estimated) == (STARTS, None)  # SQLite always counts
        return
    assert estimated == "true"
    assert total >= 5  # never fewer than the rows already seen
    # a page that ends the list tells the exact total, whatever the planner thinks
    assert _total(client.get("/api/processes/", params={"range": "10,20"})) == (STARTS, None)
    page = client.post("/api/graphql", json={"query": "{ processes(first: 5) { pageInfo { totalItems } } }"})
    assert page.json()["data"]["processes"]["pageInfo"]["totalItems"] >= 5


def test_a_planners_guess_is_checked_by_counting_unless_it_is_far_above(
    client: TestClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up to ``ESTIMATE_ABOVE`` rows are counted whatever the planner guesses; a guess above ``TRUST_ABOVE``
    is the total without a count. The guesses are set here, so both databases run PostgreSQL's rules."""
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    def guess(rows: int) -> None:
        monkeypatch.setattr(listing, "planned_rows", lambda *_: rows)

    monkeypatch.setattr(listing, "ESTIMATE_ABOVE", STARTS)
    monkeypatch.setattr(listing, "TRUST_ABOVE", 1000)
    event.listen(database.engine, "before_cursor_execute", record)
    try:
        guess(999)  # far too many, but not enough to be trusted: counted
        assert _total(client.get("/api/processes/", params={"range": "0,5"})) == (STARTS, None)
        guess(1)  # too few, and more rows than are counted: the rows counted, flagged
        monkeypatch.setattr(listing, "ESTIMATE_ABOVE", STARTS - 2)
        assert _total(client.get("/api/processes/", params={"range": "0,5"})) == (STARTS - 1, "true")
        guess(5000)  # trusted: no count at all
        statements.clear()
        assert _total(client.get("/api/processes/", params={"range": "0,5"})) == (5000, "true")
        assert not any("count(" in statement.lower() for statement in statements)
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


@step("Break")
def break_() -> State:
    raise ValueError("broken on purpose")


@workflow("Fails")
def fails() -> StepList:
    return init >> break_ >> done


def test_status_counts_estimate_only_the_big_statuses_on_postgres(
    client: TestClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with WorkflowInstanceForTests(fails, "fails"):
        started = client.post("/api/processes/fails", json=[{}])
        assert started.status_code == 201
        deadline = time.monotonic() + 30
        while client.get(f"/api/processes/{started.json()['id']}").json()["last_status"] != "failed":
            assert time.monotonic() < deadline, "the process did not fail in time"
            time.sleep(0.02)
    with database.write() as s:
        s.execute(text("ANALYZE processes") if not database.is_sqlite else text("ANALYZE"))
    monkeypatch.setattr(listing, "ESTIMATE_ABOVE", 3)
    answer = client.get("/api/processes/status-counts")
    counts = answer.json()["task_counts"]  # ``@workflow``'s default target is SYSTEM: tasks
    assert counts["failed"] == 1  # few: counted
    if database.is_sqlite:
        assert (counts["completed"], answer.headers.get(listing.ESTIMATED_HEADER)) == (STARTS, None)
        return
    assert answer.headers.get(listing.ESTIMATED_HEADER) == "true"
    assert counts["completed"] > 3  # the planner's figure for the many


@pytest.mark.postgres
def test_frequent_values_name_the_values_that_may_need_an_estimate(postgres_db: Database) -> None:
    with postgres_db.write() as s:
        s.execute(text("DROP TABLE IF EXISTS frequent_values_probe"))
        s.execute(text("CREATE TABLE frequent_values_probe (kind TEXT, unique_kind TEXT)"))
        s.execute(
            text(
                "INSERT INTO frequent_values_probe SELECT CASE WHEN n <= 25000 THEN 'many' ELSE 'few' END, n::text "
                "FROM generate_series(1, 25010) AS n"
            )
        )
    try:
        with postgres_db.write() as s:
            assert listing.frequent_values(s, "frequent_values_probe", "kind", 25010) is None  # not analysed
            s.execute(text("ANALYZE frequent_values_probe"))
            assert listing.frequent_values(s, "frequent_values_probe", "kind", 25010) == {"many"}
            # every value differs: none is common, all together are many, any may be big
            assert listing.frequent_values(s, "frequent_values_probe", "unique_kind", 25010) is None
    finally:
        with postgres_db.write() as s:
            s.execute(text("DROP TABLE frequent_values_probe"))
