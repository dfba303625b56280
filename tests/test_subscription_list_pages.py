"""The subscription list's pages (ids first, free text as one ``IN``) are exactly the straightforward
query's: the same rows in the same order and the same total, on a small set with ties."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import exists, func, or_, select
from tests.domain_support import PortBlockInactive, PortInactive, insert_catalogue

from orchestrion.db import Database
from orchestrion.db.domain_models import (
    ProductTable,
    SubscriptionInstanceTable,
    SubscriptionInstanceValueTable,
    SubscriptionTable,
)
from orchestrion.db.listing import ListQuery, Page, contains
from orchestrion.services import subscription_views
from orchestrion.services.subscription_views import SUBSCRIPTION_LIST

PAGES = (Page(0, 4), Page(2, 9), Page(0, 100), Page(11, 20), Page(50, 60))
LISTINGS = (
    ((), (), None),
    ((("description", "ASC"),), (), None),
    ((("description", "DESC"),), (("customer", "c1"),), None),
    ((("product", "ASC"), ("start_date", "DESC")), (), None),
    ((("tag", "DESC"),), (("status", "initial"),), "port"),
    ((), (), "et-1"),  # a resource value
    ((("description", "ASC"),), (), "test"),  # the product's name: every subscription
    ((), (("tag", "PORT"),), "c2"),  # the customer
    ((), (), "nothing like it"),
)


@pytest.fixture
def subscriptions(database: Database) -> list[uuid.UUID]:
    """12 ports of two customers, four descriptions between them (ties), each with a port name."""
    products = insert_catalogue(database)
    ids = []
    for i in range(12):
        with database.write():
            port = PortInactive.from_product_id(products["Test Port"], f"c{i % 2 + 1}", description=f"Port {i % 4}")
            port.port = PortBlockInactive.new(port.subscription_id, port_name=f"et-{i % 3}")
            port.save()
        ids.append(port.subscription_id)
    return ids


def _straightforward_search(text: str) -> Any:
    s, si, siv = SubscriptionTable, SubscriptionInstanceTable, SubscriptionInstanceValueTable
    resource = (
        exists()
        .where(si.subscription_id == s.subscription_id)
        .where(siv.subscription_instance_id == si.subscription_instance_id, contains(siv.value, text))
    )
    return or_(*(contains(c, text) for c in (s.description, ProductTable.name, s.customer_id)), resource)


def _straightforward(session: Any, listing: ListQuery, text: str | None) -> tuple[list[uuid.UUID], int]:
    query = select(SubscriptionTable).join(ProductTable, ProductTable.product_id == SubscriptionTable.product_id)
    if text:
        query = query.where(_straightforward_search(text))
    query = SUBSCRIPTION_LIST.apply(query, listing)
    rows = session.scalars(query.offset(listing.page.first).limit(listing.page.size)).all()
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return [row.subscription_id for row in rows], total


@pytest.mark.parametrize(("sort", "filters", "text"), LISTINGS)
def test_every_page_is_the_straightforward_querys(
    database: Database,
    subscriptions: list[uuid.UUID],
    sort: tuple[tuple[str, str], ...],
    filters: tuple[tuple[str, str], ...],
    text: str | None,
) -> None:
    for page in PAGES:
        listing = ListQuery(page, sort, filters)
        items, total = subscription_views.subscription_page(listing, text)
        with database.read() as session:
            expected = _straightforward(session, listing, text)
        assert ([item["subscription_id"] for item in items], total) == expected, page
        assert all(item["product"]["name"] == "Test Port" for item in items)  # the full rows, not only ids


def test_free_text_finds_a_subscription_by_the_start_of_its_id(
    database: Database, subscriptions: list[uuid.UUID]
) -> None:
    wanted = subscriptions[5]
    items, total = subscription_views.subscription_page(ListQuery(Page(0, 10)), str(wanted)[:8])
    assert ([item["subscription_id"] for item in items], total) == ([wanted], 1)
