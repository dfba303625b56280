"""Storing subscriptions: typed round-trips, order, None, writes limited to changes, constant-query loads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from ipaddress import IPv4Address, IPv6Interface

import pytest
from sqlalchemy import func, select
from tests.domain_support import (
    Colour,
    ItemBlockInactive,
    Level,
    WidgetInactive,
    blocks_of,
    counting_statements,
    data_statements,
    insert_catalogue,
)

from orchestrion import db
from orchestrion.db import Database
from orchestrion.db.domain_models import (
    SubscriptionInstanceRelationTable,
    SubscriptionInstanceTable,
    SubscriptionInstanceValueTable,
    SubscriptionTable,
)
from orchestrion.domain import StaleSubscriptionError
from orchestrion.domain.base import SubscriptionModel


@pytest.fixture
def widget_product(database: Database) -> uuid.UUID:
    return insert_catalogue(database)["Test Widget"]


def _new_widget(database: Database, product_id: uuid.UUID, items: int = 0) -> WidgetInactive:
    with database.write():
        widget = WidgetInactive.from_product_id(product_id, "customer")
        widget.container.items = [ItemBlockInactive.new(widget.subscription_id, number=n) for n in range(items)]
        widget.save()
    return widget


def _load(database: Database, subscription_id: uuid.UUID) -> WidgetInactive:
    with database.read():
        return WidgetInactive.from_subscription(subscription_id)


def _count(database: Database, table: type, **where: object) -> int:
    with database.read() as session:
        query = select(func.count()).select_from(table)
        for column, value in where.items():
            query = query.where(getattr(table, column) == value)
        return session.execute(query).scalar_one()


def test_typed_values_round_trip_exactly(database: Database, widget_product: uuid.UUID) -> None:
    moment = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=timezone(timedelta(hours=2)))
    reference = uuid.uuid4()
    with database.write():
        widget = WidgetInactive.from_product_id(widget_product, "customer")
        typed = widget.container.typed
        typed.count = 0
        typed.flag = False
        typed.colour = Colour.GREEN
        typed.level = Level.HIGH
        typed.address = IPv4Address("192.0.2.10")
        typed.interface = IPv6Interface("2001:db8::1/64")
        typed.reference = reference
        typed.moment = moment
        typed.text = "näive ✓ 'quoted' \"text\" 5"
        widget.save()
    loaded = _load(database, widget.subscription_id).container.typed
    assert loaded == widget.container.typed
    assert loaded.count == 0 and type(loaded.count) is int
    assert loaded.flag is False
    assert loaded.colour is Colour.GREEN and loaded.level is Level.HIGH
    assert loaded.address == IPv4Address("192.0.2.10") and loaded.interface == IPv6Interface("2001:db8::1/64")
    assert loaded.reference == reference
    assert loaded.moment == moment and loaded.moment.microsecond == 123456 and loaded.moment.utcoffset() is not None
    assert loaded.text == "näive ✓ 'quoted' \"text\" 5"


def test_none_round_trips_even_where_the_default_is_not_none(database: Database, widget_product: uuid.UUID) -> None:
    with database.write():
        widget = WidgetInactive.from_product_id(widget_product, "customer")
        widget.container.typed.text = None
        widget.container.typed.maybe_numbers = []
        widget.save()
    loaded = _load(database, widget.subscription_id).container.typed
    assert loaded.text is None  # the field's default is "default text"
    assert loaded.maybe_numbers == []  # an empty list is not None
    with database.write():
        widget = _load(database, widget.subscription_id)
        widget.container.typed.maybe_numbers = None
        widget.container.typed.text = "back"
        widget.save()
    loaded = _load(database, widget.subscription_id).container.typed
    assert loaded.maybe_numbers is None and loaded.text == "back"


def test_lists_of_values_and_of_blocks_keep_their_order(database: Database, widget_product: uuid.UUID) -> None:
    with database.write():
        widget = WidgetInactive.from_product_id(widget_product, "customer")
        widget.container.typed.numbers = [30, 10, 20, 10]
        widget.container.typed.names = ["b", "c", "a"]
        widget.container.items = [ItemBlockInactive.new(widget.subscription_id, number=n) for n in (5, 3, 9)]
        widget.save()
    loaded = _load(database, widget.subscription_id)
    assert loaded.container.typed.numbers == [30, 10, 20, 10]
    assert loaded.container.typed.names == ["b", "c", "a"]
    assert [item.number for item in loaded.container.items] == [5, 3, 9]
    assert loaded.container.items == widget.container.items
    with database.write():
        loaded.container.items.reverse()
        loaded.container.typed.names = ["z", *loaded.container.typed.names[1:]]
        loaded.container.typed.numbers = [1]
        loaded.save()
    again = _load(database, widget.subscription_id)
    assert [item.number for item in again.container.items] == [9, 3, 5]
    assert again.container.typed.names == ["z", "c", "a"]
    assert again.container.typed.numbers == [1]


def test_save_writes_only_what_changed_and_bumps_the_version(database: Database, widget_product: uuid.UUID) -> None:
    widget = _new_widget(database, widget_product, items=20)
    assert widget.version == 1
    with database.write():
        loaded = WidgetInactive.from_subscription(widget.subscription_id)
        with counting_statements(database) as statements:
            loaded.save()
        assert data_statements(statements) == []
        assert loaded.version == 1

        loaded.container.items[7].number = 700
        with counting_statements(database) as statements:
            loaded.save()
        written = data_statements(statements)
        assert [s.split()[0:2] for s in written] == [
            ["UPDATE", "subscriptions"],
            ["UPDATE", "subscription_instance_values"],
            ["INSERT", "INTO"],  # the version it produced (docs/history.md)
        ]
        assert loaded.version == 2
        with counting_statements(database) as statements:
            loaded.save()  # saved twice: the second time there is nothing left to write
        assert data_statements(statements) == []

        loaded.description = "renamed"
        loaded.container.items.append(ItemBlockInactive.new(widget.subscription_id, number=99))
        with counting_statements(database) as statements:
            loaded.save()
        assert [s.split()[0:2] for s in data_statements(statements)] == [
            ["UPDATE", "subscriptions"],
            ["INSERT", "INTO"],  # the instance
            ["INSERT", "INTO"],  # its relation to the container
            ["INSERT", "INTO"],  # its value
            ["UPDATE", "subscription_versions"],  # the same transaction's version, now this one
        ]
        assert loaded.version == 3
    reloaded = _load(database, widget.subscription_id)
    assert reloaded == loaded
    assert reloaded.version == 3 and reloaded.description == "renamed"
    assert reloaded.container.items[7].number == 700


def test_blocks_the_model_no_longer_holds_are_removed(database: Database, widget_product: uuid.UUID) -> None:
    widget = _new_widget(database, widget_product, items=3)
    instances_before = _count(database, SubscriptionInstanceTable, subscription_id=widget.subscription_id)
    with database.write():
        loaded = WidgetInactive.from_subscription(widget.subscription_id)
        dropped = loaded.container.items.pop(1)
        loaded.container.single = ItemBlockInactive.new(widget.subscription_id, number=1)
        replaced = widget.container.single
        loaded.save()
    reloaded = _load(database, widget.subscription_id)
    assert [item.number for item in reloaded.container.items] == [0, 2]
    assert reloaded.container.single.number == 1
    assert _count(database, SubscriptionInstanceTable, subscription_id=widget.subscription_id) == instances_before - 1
    for gone in (dropped, replaced):
        iid = gone.subscription_instance_id
        assert _count(database, SubscriptionInstanceTable, subscription_instance_id=iid) == 0
        assert _count(database, SubscriptionInstanceValueTable, subscription_instance_id=iid) == 0
        assert _count(database, SubscriptionInstanceRelationTable, depends_on_id=iid) == 0


def test_loading_takes_the_same_number_of_queries_for_1_and_100_blocks(
    database: Database, widget_product: uuid.UUID
) -> None:
    small = _new_widget(database, widget_product, items=1)
    large = _new_widget(database, widget_product, items=100)
    counts = []
    for widget in (small, large):
        with counting_statements(database) as statements:
            loaded = _load(database, widget.subscription_id)
        assert loaded == widget
        counts.append(len(data_statements(statements)))
    assert len(blocks_of(large)) == len(blocks_of(small)) + 99
    assert counts[0] == counts[1] == 3


def test_a_change_made_elsewhere_since_loading_is_not_overwritten(
    database: Database, widget_product: uuid.UUID
) -> None:
    widget = _new_widget(database, widget_product)
    first = _load(database, widget.subscription_id)
    second = _load(database, widget.subscription_id)
    with database.write():
        first.note = "first"
        first.save()
    with pytest.raises(StaleSubscriptionError, match="changed or deleted since it was loaded"), database.write():
        second.note = "second"
        second.save()
    assert _load(database, widget.subscription_id).note == "first"


def test_save_writes_in_the_current_transaction_and_never_commits(
    database: Database, widget_product: uuid.UUID
) -> None:
    with database.read():
        widget = WidgetInactive.from_product_id(widget_product, "customer")
    with db.db.database_scope():  # outside a step: the scope's session, which its owner commits (or not)
        widget.save()
        assert _count(database, SubscriptionTable, subscription_id=widget.subscription_id) == 0
    assert _count(database, SubscriptionTable, subscription_id=widget.subscription_id) == 0
    with database.read():
        widget = WidgetInactive.from_product_id(widget_product, "customer")
    with pytest.raises(ZeroDivisionError), database.write():
        widget.save()
        assert _count_in_transaction(widget.subscription_id) == 1
        1 / 0  # noqa: B018
    assert _count(database, SubscriptionTable, subscription_id=widget.subscription_id) == 0


def _count_in_transaction(subscription_id: uuid.UUID) -> int:
    query = select(func.count()).select_from(SubscriptionTable)
    return db.session().execute(query.where(SubscriptionTable.subscription_id == subscription_id)).scalar_one()


def test_subscription_columns_round_trip(database: Database, widget_product: uuid.UUID) -> None:
    start = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    with database.write():
        widget = WidgetInactive.from_product_id(
            widget_product, "cust-9", description="d", insync=True, start_date=start, note="n"
        )
        widget.save()
    loaded = _load(database, widget.subscription_id)
    assert (loaded.customer_id, loaded.description, loaded.insync, loaded.start_date, loaded.note) == (
        "cust-9",
        "d",
        True,
        start,
        "n",
    )
    assert isinstance(loaded, SubscriptionModel)
