"""API list benchmark: paging, sorting and filtering with 10,000 processes and 10,000 subscriptions.

Seeds a PostgreSQL database (or SQLite) with ``--n`` processes, each linked to its own
subscription on one of four products, then times the list endpoints through the ASGI app
(in-process, so the figure is the server's time: routing, the queries and JSON). Prints the median
and 95th percentile per request over ``--repeat`` calls.

    .venv/bin/python bench/api.py --n 10000 --backend postgres
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
from sqlalchemy import insert
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
}


def _postgres(uri: str) -> str:
    url = make_url(uri)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS orchestrion_bench_api")
        conn.execute("CREATE DATABASE orchestrion_bench_api")
    return url.set(database="orchestrion_bench_api").render_as_string(hide_password=False)


def seed(database: Database, n: int) -> None:
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
    for i in range(n):
        pid, sid = uuid.uuid4(), uuid.uuid4()
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
            }
        )
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
        for chunk in range(0, n, 2000):
            session.execute(insert(ProcessTable), processes[chunk : chunk + 2000])
            session.execute(insert(SubscriptionTable), subscriptions[chunk : chunk + 2000])
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
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
    seed(database, args.n)
    client = TestClient(OrchestratorCore(AppSettings(SCHEDULER_ENABLED=False), database=database))
    print(f"{args.backend}, {args.n} processes and subscriptions, {args.repeat} calls each")
    print(f"{'request':45} {'median ms':>10} {'p95 ms':>8} {'items':>6}")
    for label, params in QUERIES.items():
        median, p95, items = measure(client, "/api/processes/", params, args.repeat)
        print(f"{label:45} {median:10.1f} {p95:8.1f} {items:6}")
    for label, params in SUBSCRIPTION_QUERIES.items():
        median, p95, items = measure(client, "/api/subscriptions/", params, args.repeat)
        print(f"{label:45} {median:10.1f} {p95:8.1f} {items:6}")


if __name__ == "__main__":
    main()
