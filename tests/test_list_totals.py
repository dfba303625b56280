"""List totals through the REST API: counted, or PostgreSQL's estimate when it expects many rows (flagged)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

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
