"""API list benchmark: paging, sorting, filtering, counts and a detail, up to a million processes.

Generates the data inside the database (``INSERT ... SELECT`` over ``generate_series`` on
PostgreSQL, a recursive CTE on SQLite, so a million processes need no Python loop): ``--processes``
processes with ``--steps-per-process`` history rows each, process i linked to subscription i mod
``--subscriptions`` (default: one each) on one of four products; 1 in 1,000 in flight. Then times
the list endpoints, the dashboard counts and a process detail through the ASGI app (in-process, so
the figure is the server's time: routing, the queries and JSON), ``--repeat`` rounds of one call
each, and prints median and 95th percentile, the p95 also as a multiple of ``/api/version``'s in
the same rounds (the machine's noise), and whether the total was an estimate.

The GraphQL part asks pages of 10 and of 100 processes and subscriptions with the nested fields
orchestrator-ui's lists ask (product, customer, subscriptions of a process, processes of a
subscription) and prints the SQL statements each page costs (the same for 10 and 100: no N+1), and
its time as a ratio to the REST page of the same size measured in the same run. Last, the pages
orchestrator-ui 7.5.0 itself asks for (its start page's cards, its workflow, task and subscription
tabs, with and without a search), as it asks them.

    .venv/bin/python bench/api.py --processes 10000 --subscriptions 2000 --backend postgres
    .venv/bin/python bench/api.py --processes 1000000 --steps-per-process 20 --subscriptions 100000
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import event, insert
from sqlalchemy.engine import make_url

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database, init_database
from orchestrion.db.domain_models import ProductTable
from orchestrion.db.models import WorkflowTable
from orchestrion.db.statistics import refresh as refresh_statistics
from orchestrion.logs import configure_logging
from orchestrion.settings import AppSettings

# by i % 1000: a few in flight (running: some worker's, so the app does not recover them), most ended
STATUS_OF = "CASE WHEN {i} % 1000 = 999 THEN 'running' WHEN {i} % 100 = 98 THEN 'suspended' " + (
    "WHEN {i} % 100 = 97 THEN 'waiting' WHEN {i} % 100 >= 90 THEN 'failed' "
    "WHEN {i} % 100 >= 85 THEN 'aborted' ELSE 'completed' END"
)
QUERIES = {
    "first page, newest first": {"range": "0,20"},
    "page 250 (offset 4980)": {"range": "4980,5000"},
    "page 5000 (offset 99980)": {"range": "99980,100000"},
    "status filter": {"range": "0,20", "filter": "last_status,failed-waiting"},
    "sort by workflow name": {"range": "0,20", "sort": "workflow_name,ASC"},
    "filter by workflow and sort by status": {
        "range": "0,20",
        "filter": "workflow_name,modify_2",
        "sort": "last_status,DESC",
    },
    "filter by customer": {"range": "0,20", "filter": "customer,customer-42"},
    "filter by product tag": {"range": "0,20", "filter": "tag,TAG1"},
    "free text": {"range": "0,20", "filter": "q,modify"},
}
SUBSCRIPTION_QUERIES = {
    "subscriptions, first page": {"range": "0,20"},
    "subscriptions by customer": {"range": "0,20", "filter": "customer,customer-42"},
    "subscriptions by status and tag": {"range": "0,20", "filter": "status,active,tag,TAG2"},
    "subscriptions, description text": {"range": "0,20", "filter": "description,number 77"},
    "subscriptions, sort by description": {"range": "0,20", "sort": "description,ASC"},
    "subscriptions, page 2500 (offset 49980)": {"range": "49980,50000"},
    "subscriptions, free text": {"range": "0,20", "query": "number 4242"},
}
PROCESS_42 = "10000000-0000-0000-0000-00000000002a"  # the generator's ids: kind 1, number 42
OTHER = {
    "dashboard counts": "/api/processes/status-counts",
    "process detail": f"/api/processes/{PROCESS_42}",
    "baseline: /api/version": "/api/version",
}


def _postgres(uri: str, name: str, fresh: bool) -> str:
    url = make_url(uri)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


class Sql:
    """The few expressions the generator needs, per dialect: numbers, deterministic ids, times, JSON."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def numbers(self, n: int, name: str = "g") -> str:
        """A FROM item: rows ``name.i`` = 0 .. n - 1."""
        if self.postgres:
            return f"generate_series(0, {n - 1}) AS {name}(i)"
        recursive = f"WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r WHERE i < {n - 1})"
        return f"({recursive} SELECT i FROM r) {name}"

    def uuid(self, kind: int, expr: str) -> str:
        """The id of row ``expr`` of a kind (one hex digit), e.g. ``10000000-...-0000002a`` for process 42."""
        if self.postgres:
            return f"('{kind:x}' || lpad(to_hex({expr}::bigint), 31, '0'))::uuid"
        return f"printf('{kind:x}%031x', {expr})"  # how SQLAlchemy's Uuid is stored there: 32 hex digits

    def ago(self, seconds: str) -> str:
        if self.postgres:
            return f"now() - ({seconds}) * interval '1 second'"
        return f"strftime('%Y-%m-%d %H:%M:%f000', 'now', '-' || ({seconds}) || ' seconds')"

    def json(self, key: str, expr: str) -> str:
        return f"jsonb_build_object('{key}', {expr})" if self.postgres else f"json_object('{key}', {expr})"

    def true(self) -> str:
        return "true" if self.postgres else "1"

    def false(self) -> str:
        return "false" if self.postgres else "0"


def seed(database: Database, n: int, steps: int, m: int) -> None:
    """``n`` processes of 10 workflows with ``steps`` history rows each, process i linked to subscription
    i mod ``m`` (on one of four products, of 100 customers); generated inside the database (INSERT ... SELECT)."""
    now = datetime.now(UTC)
    workflows = [  # the tenth is a task, as orchestrator-ui's task lists need some
        {
            "workflow_id": uuid.uuid4(),
            "name": f"modify_{i}" if i < 9 else "task_9",
            "target": "MODIFY" if i < 9 else "SYSTEM",
            "description": f"Modify {i}",
            "is_task": i == 9,
            "created_at": now,
        }
        for i in range(10)
    ]
    products = [
        {
            "product_id": uuid.uuid4(),
            "name": f"Product {i}",
            "description": f"Product {i}",
            "product_type": "P",
            "tag": f"TAG{i}",
            "status": "active",
            "created_at": now,
        }
        for i in range(4)
    ]
    with database.write() as session:
        session.execute(insert(WorkflowTable), workflows)
        session.execute(insert(ProductTable), products)
    q = Sql(not database.is_sqlite)
    t, f = q.true(), q.false()
    statements = [
        f"""INSERT INTO subscriptions (subscription_id, customer_id, product_id, description, status, insync,
            version, start_date)
        SELECT {q.uuid(2, "g.i")}, 'customer-' || (g.i % 100), p.product_id, 'Subscription number ' || g.i,
            CASE WHEN g.i % 5 = 0 THEN 'terminated' ELSE 'active' END, {t}, 1, {q.ago(f"{m} - g.i")}
        FROM {q.numbers(m)} JOIN products p ON p.tag = 'TAG' || (g.i % 4)""",
        f"""INSERT INTO processes (process_id, workflow_id, workflow_fingerprint, assignee, last_status, last_step,
            started_at, last_modified_at, created_by, is_task, state, cursor, seq, abort_requested, retry_count,
            claimed_by, lease_until)
        SELECT {q.uuid(1, "g.i")}, w.workflow_id, 'x', 'SYSTEM', {STATUS_OF.format(i="g.i")}, 'Step ' || (g.i % 7),
            {q.ago(f"{n} - g.i")}, {q.ago(f"{n} - g.i")}, 'user' || (g.i % 13), g.i % 10 = 9, {q.json("i", "g.i")},
            NULL, {steps}, {f}, 0, CASE WHEN g.i % 1000 = 999 THEN 'bench' END,
            CASE WHEN g.i % 1000 = 999 THEN {q.ago("-86400")} END
        FROM {q.numbers(n)} JOIN workflows w
            ON w.name = CASE WHEN g.i % 10 = 9 THEN 'task_9' ELSE 'modify_' || (g.i % 10) END""",
        f"""INSERT INTO processes_subscriptions (id, process_id, subscription_id, created_at)
        SELECT {q.uuid(3, "g.i")}, {q.uuid(1, "g.i")}, {q.uuid(2, f"g.i % {m}")}, {q.ago(f"{n} - g.i")}
        FROM {q.numbers(n)}""",
        f"""INSERT INTO process_steps (step_id, process_id, seq, name, step_key, status, state, created_by, action,
            started_at, completed_at)
        SELECT {q.uuid(4, f"g.i * {steps} + s.i")}, {q.uuid(1, "g.i")}, s.i + 1, 'Step ' || s.i, 'Step ' || s.i,
            'success', {q.json("step", "s.i")}, 'user', 'start', {q.ago(f"{n} - g.i")}, {q.ago(f"{n} - g.i")}
        FROM {q.numbers(n)} CROSS JOIN {q.numbers(steps, "s")}""",
    ]
    raw = database.engine.raw_connection()  # the driver's own cursor: no parameters, so % is the operator
    try:
        for statement in [*statements, *(["VACUUM ANALYZE"] if q.postgres else [])]:
            began = time.perf_counter()
            if statement.startswith(
                "VACUUM"
            ):  # as autovacuum would (it may be off): index-only scans see all rows visible
                raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            raw.cursor().execute(statement)
            raw.commit()
            print(f"  {' '.join(statement.split()[:3])}: {time.perf_counter() - began:.1f} s", flush=True)
    finally:
        raw.close()


def measure(client: TestClient, path: str, params: dict[str, str], repeat: int) -> tuple[float, float, int]:
    """Median and 95th percentile ms of ``repeat`` calls, and the items of the last answer."""
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, params=params)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    timings.sort()
    body = response.json()
    return (
        statistics.median(timings),
        timings[math.ceil(len(timings) * 0.95) - 1],
        len(body) if isinstance(body, list) else 1,
    )


def bench_lists(client: TestClient, repeat: int) -> None:
    """Every request ``repeat`` times, in rounds of one call each (a noisy neighbour slows them alike);
    p95 also as a multiple of the baseline, the cheapest endpoint's p95 in the same rounds."""
    requests = [
        *((label, "/api/processes/", params) for label, params in QUERIES.items()),
        *((label, "/api/subscriptions/", params) for label, params in SUBSCRIPTION_QUERIES.items()),
        *((label, path, {}) for label, path in OTHER.items()),
    ]
    timings: dict[str, list[float]] = {label: [] for label, _, _ in requests}
    items: dict[str, int] = {}
    for _ in range(repeat):
        for label, path, params in requests:
            median, _, items[label] = measure(client, path, params, 1)
            timings[label].append(median)
    baseline = _p95(timings["baseline: /api/version"])
    print(f"{'request':45} {'median ms':>10} {'p95 ms':>8} {'x base':>7} {'items':>6} total")
    for label, path, params in requests:
        values = timings[label]
        estimated = client.get(path, params=params).headers.get("X-Total-Count-Estimated") == "true"
        total = "estimated" if estimated else ""
        print(
            f"{label:45} {statistics.median(values):10.1f} {_p95(values):8.1f} {_p95(values) / baseline:7.1f} "
            f"{items[label]:6} {total}"
        )


def _p95(values: list[float]) -> float:
    return sorted(values)[math.ceil(len(values) * 0.95) - 1]


GRAPHQL_PAGES = {
    "processes": (
        '{{ processes(first: {size}, sortBy: {{field: "startedAt", order: DESC}}) {{ page {{ processId '
        "workflowName lastStep lastStatus startedAt createdBy product {{ name tag }} customer {{ fullname }} "
        "subscriptions {{ page {{ subscriptionId description }} }} }} pageInfo {{ totalItems }} }} }}",
        "/api/processes/",
    ),
    "subscriptions": (
        '{{ subscriptions(first: {size}, sortBy: {{field: "startDate", order: DESC}}) {{ page {{ '
        "subscriptionId description status insync startDate product {{ name tag productType }} "
        "customer {{ fullname }} processes {{ page {{ processId workflowName lastStatus }} }} }} "
        "pageInfo {{ totalItems }} }} }}",
        "/api/subscriptions/",
    ),
}


# orchestrator-ui 7.5.0's lists as it asks them (its fields, page sizes, default sorts and the filters its
# tabs always add): the start page's five summary cards, then the workflow, task and subscription pages.
_UI_PROCESSES = (
    "query($first: Int!, $after: Int!, $sortBy: [GraphqlSort!], $filterBy: [GraphqlFilter!], $query: String) "
    "{ processes(first: $first, after: $after, sortBy: $sortBy, filterBy: $filterBy, query: $query) { page { "
    "workflowName lastStep lastStatus workflowTarget product { name tag } customer { fullname shortcode } "
    "createdBy assignee processId startedAt lastModifiedAt isTask subscriptions { page { subscriptionId "
    "description } } } pageInfo { hasNextPage totalItems sortFields filterFields } } }"
)
_UI_PROCESS_SUMMARY = (
    "query($first: Int!, $after: Int!, $sortBy: [GraphqlSort!], $filterBy: [GraphqlFilter!]) "
    "{ processes(first: $first, after: $after, sortBy: $sortBy, filterBy: $filterBy) { page { processId "
    "workflowName startedAt } pageInfo { totalItems } } }"
)
_UI_SUBSCRIPTIONS = (
    "query($first: Int!, $after: Int!, $sortBy: [GraphqlSort!], $filterBy: [GraphqlFilter!], $query: String) "
    "{ subscriptions(first: $first, after: $after, sortBy: $sortBy, filterBy: $filterBy, query: $query) { page { "
    "note startDate endDate description insync status subscriptionId product { name tag productType } "
    "customer { fullname shortcode } metadata } pageInfo { hasNextPage totalItems sortFields filterFields } } }"
)
_UI_SUBSCRIPTION_SUMMARY = (
    "query($first: Int!, $after: Int!, $sortBy: [GraphqlSort!], $filterBy: [GraphqlFilter!], $query: String) "
    "{ subscriptions(first: $first, after: $after, sortBy: $sortBy, filterBy: $filterBy, query: $query) { page { "
    "startDate description subscriptionId } pageInfo { totalItems } } }"
)
_IN_FLIGHT = "created-running-suspended-waiting-failed-resumed-inconsistent_data-api_unavailable-awaiting_callback"


def _ui(
    query: str, first: int, sort: str, *filters: tuple[str, str], after: int = 0, text: str | None = None
) -> tuple[str, dict[str, Any]]:
    variables = {
        "first": first,
        "after": after,
        "sortBy": {"field": sort, "order": "DESC"},
        "filterBy": [{"field": field, "value": value} for field, value in filters],
    }
    return query, variables | ({"query": text} if text else {})


def _workflows(tab: str, **page: Any) -> tuple[str, dict[str, Any]]:
    return _ui(_UI_PROCESSES, 15, "lastModifiedAt", ("isTask", "false"), ("lastStatus", tab), **page)


UI_PAGES = {
    "start: active workflows": _ui(
        _UI_PROCESS_SUMMARY, 5, "startedAt", ("isTask", "false"), ("lastStatus", _IN_FLIGHT)
    ),
    "start: failed tasks": _ui(
        _UI_PROCESS_SUMMARY,
        5,
        "startedAt",
        ("isTask", "true"),
        ("lastStatus", "failed-inconsistent_data-api_unavailable"),
    ),
    "start: my workflows": _ui(_UI_PROCESS_SUMMARY, 5, "startedAt", ("isTask", "false"), ("createdBy", "user7")),
    "start: active subscriptions": _ui(_UI_SUBSCRIPTION_SUMMARY, 5, "startDate", ("status", "Active")),
    "start: out-of-sync subscriptions": _ui(
        _UI_SUBSCRIPTION_SUMMARY, 5, "startDate", ("status", "Active-Provisioning"), text="insync:false"
    ),
    "workflows, active tab": _workflows(_IN_FLIGHT),
    "workflows, completed tab": _workflows("completed-aborted"),
    "workflows, completed tab, page 100": _workflows("completed-aborted", after=1485),
    "workflows, completed tab, search a workflow": _workflows("completed-aborted", text="modify_3"),
    "workflows, completed tab, search a subscription": _workflows("completed-aborted", text="4242"),
    "tasks, completed tab": _ui(
        _UI_PROCESSES, 15, "lastModifiedAt", ("isTask", "true"), ("lastStatus", "completed-aborted")
    ),
    "subscriptions, active tab": _ui(_UI_SUBSCRIPTIONS, 15, "startDate", ("status", "active")),
    "subscriptions, active tab, search": _ui(_UI_SUBSCRIPTIONS, 15, "startDate", ("status", "active"), text="4242"),
}


def bench_ui_pages(client: TestClient, repeat: int) -> None:
    """orchestrator-ui's lists, ``repeat`` rounds of one call each, as ``bench_lists`` times the REST ones."""
    timings: dict[str, list[float]] = {label: [] for label in UI_PAGES}
    for _ in range(repeat):
        for label, (query, variables) in UI_PAGES.items():
            started = time.perf_counter()
            response = client.post("/api/graphql", json={"query": query, "variables": variables})
            timings[label].append((time.perf_counter() - started) * 1000)
            body = response.json()
            assert response.status_code == 200 and "errors" not in body, body
    print(f"\n{'orchestrator-ui page (GraphQL)':45} {'median ms':>10} {'p95 ms':>8} {'items':>6} {'total':>8}")
    for label, (query, variables) in UI_PAGES.items():
        found = next(
            iter(client.post("/api/graphql", json={"query": query, "variables": variables}).json()["data"].values())
        )
        values = timings[label]
        print(
            f"{label:45} {statistics.median(values):10.1f} {_p95(values):8.1f} {len(found['page']):6} "
            f"{found['pageInfo']['totalItems']:>8}"
        )


def graphql_page(client: TestClient, query: str, size: int, statements: list[str]) -> tuple[float, int, int]:
    """Median ms, SQL statements and items of one GraphQL page."""
    timings, counted = [], 0
    for _ in range(5):
        statements.clear()
        started = time.perf_counter()
        response = client.post("/api/graphql", json={"query": query.format(size=size)})
        timings.append((time.perf_counter() - started) * 1000)
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        counted = len(statements)
    items = len(next(iter(body["data"].values()))["page"])
    return statistics.median(timings), counted, items


def bench_graphql(client: TestClient, database: Database) -> None:
    statements: list[str] = []
    event.listen(database.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    print(f"\n{'GraphQL page':30} {'items':>6} {'SQL':>4} {'median ms':>10} {'REST ms':>8} {'ratio':>6}")
    for name, (query, rest_path) in GRAPHQL_PAGES.items():
        for size in (10, 100):
            median, counted, items = graphql_page(client, query, size, statements)
            rest, _, _ = measure(client, rest_path, {"range": f"0,{size}"}, 5)
            print(
                f"{name + f', first {size}':30} {items:6} {counted:4} {median:10.1f} {rest:8.1f} {median / rest:6.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=10_000)
    parser.add_argument("--steps-per-process", type=int, default=5)
    parser.add_argument("--subscriptions", type=int, default=None, help="how many subscriptions (default: --processes)")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--postgres-uri", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="measure the database of the previous run again")
    parser.add_argument(
        "--database",
        default="orchestrion_bench_api",
        help="the database to generate (dropped first; --postgres-uri's only connects), or the SQLite file's name",
    )
    args = parser.parse_args()
    configure_logging("WARNING")
    if args.backend == "postgres":
        uri = _postgres(args.postgres_uri, args.database, fresh=not args.keep)
    else:
        uri = f"sqlite:///{Path(tempfile.gettempdir()) / f'{args.database}.db'}"
        if not args.keep:
            Path(uri.removeprefix("sqlite:///")).unlink(missing_ok=True)
    database = init_database(uri)
    subscriptions = args.subscriptions or args.processes
    if not args.keep:
        began = time.perf_counter()
        seed(database, args.processes, args.steps_per_process, subscriptions)
        print(f"generated in {time.perf_counter() - began:.0f} s")
    refresh_statistics(database)  # SQLite's planner statistics, as a server measures them when it starts
    client = TestClient(OrchestratorCore(AppSettings(SCHEDULER_ENABLED=False), database=database))
    print(f"{args.backend}, {args.processes} processes x {args.steps_per_process} steps, {subscriptions} subscriptions")
    print(f"{os.cpu_count()} CPUs; {args.repeat} calls each")
    bench_lists(client, args.repeat)
    with client:
        bench_graphql(client, database)
        bench_ui_pages(client, args.repeat)


if __name__ == "__main__":
    main()
