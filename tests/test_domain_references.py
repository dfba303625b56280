"""Blocks that refer to blocks of other subscriptions: stored as relations, queryable both ways."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from tests.domain_support import (
    Link,
    LinkInactive,
    Port,
    PortBlock,
    PortBlockInactive,
    PortInactive,
    WidgetInactive,
    counting_statements,
    data_statements,
    insert_catalogue,
)

from orchestrion.db import Database
from orchestrion.db.domain_models import SubscriptionInstanceTable, SubscriptionInstanceValueTable
from orchestrion.domain import (
    BlockInUseError,
    depends_on_subscription_ids,
    domain_model_json,
    in_use_by_instance_ids,
    in_use_by_subscription_ids,
)
from orchestrion.domain.base import SubscriptionModel
from orchestrion.types import SubscriptionLifecycle

L = SubscriptionLifecycle


@pytest.fixture
def products(database: Database) -> dict[str, uuid.UUID]:
    return insert_catalogue(database)


def _active_port(products: dict[str, uuid.UUID], name: str) -> Port:
    port = PortInactive.from_product_id(products["Test Port"], "customer")
    port.port.port_name = name
    active = SubscriptionModel.from_other_lifecycle(port, L.ACTIVE)
    active.save()
    assert isinstance(active, Port)
    return active


@pytest.fixture
def network(database: Database, products: dict[str, uuid.UUID]) -> tuple[Port, Port, Link]:
    """Two active ports and an active link that uses both ports' blocks."""
    with database.write():
        port_a, port_b = _active_port(products, "a"), _active_port(products, "b")
        link = LinkInactive.from_product_id(products["Test Link"], "customer")
        link.link.vlan = 10
        link.link.ports = [port_a.port, port_b.port]
        active_link = SubscriptionModel.from_other_lifecycle(link, L.ACTIVE)
        assert isinstance(active_link, Link)
        active_link.save()
    return port_a, port_b, active_link


def _instances(database: Database, subscription_id: uuid.UUID) -> int:
    with database.read() as session:
        return session.execute(
            select(func.count())
            .select_from(SubscriptionInstanceTable)
            .where(SubscriptionInstanceTable.subscription_id == subscription_id)
        ).scalar_one()


def test_a_referenced_block_is_loaded_from_its_owner(database: Database, network: tuple[Port, Port, Link]) -> None:
    port_a, port_b, link = network
    assert _instances(database, link.subscription_id) == 1  # the link block only: ports are not copied
    with database.read():
        loaded = SubscriptionModel.from_subscription(link.subscription_id)
    assert isinstance(loaded, Link)
    assert [type(p) for p in loaded.link.ports] == [PortBlock, PortBlock]
    assert [p.port_name for p in loaded.link.ports] == ["a", "b"]
    assert [p.owner_subscription_id for p in loaded.link.ports] == [port_a.subscription_id, port_b.subscription_id]
    assert loaded.link.ports[0].subscription_instance_id == port_a.port.subscription_instance_id


def test_changes_in_the_owner_show_through_the_referencing_subscription(
    database: Database, network: tuple[Port, Port, Link]
) -> None:
    port_a, _, link = network
    with database.write():
        owner = Port.from_subscription(port_a.subscription_id)
        owner.port.port_name = "renamed"
        owner.save()
    with database.read():
        assert Link.from_subscription(link.subscription_id).link.ports[0].port_name == "renamed"


def test_the_referencing_subscription_never_writes_the_referenced_block(
    database: Database, network: tuple[Port, Port, Link]
) -> None:
    port_a, _, link = network
    with database.write():
        loaded = Link.from_subscription(link.subscription_id)
        loaded.link.ports[0].port_name = "changed through the link"
        loaded.link.vlan = 11
        loaded.save()
    with database.read():
        assert Port.from_subscription(port_a.subscription_id).port.port_name == "a"
        assert Link.from_subscription(link.subscription_id).link.vlan == 11
        assert Port.from_subscription(port_a.subscription_id).version == port_a.version


def test_in_use_by_and_depends_on_both_ways(database: Database, network: tuple[Port, Port, Link]) -> None:
    port_a, port_b, link = network
    with database.read():
        assert in_use_by_subscription_ids(port_a.subscription_id) == [link.subscription_id]
        assert in_use_by_subscription_ids(link.subscription_id) == []
        assert depends_on_subscription_ids(link.subscription_id) == sorted(
            [port_a.subscription_id, port_b.subscription_id]
        )
        assert depends_on_subscription_ids(port_a.subscription_id) == []
        assert in_use_by_subscription_ids(port_a.subscription_id, exclude_statuses=[L.ACTIVE]) == []
        link_block = link.link.subscription_instance_id
        assert in_use_by_instance_ids(port_a.subscription_id) == [link_block]
        assert port_a.in_use_by_ids() == [link_block]
        assert port_a.port.in_use_by_ids() == [link_block]
        assert link.link.depends_on_ids() == sorted(
            [port_a.port.subscription_instance_id, port_b.port.subscription_instance_id]
        )
        dumped = domain_model_json(port_a.subscription_id)
        assert dumped["in_use_by_ids"] == [str(link_block)]
        assert dumped["port"]["in_use_by_ids"] == [str(link_block)]
        assert dumped["subscription_id"] == str(port_a.subscription_id)
        assert dumped["product"]["name"] == "Test Port"
        assert domain_model_json(link)["in_use_by_ids"] == []


def test_terminating_a_subscription_in_use_is_refused_until_its_users_are_gone(
    database: Database, network: tuple[Port, Port, Link]
) -> None:
    port_a, _, link = network
    with database.write():
        port = Port.from_subscription(port_a.subscription_id)
        with pytest.raises(ValueError, match=str(link.subscription_id)):
            SubscriptionModel.from_other_lifecycle(port, L.TERMINATED)
        with pytest.raises(ValueError, match="in use by"):
            SubscriptionModel.from_other_lifecycle(port, L.DISABLED)
        # Moves that keep the port alive are fine while the link uses it.
        SubscriptionModel.from_other_lifecycle(port, L.PROVISIONING)
        SubscriptionModel.from_other_lifecycle(port, L.MIGRATING)
    with database.write():
        SubscriptionModel.from_other_lifecycle(Link.from_subscription(link.subscription_id), L.TERMINATED).save()
    with database.write():
        terminated = SubscriptionModel.from_other_lifecycle(
            Port.from_subscription(port_a.subscription_id), "terminated"
        )
        terminated.save()
    with database.read():
        assert SubscriptionModel.from_subscription(port_a.subscription_id).status is L.TERMINATED


def test_dropping_a_reference_removes_the_relation_only(database: Database, network: tuple[Port, Port, Link]) -> None:
    port_a, _, link = network
    with database.write():
        loaded = LinkInactive.from_subscription(link.subscription_id)
        loaded.link.ports = [loaded.link.ports[1]]
        loaded.save()
    with database.read():
        assert [p.port_name for p in LinkInactive.from_subscription(link.subscription_id).link.ports] == ["b"]
        assert in_use_by_subscription_ids(port_a.subscription_id) == []
        assert Port.from_subscription(port_a.subscription_id) == port_a
        assert _instances(database, port_a.subscription_id) == 1


def test_a_block_still_used_elsewhere_cannot_be_removed_by_its_owner(
    database: Database, network: tuple[Port, Port, Link]
) -> None:
    port_a, _, link = network
    with pytest.raises(BlockInUseError, match=str(link.subscription_id)), database.write():
        owner = Port.from_subscription(port_a.subscription_id)
        owner.port = PortBlock.new(owner.subscription_id, port_name="new")
        owner.save()
    with database.read(), database.read() as session:
        assert Port.from_subscription(port_a.subscription_id).port.port_name == "a"
        values = session.execute(
            select(func.count())
            .select_from(SubscriptionInstanceValueTable)
            .where(SubscriptionInstanceValueTable.subscription_instance_id == port_a.port.subscription_instance_id)
        ).scalar_one()
        assert values == 1


def test_a_subscription_field_cannot_hold_another_subscriptions_block(
    database: Database, products: dict[str, uuid.UUID]
) -> None:
    with database.write():
        port = _active_port(products, "a")
        other = PortInactive.from_product_id(products["Test Port"], "customer")
        other.port = PortBlockInactive.model_validate(port.port.model_dump())
        with pytest.raises(ValueError, match="own fields hold its own blocks"):
            other.save()


def test_a_subscription_with_references_loads_in_as_many_queries_as_one_without(
    database: Database, products: dict[str, uuid.UUID], network: tuple[Port, Port, Link]
) -> None:
    _, _, link = network
    with database.write():
        widget = WidgetInactive.from_product_id(products["Test Widget"], "c")
        widget.save()
    for subscription_id in (link.subscription_id, widget.subscription_id):
        with counting_statements(database) as statements, database.read():
            SubscriptionModel.from_subscription(subscription_id)
        assert len(data_statements(statements)) == 3
