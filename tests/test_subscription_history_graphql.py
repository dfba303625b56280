"""A subscription's history through GraphQL over real HTTP on both databases: the versions, one version by number
or by time, and diffs answer what the REST routes answer, and a page of subscriptions asking for their versions
costs the same queries however many subscriptions it holds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.domain_support import counting_statements, data_statements
from tests.example_support import create, modify_port

import examples
from examples.products.port import PortMode
from orchestrion.app import OrchestratorCore
from orchestrion.catalogue import ensure_catalogue, load_file
from orchestrion.db import Database
from orchestrion.db.domain_models import ProductTable
from orchestrion.settings import AppSettings

SUMMARY = "version createdAt processId stepName summary changes"
PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor totalItems }"


@pytest.fixture
def products(database: Database) -> dict[str, str]:
    ensure_catalogue(load_file(examples.CATALOGUE))
    with database.read() as session:
        return {p.name: str(p.product_id) for p in session.execute(select(ProductTable)).scalars()}


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    with TestClient(OrchestratorCore(AppSettings(SCHEDULER_ENABLED=False), database=database)) as c:
        yield c


def _node(products: dict[str, str], name: str) -> str:
    return create("create_node", [{"product": products["Node"]}, {"node_name": name, "location": "Amsterdam"}])[0]


def _port(products: dict[str, str], node: str) -> str:
    return create("create_port", [{"product": products["Port 10G"]}, {"node": node, "port_name": "xe-0/0/1"}])[0]


def gql(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    answer = client.post("/api/graphql", json={"query": query, "variables": variables})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "errors" not in body, body["errors"]
    return body["data"]["subscription"]  # type: ignore[no-any-return]


def rest(client: TestClient, path: str) -> Any:
    answer = client.get(f"/api/subscriptions/{path}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def _same_version(graphql: dict[str, Any], rest: dict[str, Any]) -> None:
    """GraphQL's camelCase version equals the REST answer's snake_case one (times compared as times)."""
    assert datetime.fromisoformat(graphql.pop("createdAt")) == datetime.fromisoformat(rest.pop("created_at"))
    assert graphql.pop("processId") == rest.pop("process_id") and graphql.pop("stepName") == rest.pop("step_name")
    assert graphql == rest


def test_the_versions_page_by_page_as_the_rest_api_lists_them(products: dict[str, str], client: TestClient) -> None:
    port = _port(products, _node(products, "rt1"))
    modify_port(port, PortMode.UNTAGGED)
    everything = rest(client, f"{port}/versions")
    query = f"""query($id: UUID!, $first: Int!, $after: Int!) {{ subscription(id: $id) {{
                  versions(first: $first, after: $after) {{ page {{ {SUMMARY} }} {PAGE_INFO} }} }} }}"""

    newest = gql(client, query, id=port, first=3, after=0)["versions"]
    assert newest["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": 0,
        "endCursor": 2,
        "totalItems": len(everything),
    }
    older = gql(client, query, id=port, first=100, after=3)["versions"]
    assert older["pageInfo"]["hasNextPage"] is False and older["pageInfo"]["hasPreviousPage"] is True
    listed = newest["page"] + older["page"]
    assert [v["version"] for v in listed] == list(range(len(everything), 0, -1))
    for graphql, answered in zip(listed, everything, strict=True):
        _same_version(graphql, answered)
    assert listed[-1]["summary"].startswith("created")


def test_one_version_by_number_or_time_and_a_diff(products: dict[str, str], client: TestClient) -> None:
    port = _port(products, _node(products, "rt1"))
    modify_port(port, PortMode.UNTAGGED)
    newest = rest(client, f"{port}/versions?range=0,1")[0]
    query = """query($id: UUID!, $n: Int!, $at: DateTime!, $from: Int!, $to: Int!) { subscription(id: $id) {
                 atVersion(version: $n) { version createdAt processId stepName subscription }
                 atTime(at: $at) { version subscription }
                 versionsDiff(fromVersion: $from, toVersion: $to) } }"""
    found = gql(client, query, id=port, n=2, at=newest["created_at"], **{"from": 1, "to": newest["version"]})
    _same_version(found["atVersion"], rest(client, f"{port}/versions/2"))
    assert found["atTime"]["version"] == newest["version"]
    assert found["atTime"]["subscription"] == rest(client, f"{port}/versions/{newest['version']}")["subscription"]
    assert found["versionsDiff"] == rest(client, f"{port}/diff?from=1&to={newest['version']}")
    mode = next(b for b in found["versionsDiff"]["blocks"]["changed"] if b["name"] == "Port")["values"]["mode"]
    assert mode == {"old": ["tagged"], "new": ["untagged"]}

    none = gql(client, query, id=port, n=999, at="2000-01-01T00:00:00", **{"from": 0, "to": 1})
    assert none["atVersion"] is None and none["atTime"] is None  # no such version: null, as for an unknown id
    assert none["versionsDiff"]["blocks"]["removed"] == [] and none["versionsDiff"]["from"] == 0
    missing = client.post(
        "/api/graphql",
        json={"query": query, "variables": {"id": port, "n": 1, "at": "2000-01-01T00:00:00", "from": 1, "to": 999}},
    ).json()
    assert "no version 999" in missing["errors"][0]["message"]


def test_a_page_of_subscriptions_reads_their_versions_together(
    products: dict[str, str], client: TestClient, database: Database
) -> None:
    query = """{ subscriptions(first: 100, sortBy: {field: "description", order: ASC}) { page {
                  description versions(first: 2) { page { version stepName } pageInfo { totalItems } } } } }"""

    def page() -> tuple[list[dict[str, Any]], int]:
        with counting_statements(database) as statements:
            answer = client.post("/api/graphql", json={"query": query}).json()
        assert "errors" not in answer, answer["errors"]
        return answer["data"]["subscriptions"]["page"], len(data_statements(statements))

    _node(products, "rt1")
    one, cost = page()
    assert [len(s["versions"]["page"]) for s in one] == [2]
    for name in ("rt2", "rt3", "rt4"):
        _node(products, name)
    four, cost_of_four = page()
    assert cost_of_four == cost
    assert [s["description"] for s in four] == [f"Node rt{n} (Amsterdam)" for n in range(1, 5)]
    for listed in four:
        total = listed["versions"]["pageInfo"]["totalItems"]
        assert [v["version"] for v in listed["versions"]["page"]] == [total, total - 1]
        assert listed["versions"]["page"][0]["stepName"] == "Unlock subscription"
