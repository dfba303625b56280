"""Domain layer benchmark: load and save subscriptions with 1, 10 and 100 blocks, on SQLite and PostgreSQL.

The product: a root block holding a list of item blocks, each with three resource values (an
int, a str and a two-element list), so a subscription with N item blocks has N + 1 instances and
4N value rows. Per size it measures, as the median of ``--repeat`` runs:

* ``save new``: ``save()`` of a subscription made with ``from_product_id`` (everything inserted);
* ``load``: ``from_subscription`` in a read session, and the number of SQL statements it runs;
* ``save 1 change``: ``save()`` after changing one value of a loaded subscription, and its statements;
* ``save no change``: ``save()`` of a loaded, unchanged subscription (no statement at all);
* ``version``: what the history adds to a save that changed something (``docs/history.md``):
  building the snapshot of the subscription and its one INSERT, and the snapshot's size in JSON.
  ``save new`` and ``save 1 change`` include it.

Then whole processes on a one-block subscription, through the public services (``start_process`` +
``wait_for_process``, the thread pool of 8 workers), one at a time, ``--repeat`` x 10 of each in
turns: ``modify`` is a ``@modify_workflow`` whose one step loads the subscription, changes a value
and returns it (so: the start form's checks, the reservation, the link, the lock's backup, the load,
the save, the unlock, each with its history version); ``plain`` is ``init >> a step >> done`` on
the same machine in the same run, the ratio's baseline. The statements are the modify's own
(the checkpoints excluded).

    .venv/bin/python bench/domain.py --backend all
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import make_url

from orchestrion.db import Database, init_database
from orchestrion.db.domain_models import FixedInputTable, ProductBlockTable, ProductTable, ResourceTypeTable
from orchestrion.db.models import WorkflowTable
from orchestrion.domain import history
from orchestrion.domain.base import ProductBlockModel, SubscriptionModel
from orchestrion.domain.registry import SUBSCRIPTION_MODEL_REGISTRY
from orchestrion.domain.snapshot import rows_of
from orchestrion.engine.status import ProcessStatus
from orchestrion.executors import set_executor
from orchestrion.executors.threadpool import ThreadPoolExecutor
from orchestrion.logs import configure_logging
from orchestrion.runtime import current
from orchestrion.services.processes import start_process, wait_for_process
from orchestrion.types import State, UUIDstr
from orchestrion.workflow import StepList, begin, done, init, step, workflow
from orchestrion.workflows import get_workflow, register_workflow
from orchestrion.workflows.utils import modify_workflow

DEFAULT_POSTGRES_URI = "postgresql://postgres@127.0.0.1/orchestrion_bench_domain"
SIZES = (1, 10, 100)


class BenchItemBlock(ProductBlockModel, product_block_name="Bench Item"):
    number: int | None = None
    title: str | None = None
    tags: list[str] = []


class BenchRootBlock(ProductBlockModel, product_block_name="Bench Root"):
    items: list[BenchItemBlock] = []


class BenchSubscription(SubscriptionModel, is_base=True):
    bandwidth: int
    root: BenchRootBlock


SUBSCRIPTION_MODEL_REGISTRY["Bench Product"] = BenchSubscription
MODIFY, PLAIN = "bench_modify", "bench_plain"


@step("Change an item")
def change_item(subscription_id: UUIDstr) -> State:
    subscription = BenchSubscription.from_subscription(subscription_id)
    subscription.root.items[0].number = (subscription.root.items[0].number or 0) + 1
    return {"subscription": subscription}


@modify_workflow("Benchmark: modify a subscription")
def bench_modify() -> StepList:
    return begin >> change_item


@step("Do nothing")
def nothing() -> State:
    return {}


@workflow("Benchmark: a plain process")
def bench_plain() -> StepList:
    return init >> nothing >> done


def insert_catalogue(database: Database) -> uuid.UUID:
    with database.write() as session:
        types = [ResourceTypeTable(resource_type=name, description=name) for name in ("number", "title", "tags")]
        item = ProductBlockTable(name="Bench Item", description="item", tag="ITEM", resource_types=types)
        root = ProductBlockTable(name="Bench Root", description="root", tag="ROOT")
        product = ProductTable(
            name="Bench Product",
            description="benchmark product",
            product_type="Bench",
            tag="BENCH",
            status="active",
            product_blocks=[root, item],
            fixed_inputs=[FixedInputTable(name="bandwidth", value="1000")],
            workflows=[WorkflowTable(name=MODIFY, target="MODIFY", description="benchmark")],
        )
        session.add(product)
        session.flush()
        return product.product_id


@contextmanager
def counting(database: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return (time.perf_counter() - start) * 1000, result


@dataclass
class Result:
    backend: str
    blocks: int
    save_new_ms: float
    load_ms: float
    load_queries: int
    save_change_ms: float
    save_change_statements: int
    save_unchanged_ms: float
    version_ms: float
    version_kb: float


def bench_size(database: Database, backend: str, product_id: uuid.UUID, blocks: int, repeat: int) -> Result:
    new_ms, load_ms, change_ms, unchanged_ms, version_ms = [], [], [], [], []
    load_queries = change_statements = 0
    for _ in range(repeat):
        with database.write():
            model = BenchSubscription.from_product_id(product_id, "bench")
            model.root.items = [
                BenchItemBlock.new(model.subscription_id, number=i, title=f"item {i}", tags=["a", "b"])
                for i in range(blocks)
            ]
            ms, _ = timed(model.save)
            new_ms.append(ms)
        with counting(database) as statements, database.read():
            ms, loaded = timed(partial(BenchSubscription.from_subscription, model.subscription_id))
        load_ms.append(ms)
        load_queries = len(statements)
        with database.write():
            loaded.root.items[-1].number = -1
            with counting(database) as statements:
                ms, _ = timed(loaded.save)
            change_ms.append(ms)
            change_statements = len(statements)
            ms, _ = timed(loaded.save)
            unchanged_ms.append(ms)
        with database.write() as session:  # a transaction of its own: the version is an INSERT
            ms, _ = timed(partial(history.record, session, loaded.subscription_id, rows_of(loaded)))
            version_ms.append(ms)
    size = len(json.dumps(history.snapshot_of(loaded.subscription_id, rows_of(loaded)))) / 1024
    median = statistics.median
    return Result(
        backend,
        blocks,
        median(new_ms),
        median(load_ms),
        load_queries,
        median(change_ms),
        change_statements,
        median(unchanged_ms),
        median(version_ms),
        size,
    )


@dataclass
class ProcessResult:
    backend: str
    modify_ms: float
    plain_ms: float
    statements: int


def _one_process(key: str, pages: list[State]) -> float:
    start = time.perf_counter()
    process_id = start_process(key, pages)
    status = wait_for_process(process_id, timeout=60)
    if status != ProcessStatus.COMPLETED:
        raise RuntimeError(f"{key}: process {process_id} ended {status}")
    return (time.perf_counter() - start) * 1000


def bench_processes(database: Database, backend: str, product_id: uuid.UUID, repeat: int) -> ProcessResult:
    """A modify process and a plain one, ``repeat`` x 10 each, in turns (see the module's docstring)."""
    for key, wf in ((MODIFY, bench_modify), (PLAIN, bench_plain)):
        if get_workflow(key) is None:
            register_workflow(wf, key)
    subscriptions = []
    with database.write():
        for i in range(repeat * 10 + 10):
            model = BenchSubscription.from_product_id(product_id, "bench", status="active", insync=True)
            model.root.items = [BenchItemBlock.new(model.subscription_id, number=i, title="item", tags=["a"])]
            model.save()
            subscriptions.append(str(model.subscription_id))
    executor = ThreadPoolExecutor(current(), max_workers=8)
    previous = set_executor(executor)
    modify_ms, plain_ms = [], []
    try:
        for sid in subscriptions[:10]:  # warm-up: connections, statement caches
            _one_process(MODIFY, [{"subscription_id": sid}])
            _one_process(PLAIN, [{}])
        for sid in subscriptions[10:]:
            modify_ms.append(_one_process(MODIFY, [{"subscription_id": sid}]))
            plain_ms.append(_one_process(PLAIN, [{}]))
        with counting(database) as statements:
            _one_process(MODIFY, [{"subscription_id": subscriptions[0]}])
    finally:
        set_executor(previous)
        executor.shutdown(wait=True)
    return ProcessResult(backend, statistics.median(modify_ms), statistics.median(plain_ms), len(statements))


def prepare_postgres(uri: str) -> str:
    """Create the dedicated benchmark database if needed and give it an empty ``public`` schema."""
    url = make_url(uri).set(drivername="postgresql")
    if not url.database:
        raise SystemExit("--postgres-uri must name a database (its public schema is emptied: use a dedicated one)")
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{url.database}"')
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
        version = conn.execute("SHOW server_version").fetchone()
    assert version is not None
    return f"PostgreSQL {version[0]}"


HEADER = (
    f"{'backend':<9} {'blocks':>6} {'save new ms':>12} {'load ms':>9} {'queries/load':>13} "
    f"{'save 1 change ms':>17} {'statements':>11} {'save no change ms':>18} {'version ms':>11} {'KB/version':>11}"
)


def format_row(r: Result) -> str:
    return (
        f"{r.backend:<9} {r.blocks:>6} {r.save_new_ms:>12.2f} {r.load_ms:>9.2f} {r.load_queries:>13} "
        f"{r.save_change_ms:>17.2f} {r.save_change_statements:>11} {r.save_unchanged_ms:>18.3f} "
        f"{r.version_ms:>11.2f} {r.version_kb:>11.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--repeat", type=int, default=30, help="runs per size; medians are shown (default 30)")
    parser.add_argument(
        "--postgres-uri",
        default=DEFAULT_POSTGRES_URI,
        help=f"a dedicated database; its public schema is dropped and recreated (default {DEFAULT_POSTGRES_URI})",
    )
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    print(f"Python {sys.version.split()[0]}, median of {args.repeat} runs per row")
    print(HEADER)
    print("-" * len(HEADER))
    processes = []
    for backend in backends:
        if backend == "sqlite":
            uri = f"sqlite:///{tempfile.mkdtemp(prefix='orchestrion-bench-domain-')}/orchestrion.db"
        else:
            print(f"# {prepare_postgres(args.postgres_uri)}", flush=True)
            uri = args.postgres_uri
        database = init_database(uri)
        product_id = insert_catalogue(database)
        for blocks in SIZES:
            print(format_row(bench_size(database, backend, product_id, blocks, args.repeat)), flush=True)
        processes.append(bench_processes(database, backend, product_id, args.repeat))
        database.dispose()
    print(f"\nwhole processes, one at a time, median of {args.repeat * 10} each, in turns")
    print(f"{'backend':<9} {'modify ms':>10} {'plain ms':>9} {'x plain':>8} {'modify statements':>18}")
    for p in processes:
        ratio = p.modify_ms / p.plain_ms
        print(f"{p.backend:<9} {p.modify_ms:>10.2f} {p.plain_ms:>9.2f} {ratio:>8.2f} {p.statements:>18}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
