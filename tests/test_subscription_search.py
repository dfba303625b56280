"""Finding subscriptions over HTTP, on SQLite and PostgreSQL: the customer filter matches part of the
id ignoring case, and the free text (``query``) finds a subscription by its id or by a resource value
of its own blocks (a port name, an IP address)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from ipaddress import IPv4Address

import pytest
from fastapi.testclient import TestClient
from tests.domain_support import PortBlockInactive, PortInactive, WidgetInactive, insert_catalogue

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    with TestClient(OrchestratorCore(database=database)) as c:
        yield c


@pytest.fixture
def products(database: Database) -> dict[str, uuid.UUID]:
    return insert_catalogue(database)


def _port(database: Database, product_id: uuid.UUID, name: str, customer: str) -> uuid.UUID:
    with database.write():
        port = PortInactive.from_product_id(product_id, customer, description=f"Port {name}")
        port.port = PortBlockInactive.new(port.subscription_id, port_name=name)
        port.save()
    return port.subscription_id


def _widget(database: Database, product_id: uuid.UUID, address: str) -> uuid.UUID:
    with database.write():
        widget = WidgetInactive.from_product_id(product_id, "Other-Customer", description="A widget")
        widget.container.typed.address = IPv4Address(address)
        widget.save()
    return widget.subscription_id


def _found(client: TestClient, **params: str) -> list[str]:
    response = client.get("/api/subscriptions/", params=params)
    assert response.status_code == 200, response.text
    return sorted(s["subscription_id"] for s in response.json())


def test_the_customer_filter_matches_part_of_the_id_ignoring_case(
    client: TestClient, database: Database, products: dict[str, uuid.UUID]
) -> None:
    surf = _port(database, products["Test Port"], "et-0", "SURF-Customer-42")
    other = _port(database, products["Test Port"], "et-1", "Other-Customer")
    assert _found(client, filter="customer_id,surf-cust") == [str(surf)]
    assert _found(client, filter="customer,CUSTOMER") == sorted([str(surf), str(other)])
    assert _found(client, filter="customer_id,SURF-Customer-42") == [str(surf)]  # the whole id still matches
    assert _found(client, filter="customer_id,nobody") == []


def test_free_text_finds_a_subscription_by_its_id_or_its_start(
    client: TestClient, database: Database, products: dict[str, uuid.UUID]
) -> None:
    wanted = _port(database, products["Test Port"], "et-0", "c1")
    _port(database, products["Test Port"], "et-1", "c1")
    assert _found(client, query=str(wanted)) == [str(wanted)]
    assert _found(client, query=str(wanted).upper()) == [str(wanted)]
    assert _found(client, query=str(wanted)[:8]) == [str(wanted)]  # the short id the UI shows
    assert _found(client, query=str(wanted)[:13]) == [str(wanted)]  # with its first hyphen


def test_free_text_finds_resource_values_of_the_subscriptions_own_blocks(
    client: TestClient, database: Database, products: dict[str, uuid.UUID]
) -> None:
    port = _port(database, products["Test Port"], "xe-0/0/7", "c1")
    _port(database, products["Test Port"], "ge-1/0/1", "c1")
    widget = _widget(database, products["Test Widget"], "192.0.2.17")
    assert _found(client, query="XE-0/0") == [str(port)]  # part of a port name, ignoring case
    assert _found(client, query="192.0.2.17") == [str(widget)]
    assert _found(client, query="10_0%") == []  # LIKE's wildcards are literal
    assert _found(client, query="xe-0", filter="customer_id,nobody") == []  # filters still apply
