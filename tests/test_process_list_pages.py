"""The process list's pages (read by id first, one workflow at a time on PostgreSQL) are exactly the
straightforward query's: the same rows in the same order, the same total, on a small set with ties."""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, event, func, insert, select

from orchestrion.db import Database
from orchestrion.db.domain_models import ProcessSubscriptionTable, ProductTable, SubscriptionTable
from orchestrion.db.listing import ListQuery, Page
from orchestrion.db.models import ProcessTable, WorkflowTable
from orchestrion.storage import process_queries
from orchestrion.storage.process_queries import PROCESS_LIST

_L = ProcessSubscriptionTable
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
    ((), (("tag", "TAGB"),)),  # most processes: read in order on SQLite, for the smaller pages
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


def test_sqlite_reads_a_page_in_order_only_when_many_processes_match(processes: Database) -> None:
    """A filter on subscriptions that most processes match is tested process by process along the list's
    index (a correlated ``EXISTS``, no sort of every match); one that few match starts from its matches
    (``IN``). Either way the page and the total are the straightforward query's."""
    if not processes.is_sqlite:
        pytest.skip("PostgreSQL plans this from its statistics")
    with processes.read() as session:
        links = func.count(ProcessSubscriptionTable.id)
        fewest = select(ProcessSubscriptionTable.subscription_id).group_by(ProcessSubscriptionTable.subscription_id)
        one = str(session.scalars(fewest.order_by(links, ProcessSubscriptionTable.subscription_id)).first())
        matching = {
            "tag": session.scalar(select(func.count(func.distinct(ProcessSubscriptionTable.process_id)))),
            "subscription_id": session.scalar(
                select(func.count()).where(ProcessSubscriptionTable.subscription_id == uuid.UUID(one))
            ),
        }
    assert matching["tag"] > 30 > 18 > matching["subscription_id"]  # 60 processes: 18 decides the first 5
    statements: list[str] = []
    event.listen(processes.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    for (name, value), in_order in ((("tag", "TAGB"), True), (("subscription_id", one), False)):
        listing = ListQuery(Page(0, 5), (), ((name, value),))
        with processes.read() as session:
            statements.clear()
            items, total = process_queries.list_processes(session, listing)
            assert ([item["process_id"] for item in items], total) == _straightforward(session, listing)
        assert ("EXISTS (SELECT" in _page_queries(statements)[0]) is in_order, name


def _page_queries(statements: list[str]) -> list[str]:
    return [s for s in statements if s.startswith("SELECT processes.process_id") and "ORDER BY" in s]


def test_sqlite_sorts_the_matches_when_they_are_all_older_than_a_bounded_read(processes: Database) -> None:
    """Many matches, but all among the oldest processes: the read in order stops after a bounded number of
    processes (``SCAN_BOUNDS`` times the bound) and the page is then sorted from the matches."""
    if not processes.is_sqlite:
        pytest.skip("PostgreSQL plans this from its statistics")
    listing_order = select(ProcessTable.process_id, ProcessTable.started_at).order_by(*PROCESS_LIST.tiebreak)
    with processes.write() as session:
        ordered = session.execute(listing_order).all()
        bound = math.isqrt(1 * len(ordered)) + 1  # a page of 1: 8 of the 60
        edge = ordered[process_queries.SCAN_BOUNDS * bound].started_at
        old = [row.process_id for row in ordered if row.started_at < edge]
        assert len(old) >= bound
        subscription = session.scalars(select(SubscriptionTable.subscription_id)).first()
        session.execute(delete(_L).where(_L.subscription_id == subscription))
        session.execute(
            insert(ProcessSubscriptionTable),
            [{"id": uuid.uuid4(), "process_id": p, "subscription_id": subscription} for p in old],
        )
    statements: list[str] = []
    event.listen(processes.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    listing = ListQuery(Page(0, 1), (), (("subscription_id", str(subscription)),))
    with processes.read() as session:
        items, total = process_queries.list_processes(session, listing)
        read = _page_queries(statements)
        assert ([item["process_id"] for item in items], total) == _straightforward(session, listing)
    assert total == len(old)
    assert ["EXISTS (SELECT" in q for q in read] == [True, False]  # read in order, then sorted
