"""API list benchmark: paging, sorting and filtering with 10,000 processes and their subscriptions.

Seeds a PostgreSQL database (or SQLite) with ``--n`` processes, process i linked to subscription
i mod ``--subscriptions`` (default: one each) on one of four products, then times the list
endpoints through the ASGI app (in-process, so the figure is the server's time: routing, the
queries and JSON). Prints the median and 95th percentile per request over ``--repeat`` calls.

The GraphQL part asks pages of 10 and of 100 processes and subscriptions with the nested fields
orchestrator-ui's lists ask (product, customer, subscriptions of a process, processes of a
subscription) and prints the SQL statements each page costs (the same for 10 and 100: no N+1), and
its time as a ratio to the REST page of the same size measured in the same run.

    .venv/bin/python bench/api.py --n 10000 --subscriptions 2000 --backend postgres
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import event, insert
from sqlalchemy.engine import make_url

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database, init_database
from orchestrion.db.domain_models import ProcessSubscriptionTable, ProductTable, SubscriptionTable
from orchestrion.db.models import ProcessTable, WorkflowTable
from orchestrion.logs import configure_logging
from orchestrion.settings import AppSettings

STATUSES = ["completed", "completed", "completed", "failed", "suspended", "running", "aborted", "waiting"]
QUERIES = {
    "first page, newest first": {"range": "0,20"},
    "page 250 (offset 4980)": {"range": "4980,5000"},
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
    # the UI's search box: description, product, customer, resource values, the id's start
    "subscriptions, free text": {"range": "0,20", "query": "number 77"},
    "subscriptions, free text (an id's start)": {"range": "0,20", "query": "5e1e9a00"},
}


def _postgres(uri: str) -> str:
    url = make_url(uri)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS orchestrion_bench_api")
        conn.execute("CREATE DATABASE orchestrion_bench_api")
    return url.set(database="orchestrion_bench_api").render_as_string(hide_password=False)


def seed(database: Database, n: int, m: int) -> None:
    now = datetime.now(UTC)
    workflows = [
        {
            "workflow_id": uuid.uuid4(),
            "name": f"modify_{i}",
            "target": "MODIFY",
            "description": f"Modify {i}",
            "is_task": False,
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
    processes, subscriptions, links = [], [], []
    subscription_ids = [uuid.uuid4() for _ in range(m)]
    for i in range(n):
        pid, sid = uuid.uuid4(), subscription_ids[i % m]
        started = now - timedelta(seconds=n - i)
        processes.append(
            {
                "process_id": pid,
                "workflow_id": workflows[i % 10]["workflow_id"],
                "workflow_fingerprint": "x",
                "assignee": "SYSTEM",
                "last_status": STATUSES[i % len(STATUSES)],
                "last_step": f"Step {i % 7}",
                "started_at": started,
                "last_modified_at": started,
                "created_by": f"user{i % 13}",
                "is_task": False,
                "state": {"i": i},
                "seq": 3,
                "abort_requested": False,
                "retry_count": 0,
                # a running one is some worker's for the whole run, so the app does not recover it meanwhile
                **({"claimed_by": "bench", "lease_until": now + timedelta(days=1)} if i % len(STATUSES) == 5 else {}),
            }
        )
        if i >= m:
            links.append({"id": uuid.uuid4(), "process_id": pid, "subscription_id": sid, "created_at": started})
            continue
        subscriptions.append(
            {
                "subscription_id": sid,
                "customer_id": f"customer-{i % 100}",
                "product_id": products[i % 4]["product_id"],
                "description": f"Subscription number {i}",
                "status": "active" if i % 5 else "terminated",
                "insync": True,
                "version": 1,
            }
        )
        links.append({"id": uuid.uuid4(), "process_id": pid, "subscription_id": sid, "created_at": started})
    with database.write() as session:
        session.execute(insert(WorkflowTable), workflows)
        session.execute(insert(ProductTable), products)
        for rows, table in ((processes, ProcessTable), (subscriptions, SubscriptionTable)):
            for chunk in range(0, len(rows), 2000):
                session.execute(insert(table), rows[chunk : chunk + 2000])
        for chunk in range(0, n, 2000):
            session.execute(insert(ProcessSubscriptionTable), links[chunk : chunk + 2000])
    if not database.is_sqlite:
        with database.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")


def measure(client: TestClient, path: str, params: dict[str, str], repeat: int) -> tuple[float, float, int]:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, params=params)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1], len(response.json())


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
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--subscriptions", type=int, default=None, help="how many subscriptions (default: --n)")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--postgres-uri", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    configure_logging("WARNING")
    if args.backend == "postgres":
        uri = _postgres(args.postgres_uri)
    else:
        uri = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    database = init_database(uri)
    subscriptions = args.subscriptions or args.n
    seed(database, args.n, subscriptions)
    client = TestClient(OrchestratorCore(AppSettings(SCHEDULER_ENABLED=False), database=database))
    print(f"{args.backend}, {args.n} processes, {subscriptions} subscriptions, {args.repeat} calls each")
    print(f"{'request':45} {'median ms':>10} {'p95 ms':>8} {'items':>6}")
    for label, params in QUERIES.items():
        median, p95, items = measure(client, "/api/processes/", params, args.repeat)
        print(f"{label:45} {median:10.1f} {p95:8.1f} {items:6}")
    for label, params in SUBSCRIPTION_QUERIES.items():
        median, p95, items = measure(client, "/api/subscriptions/", params, args.repeat)
        print(f"{label:45} {median:10.1f} {p95:8.1f} {items:6}")
    with client:
        bench_graphql(client, database)


if __name__ == "__main__":
    main()
