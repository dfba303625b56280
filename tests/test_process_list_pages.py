"""The process list's pages (read by id first, one workflow at a time on PostgreSQL) are exactly the
straightforward query's: the same rows in the same order, the same total, on a small set with ties."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from orchestrion.db import Database
from orchestrion.db.domain_models import ProcessSubscriptionTable, ProductTable, SubscriptionTable
from orchestrion.db.listing import ListQuery, Page
from orchestrion.db.models import ProcessTable, WorkflowTable
from orchestrion.storage import process_queries
from orchestrion.storage.process_queries import PROCESS_LIST

WORKFLOWS = {"beta_wf": 30, "alpha_wf": 20, "gamma_wf": 10, "empty_wf": 0}  # processes of each
STATUSES = ("completed", "failed", "running", "aborted", "suspended")
PAGES = (Page(0, 5), Page(3, 11), Page(0, 100), Page(55, 65), Page(100, 110))
LISTINGS = (
    ((), ()),
    ((("workflow_name", "ASC"),), ()),
    ((("workflow_name", "DESC"),), ()),
    ((("workflow_target", "ASC"), ("last_status", "DESC")), ()),
    ((("last_status", "DESC"),), (("workflow_name", "beta_wf"),)),
    ((("last_status", "ASC"),), (("workflow_name", "beta_wf-gamma_wf"),)),
    ((("created_by", "ASC"),), (("workflow", "a_w"),)),  # NULLs among the keys
    ((("workflow_name", "ASC"),), (("last_status", "failed-running"),)),
    ((("workflow_name", "DESC"), ("started_at", "ASC")), (("customer", "customer-1"),)),
    ((), (("workflow_name", "empty_wf"),)),
    ((("workflow_name", "ASC"),), (("q", "alpha"),)),
    ((), (("customer", "customer-1"),)),
    ((), (("customer", "customer-1"), ("tag", "TAGB"))),  # counted off the links alone
    ((), (("customer", "customer-1"), ("customer_id", "customer-0"))),  # none
    ((("last_status", "ASC"),), (("subscriptions", "S2"),)),
    ((("started_at", "ASC"),), (("tag", "TAGB"),)),
    ((("workflow_name", "ASC"),), (("product", "P"), ("customer", "customer-0"))),
)


@pytest.fixture
def processes(database: Database) -> Database:
    """60 processes with ties on every sort key but the id, some on two subscriptions, some on none."""
    rng = random.Random(12)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    product = uuid.uuid4()
    subscriptions = [uuid.uuid4() for _ in range(4)]
    with database.write() as session:
        session.execute(
            insert(ProductTable),
            [
                {
                    "product_id": product,
                    "name": "P",
                    "description": "P",
                    "product_type": "P",
                    "tag": "TAGB",
                    "status": "active",
                }
            ],
        )
        session.execute(
            insert(SubscriptionTable),
            [
                {
                    "subscription_id": s,
                    "customer_id": f"customer-{i % 2}",
                    "product_id": product,
                    "description": f"S{i}",
                    "status": "active",
                    "insync": True,
                    "version": 1,
                }
                for i, s in enumerate(subscriptions)
            ],
        )
        for name, count in WORKFLOWS.items():
            workflow_id = uuid.uuid4()
            target = "CREATE" if name == "alpha_wf" else "MODIFY"
            session.execute(
                insert(WorkflowTable), [{"workflow_id": workflow_id, "name": name, "target": target, "is_task": False}]
            )
            for _ in range(count):
                process_id = uuid.uuid4()
                started = now - timedelta(minutes=rng.randrange(6))
                session.execute(
                    insert(ProcessTable),
                    [
                        {
                            "process_id": process_id,
                            "workflow_id": workflow_id,
                            "workflow_fingerprint": "x",
                            "last_status": rng.choice(STATUSES),
                            "last_step": "Step",
                            "started_at": started,
                            "last_modified_at": started,
                            "created_by": rng.choice((None, "ann", "bob")),
                            "is_task": False,
                            "state": {},
                            "seq": 0,
                        }
                    ],
                )
                for subscription in rng.sample(subscriptions, rng.randrange(3)):
                    session.execute(
                        insert(ProcessSubscriptionTable),
                        [{"id": uuid.uuid4(), "process_id": process_id, "subscription_id": subscription}],
                    )
    return database


def _straightforward(session: Any, listing: ListQuery) -> tuple[list[uuid.UUID], int]:
    query = PROCESS_LIST.apply(process_queries._joined(*process_queries._ITEM_COLUMNS), listing)
    rows = session.execute(query.offset(listing.page.first).limit(listing.page.size)).all()
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return [row.process_id for row in rows], total


@pytest.mark.parametrize(("sort", "filters"), LISTINGS)
def test_every_page_is_the_straightforward_querys(
    processes: Database, sort: tuple[tuple[str, str], ...], filters: tuple[tuple[str, str], ...]
) -> None:
    with processes.read() as session:
        for page in PAGES:
            listing = ListQuery(page, sort, filters)
            items, total = process_queries.list_processes(session, listing)
            expected_ids, expected_total = _straightforward(session, listing)
            assert ([item["process_id"] for item in items], total) == (expected_ids, expected_total), page
            assert all(item["workflow_name"] in WORKFLOWS for item in items)  # the full rows, not only ids
