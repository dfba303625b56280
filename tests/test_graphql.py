"""The GraphQL API over real HTTP on both databases: orchestrator-core's conventions, orchestrion's data.

The example network (a node, two ports, a circuit using both) is the data; the tests check what a
client of orchestrator-core relies on: pages and their ``pageInfo``, ``filterBy`` and ``sortBy``
with their mini-syntax, the ``query`` language, the types each product gets, and that a page costs
the same number of queries however many items it holds.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from graphql import FieldNode, GraphQLError, ValidationContext, ValidationRule
from nwastdlib.vlans import VlanRanges
from sqlalchemy import event, select
from strawberry.extensions import SchemaExtension
from tests import ui_operations

import examples
from examples import inventory
from orchestrion.app import OrchestratorCore
from orchestrion.catalogue import ensure_catalogue, load_file
from orchestrion.db import Database
from orchestrion.db.domain_models import ProductTable, SubscriptionTable
from orchestrion.domain import SUBSCRIPTION_MODEL_REGISTRY
from orchestrion.domain.base import ProductBlockModel, SubscriptionModel
from orchestrion.forms import SubmitFormPage
from orchestrion.graphql import create_graphql_router
from orchestrion.graphql.autoregistration import (
    create_subscription_strawberry_type,
    graphql_subscription_name,
    register_domain_models,
)
from orchestrion.graphql.conversion import from_model
from orchestrion.graphql.schemas.subscription import SubscriptionInterface
from orchestrion.runtime import current
from orchestrion.settings import AppSettings
from orchestrion.testing import WorkflowInstanceForTests, assert_complete, extract_state, run_workflow
from orchestrion.types import State
from orchestrion.workflow import StepList, done, init, inputstep, step, workflow

PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor totalItems sortFields filterFields }"


@pytest.fixture
def network(database: Database) -> dict[str, Any]:
    """The example network: product ids by name, subscription ids, and the circuit's process."""
    ensure_catalogue(load_file(examples.CATALOGUE))
    with database.read() as session:
        products = {p.name: str(p.product_id) for p in session.execute(select(ProductTable)).scalars()}

    def create(name: str, pages: list[dict[str, Any]]) -> tuple[str, str]:
        result, process, _ = run_workflow(name, pages)
        inventory.wait_for_answers()  # a circuit completes once the inventory has called it back
        assert current().store.last_status(process.process_id) == "completed", result
        return str(extract_state(result)["subscription_id"]), str(process.process_id)

    node, _ = create("create_node", [{"product": products["Node"]}, {"node_name": "rt1", "location": "Amsterdam"}])
    port_a, _ = create("create_port", [{"product": products["Port 10G"]}, {"node": node, "port_name": "xe-0/0/1"}])
    port_b, _ = create(
        "create_port", [{"product": products["Port 100G"]}, {"node": node, "port_name": "et-0/0/2", "mode": "untagged"}]
    )
    circuit, circuit_process = create(
        "create_circuit", [{"product": products["Circuit"]}, {"port_a": port_a, "port_b": port_b}, {"bandwidth": 10}]
    )
    return {
        "products": products,
        "node": node,
        "port_a": port_a,
        "port_b": port_b,
        "circuit": circuit,
        "circuit_process": circuit_process,
    }


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    with TestClient(OrchestratorCore(AppSettings(SCHEDULER_ENABLED=False), database=database)) as c:
        yield c


def gql(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    """The answer's data; fails on any error."""
    answer = client.post("/api/graphql", json={"query": query, "variables": variables})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "errors" not in body, body["errors"]
    return body["data"]  # type: ignore[no-any-return]


def gql_errors(client: TestClient, query: str, **variables: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    body = client.post("/api/graphql", json={"query": query, "variables": variables}).json()
    return body.get("data"), body.get("errors", [])


# --- pages ----------------------------------------------------------------------------------------


def test_pages_are_offsets_with_orchestrator_cores_page_info(client: TestClient, network: dict[str, Any]) -> None:
    query = (
        "query($first: Int!, $after: Int!) { subscriptions(first: $first, after: $after, "
        'sortBy: {field: "description", order: ASC}) { page { description } ' + PAGE_INFO + " } }"
    )
    first = gql(client, query, first=3, after=0)["subscriptions"]
    assert [s["description"] for s in first["page"]] == [
        "Circuit xe-0/0/1 <-> et-0/0/2 (10 Gbit/s)",
        "Node rt1 (Amsterdam)",
        "Port et-0/0/2 on rt1 (100 Gbit/s)",
    ]
    info = first["pageInfo"]
    assert (
        info["hasNextPage"],
        info["hasPreviousPage"],
        info["startCursor"],
        info["endCursor"],
        info["totalItems"],
    ) == (
        True,
        False,
        0,
        2,
        4,
    )
    assert {"description", "startDate", "status", "productName"} <= set(info["sortFields"])
    assert {"description", "status", "insync", "tag", "product", "subscriptionId"} <= set(info["filterFields"])

    last = gql(client, query, first=3, after=3)["subscriptions"]
    assert [s["description"] for s in last["page"]] == ["Port xe-0/0/1 on rt1 (10 Gbit/s)"]
    assert (last["pageInfo"]["hasNextPage"], last["pageInfo"]["hasPreviousPage"]) == (False, True)
    assert (last["pageInfo"]["startCursor"], last["pageInfo"]["endCursor"]) == (3, 3)

    beyond = gql(client, query, first=3, after=10)["subscriptions"]
    assert beyond["page"] == [] and beyond["pageInfo"]["startCursor"] is None
    assert beyond["pageInfo"]["totalItems"] == 4


def test_a_count_alone_reads_no_rows(client: TestClient, network: dict[str, Any]) -> None:
    found = gql(client, "{ processes(first: 100) { pageInfo { totalItems } } }")
    assert found["processes"]["pageInfo"]["totalItems"] == 4


# --- filters, sorts, search --------------------------------------------------------------------------


def _descriptions(client: TestClient, arguments: str) -> list[str]:
    page = gql(
        client,
        f'{{ subscriptions({arguments}, sortBy: {{field: "description", order: ASC}}) {{ page {{ description }} }} }}',
    )
    return [s["description"] for s in page["subscriptions"]["page"]]


def test_filters_take_alternatives_negation_and_any_case(client: TestClient, network: dict[str, Any]) -> None:
    assert _descriptions(client, 'filterBy: [{field: "tag", value: "NODE|CIRCUIT"}]') == [
        "Circuit xe-0/0/1 <-> et-0/0/2 (10 Gbit/s)",
        "Node rt1 (Amsterdam)",
    ]
    assert _descriptions(client, 'filterBy: [{field: "tag", value: "node-circuit"}]') == _descriptions(
        client, 'filterBy: [{field: "tag", value: "NODE|CIRCUIT"}]'
    )
    assert _descriptions(client, 'filterBy: [{field: "status", value: "Active-Provisioning"}]') != []
    assert _descriptions(client, 'filterBy: [{field: "tag", value: "!PORT"}]') == [
        "Circuit xe-0/0/1 <-> et-0/0/2 (10 Gbit/s)",
        "Node rt1 (Amsterdam)",
    ]
    # A UUID is one value, although it holds dashes; a single filter object counts as a list of one.
    port_a = network["port_a"]
    assert _descriptions(client, f'filterBy: {{field: "subscriptionId", value: "{port_a}"}}') == [
        "Port xe-0/0/1 on rt1 (10 Gbit/s)"
    ]
    # Filters are ANDed; outside dates and ids a dash separates alternatives, as in orchestrator-core.
    node = 'filterBy: [{field: "tag", value: "NODE"}, {field: "description", value: "Node rt1 (Amsterdam)"}]'
    assert _descriptions(client, node) == ["Node rt1 (Amsterdam)"]
    assert _descriptions(client, node.replace('"NODE"', '"PORT"')) == []
    assert _descriptions(client, 'filterBy: {field: "description", value: "Port xe-0/0/1 on rt1 (10 Gbit/s)"}') == []


def test_free_text_ignores_case(client: TestClient, network: dict[str, Any]) -> None:
    """On both databases (SQLite's ``LIKE`` folds the case itself, PostgreSQL's the ``lower`` of both sides)."""
    assert _descriptions(client, 'query: "AMSTERDAM"') == ["Node rt1 (Amsterdam)"]
    assert _descriptions(client, 'query: "XE-0/0/1 GBIT"') == [
        "Circuit xe-0/0/1 <-> et-0/0/2 (10 Gbit/s)",
        "Port xe-0/0/1 on rt1 (10 Gbit/s)",
    ]
    assert _descriptions(client, 'query: "-amsterdam tag:NODE"') == []  # a word left out
    everything = _descriptions(client, 'query: ""')
    assert len(everything) == 4
    # no subscription has a note (NULL): a negated note matches them all, in a search and in a filter
    assert _descriptions(client, 'query: "-note:planned"') == everything
    assert _descriptions(client, 'filterBy: {field: "note", value: "!planned"}') == everything
    found = gql(client, '{ processes(query: "CREATE_CIRCUIT") { page { workflowName } } }')["processes"]["page"]
    assert found == [{"workflowName": "create_circuit"}]
    found = gql(client, '{ processes(query: "AMSTERDAM") { page { workflowName } } }')["processes"]["page"]
    assert found == [{"workflowName": "create_node"}]  # a word in the description of its subscription


def test_free_text_finds_a_note_and_processes_by_what_their_subscriptions_hold(
    client: TestClient, network: dict[str, Any], database: Database
) -> None:
    with database.write() as session:
        port = session.get(SubscriptionTable, uuid.UUID(network["port_a"]))
        assert port is not None
        port.note = "Planned MAINTENANCE window"
    assert _descriptions(client, 'query: "maintenance"') == ["Port xe-0/0/1 on rt1 (10 Gbit/s)"]
    found = gql(client, '{ processes(query: "maintenance") { page { workflowName } } }')["processes"]["page"]
    assert found == [{"workflowName": "create_port"}]  # the process that worked on that port
    found = gql(client, '{ processes(query: "-maintenance") { page { workflowName } } }')["processes"]["page"]
    assert sorted(p["workflowName"] for p in found) == ["create_circuit", "create_node", "create_port"]


def test_status_filters_take_any_case_and_compare_the_column_itself(
    client: TestClient, network: dict[str, Any], database: Database
) -> None:
    """``lower(last_status)`` would serve no index and mislead the planner's estimates."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(database.engine, "before_cursor_execute", record)

    def total(filter_by: str, entity: str = "processes") -> int:
        found = gql(client, f"{{ {entity}(filterBy: [{filter_by}]) {{ pageInfo {{ totalItems }} }} }}")
        return int(found[entity]["pageInfo"]["totalItems"])

    try:
        assert total('{field: "lastStatus", value: "COMPLETED"}') == 4
        assert total('{field: "lastStatus", value: "Completed-failed"}') == total(
            '{field: "lastStatus", value: "completed|FAILED"}'
        )
        assert total('{field: "lastStatus", value: "completd"}') == 0  # no such status: nothing, no error
        assert total('{field: "status", value: "ACTIVE"}', "subscriptions") == 4
        assert total('{field: "status", value: "Terminated"}', "subscriptions") == 0
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    assert statements and not any(
        "lower(processes.last_status)" in s or "lower(subscriptions.status)" in s for s in statements
    )


def _counted_alone(
    client: TestClient, database: Database, entity: str, field: str, cases: dict[str, tuple[int, list[str]]]
) -> list[str]:
    """For each of ``cases`` (arguments: total, sorted ``field`` values): a page of one's total and the
    whole list; returns the counts' SQL."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        for arguments, expected in cases.items():
            one = gql(client, f"{{ {entity}(first: 1, {arguments}) {{ pageInfo {{ totalItems }} }} }}")[entity]
            every = gql(client, f"{{ {entity}(first: 100, {arguments}) {{ page {{ {field} }} }} }}")[entity]
            found = int(one["pageInfo"]["totalItems"]), sorted(str(item[field]) for item in every["page"])
            assert found == expected, arguments
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    return [s for s in statements if s.startswith("SELECT count(*) AS count_1")]


def test_a_page_of_one_counts_the_processes_the_whole_list_holds(
    client: TestClient, network: dict[str, Any], database: Database
) -> None:
    """A short page's total is counted apart from the page: by the processes table alone (a status
    tab off its index), also where a condition is on the workflow (its name, target, free text)."""
    ports, others = ["create_port", "create_port"], ["create_circuit", "create_node"]
    counts = _counted_alone(
        client,
        database,
        "processes",
        "workflowName",
        {
            'filterBy: [{field: "lastStatus", value: "completed"}]': (4, sorted(ports + others)),
            'filterBy: [{field: "workflowName", value: "create_port"}]': (2, ports),
            'filterBy: [{field: "workflowName", value: "!create_port"}]': (2, others),
            'filterBy: [{field: "target", value: "CREATE"}, {field: "isTask", value: "false"}]': (
                4,
                sorted(ports + others),
            ),
            'filterBy: [{field: "target", value: "TERMINATE"}]': (0, []),
            'query: "create_port"': (2, ports),
            'query: "-create_port"': (2, others),
            'query: "workflow_name:create_c*"': (1, ["create_circuit"]),
        },
    )
    assert counts and not any("JOIN workflows" in s for s in counts)


def test_a_page_of_one_counts_the_subscriptions_the_whole_list_holds(
    client: TestClient, network: dict[str, Any], database: Database
) -> None:
    every = sorted(_descriptions(client, "first: 100"))
    ports = [d for d in every if d.startswith("Port ")]
    counts = _counted_alone(
        client,
        database,
        "subscriptions",
        "description",
        {
            'filterBy: [{field: "status", value: "active"}]': (4, every),
            'filterBy: [{field: "tag", value: "PORT"}]': (2, ports),
            'filterBy: [{field: "tag", value: "!PORT"}]': (2, sorted(set(every) - set(ports))),
            'filterBy: [{field: "product", value: "Port 100G"}]': (1, [p for p in ports if "100 Gbit/s" in p]),
            'filterBy: [{field: "productType", value: "port"}, {field: "status", value: "active"}]': (2, ports),
            'query: "tag:PORT"': (2, ports),
        },
    )
    assert counts and not any("JOIN products" in s for s in counts)


def test_a_creators_processes_are_counted_off_their_index(
    client: TestClient, network: dict[str, Any], database: Database
) -> None:
    """orchestrator-ui's "my workflows": the filter compares the creator as migration 0019 indexes it."""
    counts: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.startswith("SELECT count(*) AS count_1"):  # the list's, not the statistics' (db.statistics)
            counts.append((statement, parameters))

    creator = gql(client, "{ processes(first: 1) { page { createdBy } } }")["processes"]["page"][0]["createdBy"]
    event.listen(database.engine, "before_cursor_execute", record)
    try:
        arguments = (
            f'filterBy: [{{field: "isTask", value: "false"}}, {{field: "createdBy", value: "{creator.upper()}"}}]'
        )
        found = gql(client, f"{{ processes(first: 1, {arguments}) {{ pageInfo {{ totalItems }} }} }}")
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    assert found["processes"]["pageInfo"]["totalItems"] == 4  # the creator in other letters: the same one
    ((statement, parameters),) = counts
    plan = _plan(database, statement, parameters, "processes", "ix_processes_creator_newest_first")
    # an index condition on the creator, not a scan of the index
    assert "(created_by>? AND created_by<?)" in plan or "Cond: ((lower((created_by)::text) = " in plan, plan


def _plan(database: Database, statement: str, parameters: Any, table: str, index: str) -> str:
    """How the database would run ``statement`` with ``index``: on SQLite forced to it (its choice depends
    on its statistics, ``db.statistics``; whether it can use it does not), on PostgreSQL with scans and
    sorts off (a test's few rows would be cheaper to scan and sort than to read in order)."""
    with database.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            for method in ("seqscan", "bitmapscan", "sort"):
                conn.exec_driver_sql(f"SET LOCAL enable_{method} = off")
            plan = "\n".join(conn.exec_driver_sql("EXPLAIN " + statement, parameters).scalars())
        else:
            forced = statement.replace(f"FROM {table}", f"FROM {table} INDEXED BY {index}", 1)
            plan = "\n".join(row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + forced, parameters))
    assert index in plan, plan
    return plan


def test_out_of_sync_subscriptions_are_listed_newest_first_off_sqlites_index(
    client: TestClient, network: dict[str, Any], database: Database
) -> None:
    """orchestrator-ui's start page card: active or provisioning subscriptions not in sync, newest first; on
    SQLite off migration 0020's index."""
    with database.write() as session:
        for key in ("port_a", "circuit"):
            found = session.get(SubscriptionTable, uuid.UUID(network[key]))
            assert found is not None
            found.insync = False
    pages: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.startswith("SELECT subscriptions.subscription_id") and "ORDER BY" in statement:
            pages.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        found = gql(
            client,
            '{ subscriptions(first: 5, sortBy: {field: "startDate", order: DESC}, query: "insync:false", '
            'filterBy: [{field: "status", value: "Active-Provisioning"}]) { page { subscriptionId startDate } } }',
        )["subscriptions"]["page"]
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    assert {s["subscriptionId"] for s in found} == {network["port_a"], network["circuit"]}
    assert [s["startDate"] for s in found] == sorted((s["startDate"] for s in found), reverse=True)
    ((statement, parameters),) = pages
    if database.is_sqlite:  # PostgreSQL has no such index: it would make the lock's updates not HOT
        plan = _plan(database, statement, parameters, "subscriptions", "ix_subscriptions_insync_newest_first")
        assert "(insync=?)" in plan, plan


class _NoTracebacks(ValidationRule):
    """An application's rule: no ``traceback`` field. Counts how often a document is validated."""

    validations = 0

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        type(self).validations += 1

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if node.name.value == "traceback":
            self.report_error(GraphQLError("no tracebacks here", node))


class _AddsItsRule(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        self.execution_context.validation_rules = (*self.execution_context.validation_rules, _NoTracebacks)
        yield


def test_a_document_is_validated_once_with_the_applications_rules(database: Database) -> None:
    """Parsed and validated once per query text, after the application's extensions added their rules."""
    app = OrchestratorCore(AppSettings(SCHEDULER_ENABLED=False), database=database)
    app.register_graphql(extensions=[_AddsItsRule])
    _NoTracebacks.validations = 0
    with TestClient(app) as c:
        for _ in range(3):
            data, errors = gql_errors(c, "{ processes { page { traceback } } }")
            assert data is None and [e["message"] for e in errors] == ["no tracebacks here"]
            assert gql(c, "query($first: Int!) { processes(first: $first) { page { lastStep } } }", first=1)
            data, errors = gql_errors(c, "query($first: Int!) { processes(first: $first) { page { lastStep } } }")
            assert data is None and "$first" in errors[0]["message"]  # variables are checked every time
    assert _NoTracebacks.validations == 2  # two documents, each validated once


def test_an_unknown_filter_is_an_error_next_to_the_data(client: TestClient, network: dict[str, Any]) -> None:
    data, errors = gql_errors(
        client, '{ subscriptions(filterBy: [{field: "colour", value: "red"}]) { page { description } } }'
    )
    assert data is not None and len(data["subscriptions"]["page"]) == 4  # the valid part still applies
    assert errors[0]["message"] == "Invalid filter arguments"
    assert errors[0]["extensions"]["invalid_filters"] == ["colour"]
    assert "description" in errors[0]["extensions"]["valid_filter_keys"]


def test_sorting_both_ways_and_unknown_fields_reported(client: TestClient, network: dict[str, Any]) -> None:
    down = gql(client, '{ subscriptions(sortBy: {field: "description", order: DESC}) { page { description } } }')
    descriptions = [s["description"] for s in down["subscriptions"]["page"]]
    assert descriptions == sorted(descriptions, key=str.lower, reverse=True)
    by_product = gql(
        client, '{ subscriptions(sortBy: [{field: "productName", order: ASC}]) { page { product { name } } } }'
    )
    names = [s["product"]["name"] for s in by_product["subscriptions"]["page"]]
    assert names == sorted(names)
    data, errors = gql_errors(
        client, '{ subscriptions(sortBy: {field: "colour", order: ASC}) { page { description } } }'
    )
    assert data is not None and errors[0]["extensions"]["invalid_sorting"] == ["colour"]


def test_the_search_language(client: TestClient, network: dict[str, Any]) -> None:
    def search(text: str) -> list[str]:
        return _descriptions(client, f"query: {text!r}".replace("'", '"'))

    assert search("port*") == ["Port et-0/0/2 on rt1 (100 Gbit/s)", "Port xe-0/0/1 on rt1 (10 Gbit/s)"]
    # Bare words and phrases are found anywhere in the text, as a search box is used; 50% finds no "50".
    ports = ["Port et-0/0/2 on rt1 (100 Gbit/s)", "Port xe-0/0/1 on rt1 (10 Gbit/s)"]
    assert search("rt1") == ["Node rt1 (Amsterdam)", *ports]
    assert search("AMSTERDAM") == ["Node rt1 (Amsterdam)"]
    phrase = gql(client, "query($q: String) { subscriptions(query: $q) { page { description } } }", q='"on rt1"')
    assert sorted(s["description"] for s in phrase["subscriptions"]["page"]) == ports
    assert search("rt1 -tag:PORT") == ["Node rt1 (Amsterdam)"]
    assert search("100%") == []
    assert search("tag:(NODE|CIRCUIT)") == ["Circuit xe-0/0/1 <-> et-0/0/2 (10 Gbit/s)", "Node rt1 (Amsterdam)"]
    assert search("-tag:PORT insync:true") == ["Circuit xe-0/0/1 <-> et-0/0/2 (10 Gbit/s)", "Node rt1 (Amsterdam)"]
    assert search("tag:NODE | tag:CIRCUIT") == search("tag:(NODE|CIRCUIT)")
    assert search("insync:false") == []
    data, errors = gql_errors(client, '{ subscriptions(query: "colour:red") { page { description } } }')
    assert data is not None and data["subscriptions"]["page"] == [] and "colour" in errors[0]["message"]


# --- processes -------------------------------------------------------------------------------------------


def test_processes_with_their_product_subscriptions_and_uppercase_enums(
    client: TestClient, network: dict[str, Any]
) -> None:
    found = gql(
        client,
        """{ processes(first: 10, sortBy: {field: "startedAt", order: DESC}, filterBy: [
                 {field: "isTask", value: "false"}, {field: "lastStatus", value: "created-running-completed"}]) {
               page { workflowName lastStatus workflowTarget isTask product { name tag } customer { fullname }
                      subscriptions { page { subscriptionId description } } }
               pageInfo { totalItems } } }""",
    )["processes"]
    assert found["pageInfo"]["totalItems"] == 4
    newest = found["page"][0]
    assert (newest["workflowName"], newest["lastStatus"], newest["workflowTarget"]) == (
        "create_circuit",
        "COMPLETED",
        "CREATE",
    )
    assert newest["product"] == {"name": "Circuit", "tag": "CIRCUIT"}
    assert newest["customer"]["fullname"] == "Default::Orchestrator-Core Customer"
    assert newest["subscriptions"]["page"] == [
        {"subscriptionId": network["circuit"], "description": "Circuit xe-0/0/1 <-> et-0/0/2 (10 Gbit/s)"}
    ]


def test_a_process_in_detail(client: TestClient, network: dict[str, Any]) -> None:
    found = gql(
        client,
        """query($id: String!) { processes(filterBy: {field: "processId", value: $id}) { page {
             processId lastStatus form traceback userPermissions { retryAllowed resumeAllowed }
             steps { name status stepId stateDelta started completed } } } }""",
        id=network["circuit_process"],
    )["processes"]["page"]
    [process] = found
    assert process["processId"] == network["circuit_process"]
    assert process["userPermissions"] == {"retryAllowed": False, "resumeAllowed": False}  # completed
    assert process["form"] is None and process["traceback"] is None
    steps = process["steps"]
    assert steps[0]["name"] == "Start" and steps[-1]["name"] == "Done"
    assert all(s["status"] in ("success", "complete", "skipped") and s["stepId"] for s in steps)
    assert [s["name"] for s in steps if s["status"] == "skipped"] == ["Approve circuit"]  # 10 Gbit/s: no approval
    assert steps[0]["stateDelta"]["bandwidth"] == 10


ASKED: list[str] = []


@inputstep("Ask for a colour", assignee="SYSTEM")
def ask_for_colour() -> Any:
    class Colour(SubmitFormPage):
        colour: str

    answer = yield Colour
    return answer.model_dump()


@step("Break")
def break_it() -> State:
    raise ValueError("it broke")


@workflow("GraphQL: waits for a colour")
def graphql_waits() -> StepList:
    return init >> ask_for_colour >> done


@workflow("GraphQL: breaks")
def graphql_breaks() -> StepList:
    return init >> break_it >> done


def test_a_suspended_process_has_its_form_and_a_failed_one_its_traceback(
    client: TestClient, database: Database
) -> None:
    with (
        WorkflowInstanceForTests(graphql_waits, "graphql_waits"),
        WorkflowInstanceForTests(graphql_breaks, "graphql_breaks"),
    ):
        waiting = client.post("/api/processes/graphql_waits", json=[{}]).json()["id"]
        broken = client.post("/api/processes/graphql_breaks", json=[{}]).json()["id"]
        query = """query($id: UUID!) { process(processId: $id) { lastStatus form traceback failedReason
                     userPermissions { retryAllowed resumeAllowed } steps { name status } } }"""
        suspended = gql(client, query, id=waiting)["process"]
        assert suspended["lastStatus"] == "SUSPENDED"
        assert "colour" in suspended["form"]["properties"]
        assert suspended["userPermissions"] == {"retryAllowed": False, "resumeAllowed": True}
        assert suspended["steps"][-1] == {"name": "Done", "status": "pending"}
        failed = gql(client, query, id=broken)["process"]
        assert failed["lastStatus"] == "FAILED" and failed["failedReason"] == "it broke"
        assert "ValueError: it broke" in failed["traceback"]
        assert failed["userPermissions"] == {"retryAllowed": True, "resumeAllowed": False}


# --- subscriptions ---------------------------------------------------------------------------------------------


def test_a_subscription_in_detail_with_its_blocks_as_the_ui_reads_them(
    client: TestClient, network: dict[str, Any]
) -> None:
    detail = gql(
        client,
        """query($id: String!) { subscriptions(filterBy: {field: "subscriptionId", value: $id}) { page {
             ... on SubscriptionInterface { subscriptionId status insync fixedInputs metadata customer { shortcode }
               product { name status productType }
               productBlockInstances { id parent subscriptionInstanceId productBlockInstanceValues inUseByRelations
                                       subscription { subscriptionId description } }
               processes(first: 1000000, after: 0, sortBy: {field: "startedAt", order: ASC}) {
                 page { workflowName lastStatus } } } } } }""",
        id=network["circuit"],
    )["subscriptions"]["page"][0]
    assert (detail["status"], detail["insync"], detail["metadata"]) == ("ACTIVE", True, {})
    assert detail["product"] == {"name": "Circuit", "status": "ACTIVE", "productType": "Circuit"}
    assert detail["processes"]["page"] == [{"workflowName": "create_circuit", "lastStatus": "COMPLETED"}]
    blocks = detail["productBlockInstances"]
    circuit, port, node = blocks[0], blocks[1], blocks[2]
    assert (circuit["id"], circuit["parent"], port["parent"], node["parent"]) == (0, None, 0, 1)
    assert {"field": "bandwidth", "value": 10} in circuit["productBlockInstanceValues"]
    assert {"field": "portName", "value": "xe-0/0/1"} in port["productBlockInstanceValues"]
    assert port["subscription"]["subscriptionId"] == network["port_a"]  # owned by the port, not the circuit
    assert {
        "subscription_instance_id": circuit["subscriptionInstanceId"],
        "subscription_id": network["circuit"],
    } in port["inUseByRelations"]


def test_each_product_has_a_type_with_its_own_fields(client: TestClient, network: dict[str, Any]) -> None:
    found = gql(
        client,
        """query($id: UUID!) { subscription(id: $id) { __typename
             ... on CircuitSubscription { circuit { bandwidth ports { portName mode node { nodeName } } } } } }""",
        id=network["circuit"],
    )["subscription"]
    assert found["__typename"] == "CircuitSubscription"
    assert found["circuit"]["bandwidth"] == 10
    assert [(p["portName"], p["mode"], p["node"]["nodeName"]) for p in found["circuit"]["ports"]] == [
        ("xe-0/0/1", "TAGGED", "rt1"),
        ("et-0/0/2", "UNTAGGED", "rt1"),
    ]
    listed = gql(client, "{ subscriptions(first: 10) { page { __typename } } }")["subscriptions"]["page"]
    assert {s["__typename"] for s in listed} == {"Subscription"}  # interface fields only: no models loaded


def test_who_uses_a_subscription(client: TestClient, network: dict[str, Any]) -> None:
    query = """query($id: String!, $filter: [GraphqlFilter!]) {
                 subscriptions(filterBy: {field: "subscriptionId", value: $id}) { page {
                   inUseBySubscriptions(first: 10, after: 0, filterBy: $filter) {
                     page { description } pageInfo { totalItems } }
                   dependsOnSubscriptions { page { description } } } } }"""
    port = gql(client, query, id=network["port_a"], filter=None)["subscriptions"]["page"][0]
    assert [s["description"] for s in port["inUseBySubscriptions"]["page"]] == [
        "Circuit xe-0/0/1 <-> et-0/0/2 (10 Gbit/s)"
    ]
    assert [s["description"] for s in port["dependsOnSubscriptions"]["page"]] == ["Node rt1 (Amsterdam)"]
    none_terminated = gql(client, query, id=network["port_a"], filter=[{"field": "status", "value": "terminated"}])
    assert none_terminated["subscriptions"]["page"][0]["inUseBySubscriptions"]["pageInfo"]["totalItems"] == 0


def test_products_count_their_subscriptions(client: TestClient, network: dict[str, Any]) -> None:
    found = gql(
        client,
        """query($filter: [GraphqlFilter!]) { products(first: 1000, after: 0, sortBy: {field: "name", order: ASC}) {
             page { name productBlocks { name } fixedInputs { name value } workflows { name }
                    subscriptions(filterBy: $filter) { pageInfo { totalItems } } } } }""",
        filter=[{"field": "status", "value": "!terminated"}],
    )["products"]["page"]
    by_name = {p["name"]: p for p in found}
    assert {name: p["subscriptions"]["pageInfo"]["totalItems"] for name, p in by_name.items()} == {
        "Circuit": 1,
        "Node": 1,
        "Port 100G": 1,
        "Port 10G": 1,
    }
    assert [b["name"] for b in by_name["Circuit"]["productBlocks"]] == ["Circuit"]
    assert {"name": "speed", "value": "10"} in by_name["Port 10G"]["fixedInputs"]
    assert "create_port" in [w["name"] for w in by_name["Port 10G"]["workflows"]]


def test_workflows_with_steps_products_and_whether_the_caller_may_start_them(
    client: TestClient, network: dict[str, Any]
) -> None:
    found = gql(
        client,
        """{ workflows(first: 1000000, after: 0, filterBy: [{field: "target", value: "create"}]) {
             page { name target isAllowed steps { name assignee } products { name } } } }""",
    )["workflows"]["page"]
    by_name = {w["name"]: w for w in found}
    assert {w["target"] for w in found} == {"CREATE"}
    assert by_name["create_circuit"]["isAllowed"] is True
    assert by_name["create_circuit"]["products"] == [{"name": "Circuit"}]
    assert by_name["create_circuit"]["steps"][0] == {"name": "Start", "assignee": "SYSTEM"}


def test_versions_name_the_orchestrator_core_release_served(client: TestClient) -> None:
    versions = gql(client, "{ version { applicationVersions } }")["version"]["applicationVersions"]
    major, minor, _ = (int(part) for part in versions[0].split(" ")[1].split("."))
    assert (major, minor) >= (4, 6)  # orchestrator-ui shows "incompatible" below 4.6.0
    assert any(v.startswith("orchestrion") for v in versions)


def test_a_subscriptions_processes_page_by_page_newest_first(client: TestClient, network: dict[str, Any]) -> None:
    """The batched default order (a page of subscriptions asks it once) agrees with an explicit sort."""
    for _ in range(2):
        assert_complete(run_workflow("validate_port", [{"subscription_id": network["port_a"]}])[0])
    nested = (
        'query($first: Int!, $after: Int!) { subscriptions(sortBy: {field: "description", order: ASC}) { page { '
        "description processes(first: $first, after: $after%s) { page { workflowName product { name } "
        "customer { customerId } } pageInfo { totalItems hasNextPage } } } } }"
    )
    batched = gql(client, nested % "", first=2, after=1)["subscriptions"]["page"]
    port_a = next(s for s in batched if s["description"].startswith("Port xe-0/0/1"))["processes"]
    assert [p["workflowName"] for p in port_a["page"]] == ["validate_port", "create_port"]
    assert {p["product"]["name"] for p in port_a["page"]} == {"Port 10G"}  # each process's own subscription's
    assert port_a["pageInfo"] == {"totalItems": 3, "hasNextPage": False}
    sorted_ = gql(client, nested % ', sortBy: {field: "startedAt", order: DESC}', first=2, after=1)
    assert sorted_["subscriptions"]["page"] == batched
    counted = gql(client, re.sub(r"page \{ workflowName.*?\} \} ", "", nested) % "", first=0, after=0)
    assert [s["processes"]["pageInfo"]["totalItems"] for s in counted["subscriptions"]["page"]] == [1, 1, 1, 3]


class TrunkBlock(ProductBlockModel, product_block_name="GraphQL Trunk"):
    vlans: VlanRanges | None = None


class TrunkInactive(SubscriptionModel, is_base=True):
    trunk: TrunkBlock


def test_vlan_ranges_in_a_block_are_a_scalar_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """orchestrator-core maps nwastdlib's VlanRanges to a scalar; a model using it gets its type."""
    monkeypatch.setitem(SUBSCRIPTION_MODEL_REGISTRY, "GraphQL Trunk", TrunkInactive)
    schema = create_graphql_router().schema._schema
    field = schema.type_map["TrunkBlock"].fields["vlans"]
    assert str(field.type) == "VlanRangesType"
    assert field.type.serialize(VlanRanges("10-12,20")) == [(10, 12), (20, 20)]


# --- what orchestrator-ui sends ------------------------------------------------------------------------

# Operations the bundle holds that no page sends, invalid on orchestrator-core too (customers have no
# subscriptions there): checked to be refused, so a UI release that starts using them is noticed.
INVALID_ON_ORCHESTRATOR_CORE = {"customersWithSubscriptionCountQuery"}


def _variables(document: str, network: dict[str, Any]) -> dict[str, Any]:
    """Values for an operation's required variables, from the example network."""
    by_name = {
        "first": 10,
        "after": 0,
        "processId": network["circuit_process"],
        "subscriptionId": network["circuit"],
        "subscriptionIds": f"{network['port_a']}|{network['port_b']}",
        "customerId": AppSettings().DEFAULT_CUSTOMER_IDENTIFIER,
        "workflowName": "create_circuit",
        "processName": "create_circuit",
    }
    declared = re.findall(r"\$(\w+)\s*:\s*(?:\[[^\]]*\]|\w+)(!?)", document.split("{", 1)[0])
    required = [name for name, bang in declared if bang]
    missing = [name for name in required if name not in by_name]
    assert not missing, f"no value for the required variables {missing}"
    return {name: by_name[name] for name in required}


def test_every_operation_orchestrator_ui_sends_answers_without_errors(
    client: TestClient, network: dict[str, Any]
) -> None:
    """Each query of the installed orchestrator-ui bundle, as it sends it, on the example network."""
    ui_operations.require_bundle()
    wrong = {}
    for operation in ui_operations.operations():
        variables = _variables(operation.document, network)
        body = client.post("/api/graphql", json={"query": operation.document, "variables": variables}).json()
        if operation.variable in INVALID_ON_ORCHESTRATOR_CORE:
            unexpected = not body.get("errors") or body.get("data") is not None
        else:
            unexpected = "errors" in body or not any(value for value in body["data"].values())
        if unexpected:
            wrong[operation.variable] = body
    assert wrong == {}


def test_the_ui_bundle_read_is_the_pinned_release() -> None:
    ui_operations.require_bundle()
    assert ui_operations.package_version() == "7.5.0"
    assert len(ui_operations.operations()) >= 20


# --- writes -----------------------------------------------------------------------------------------------


def test_the_start_process_mutation(client: TestClient, network: dict[str, Any]) -> None:
    mutation = """mutation($name: String!, $payload: Payload!) { startProcess(name: $name, payload: $payload) {
                    ... on ProcessCreated { id } ... on MutationError { message details } } }"""
    pages = [{"product": network["products"]["Node"]}, {"node_name": "rt2", "location": "Utrecht"}]
    started = gql(client, mutation, name="create_node", payload={"payload": pages})["startProcess"]
    status = gql(client, "query($id: UUID!) { process(processId: $id) { lastStatus } }", id=started["id"])
    assert status["process"]["lastStatus"] == "COMPLETED"
    refused = gql(client, mutation, name="create_node", payload={"payload": [{"product": "not a product"}]})[
        "startProcess"
    ]
    assert "id" not in refused and refused["message"]


def test_pause_and_continue_through_a_mutation(client: TestClient) -> None:
    mutation = (
        "mutation($lock: Boolean!) { updateStatus(globalLock: $lock) { "
        "... on EngineSettingsType { globalLock globalStatus } } }"
    )
    assert gql(client, mutation, lock=True)["updateStatus"] == {"globalLock": True, "globalStatus": "PAUSED"}
    assert gql(client, "{ settings { engineSettings { globalLock } workerStatus { executorType } } }")["settings"][
        "engineSettings"
    ] == {"globalLock": True}
    assert gql(client, mutation, lock=False)["updateStatus"] == {"globalLock": False, "globalStatus": "RUNNING"}


def test_the_settings_page_lists_the_cache_names_the_clear_mutation_takes(client: TestClient) -> None:
    names = gql(client, "{ settings { cacheNames } }")["settings"]["cacheNames"]
    clear = (
        "mutation($name: String!) { clearCache(name: $name) { "
        "... on CacheClearSuccess { deleted } ... on Error { message } } }"
    )
    for name in names:
        assert gql(client, clear, name=name)["clearCache"] == {"deleted": 0}
    assert "Invalid cache name" in gql(client, clear, name="nosuch")["clearCache"]["message"]


# --- cost -------------------------------------------------------------------------------------------------------


def _queries(database: Database, client: TestClient, query: str) -> int:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        gql(client, query)
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    return len(statements)


def test_a_page_costs_the_same_queries_however_many_items_it_holds(
    client: TestClient, database: Database, network: dict[str, Any]
) -> None:
    for n in range(6):
        run_workflow(
            "create_node", [{"product": network["products"]["Node"]}, {"node_name": f"n{n}", "location": "Delft"}]
        )
    processes = (
        "{{ processes(first: {n}) {{ page {{ workflowName product {{ name }} customer {{ fullname }} "
        "subscriptions {{ page {{ description }} }} }} pageInfo {{ totalItems }} }} }}"
    )
    subscriptions = (
        "{{ subscriptions(first: {n}) {{ page {{ description product {{ name }} customer {{ fullname }} "
        "fixedInputs metadata processes(first: 2) {{ page {{ workflowName }} pageInfo {{ totalItems }} }} }} "
        "pageInfo {{ totalItems }} }} }}"
    )
    for query in (processes, subscriptions):  # (both pages have more after them: neither tells the total unasked)
        assert _queries(database, client, query.format(n=2)) == _queries(database, client, query.format(n=5))


def test_models_become_the_objects_strawberrys_own_conversion_makes(
    client: TestClient, network: dict[str, Any]
) -> None:
    # from_model skips strawberry's per-object type resolution; the objects must be the same, nested blocks too
    models = {
        "subscription": create_subscription_strawberry_type("Subscription", SubscriptionModel, SubscriptionInterface)
    }
    models = register_domain_models(SubscriptionInterface, existing_models=models)
    for key in ("node", "port_a", "port_b", "circuit"):
        model = SubscriptionModel.from_subscription(network[key])
        own = models[graphql_subscription_name((type(model).__base_type__ or type(model)).__name__)]
        for typed in (own, models["subscription"]):
            converted = from_model(typed, model)
            assert converted == typed.from_pydantic(model)
            assert converted._original_model is model


def test_processes_filtered_on_the_subscriptions_they_worked_on(client: TestClient, network: dict[str, Any]) -> None:
    def workflows(filter_by: str) -> list[str]:
        page = "page { workflowName } pageInfo { totalItems }"
        found = gql(client, f"{{ processes(first: 100, filterBy: [{filter_by}]) {{ {page} }} }}")["processes"]
        assert found["pageInfo"]["totalItems"] == len(found["page"])
        return sorted(p["workflowName"] for p in found["page"])

    assert workflows('{field: "tag", value: "CIRCUIT"}') == ["create_circuit"]
    assert workflows('{field: "tag", value: "PORT"}') == ["create_port", "create_port"]
    assert workflows('{field: "tag", value: "NODE|CIRCUIT"}') == ["create_circuit", "create_node"]
    assert workflows('{field: "tag", value: "!PORT"}') == ["create_circuit", "create_node"]
    assert workflows('{field: "product", value: "Port 100G"}') == ["create_port"]
    assert workflows(f'{{field: "subscriptionId", value: "{network["node"]}"}}') == ["create_node"]
    assert workflows('{field: "customer", value: "no-such-customer"}') == []
    assert workflows('{field: "tag", value: "PORT"}, {field: "product", value: "Port 10G"}') == ["create_port"]
