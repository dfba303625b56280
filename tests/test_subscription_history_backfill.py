"""Subscriptions older than their history, on both databases: opening the database gives each one without a
version its version 1, holding what ``record`` keeps for it now; a second run changes nothing, and the next change
is version 2, diffed against the backfilled one."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import psycopg
import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError
from tests.example_support import create, modify_port

import examples
from examples.products.port import PortMode
from orchestrion.catalogue import ensure_catalogue, load_file
from orchestrion.db import Database, open_database
from orchestrion.db.domain_models import ProductTable, SubscriptionVersionTable
from orchestrion.db.listing import Page
from orchestrion.domain import history_backfill
from orchestrion.domain.history_backfill import BACKFILL, backfill
from orchestrion.services import subscription_history

_V = SubscriptionVersionTable


def _network(database: Database) -> dict[str, str]:
    """A node, two ports on it and a circuit between them: blocks, values and references to other subscriptions."""
    ensure_catalogue(load_file(examples.CATALOGUE))
    with database.read() as session:
        products = {p.name: str(p.product_id) for p in session.execute(select(ProductTable)).scalars()}
    node, _ = create("create_node", [{"product": products["Node"]}, {"node_name": "rt1", "location": "Amsterdam"}])
    ports = [
        create("create_port", [{"product": products[product]}, {"node": node, "port_name": name}])[0]
        for product, name in (("Port 10G", "xe-0/0/1"), ("Port 100G", "et-0/0/2"))
    ]
    circuit, _ = create(
        "create_circuit",
        [{"product": products["Circuit"]}, {"port_a": ports[0], "port_b": ports[1]}, {"bandwidth": 10}],
    )
    return {"node": node, "port_a": ports[0], "port_b": ports[1], "circuit": circuit}


def _rows(database: Database) -> list[dict[str, Any]]:
    with database.read() as session:
        found = session.execute(select(_V).order_by(_V.subscription_id, _V.version)).scalars()
        return [
            {c.name: getattr(row, c.name) for c in _V.__table__.columns}  # type: ignore[attr-defined]
            for row in found
        ]


def test_opening_the_database_gives_each_unversioned_subscription_its_state_now_as_version_1(
    database: Database,
) -> None:
    network = _network(database)
    recorded = {}  # what record kept last, after each subscription's last change
    for sid in network.values():
        (newest,), _ = subscription_history.versions_page(UUID(sid), Page(0, 1))
        recorded[sid] = subscription_history.version(UUID(sid), newest["version"])["subscription"]
    with database.write() as session:  # as before revision 0011: subscriptions without versions
        session.execute(delete(_V))

    open_database(database.uri).engine.dispose()

    backfilled = _rows(database)
    assert len(backfilled) == len(network)
    for row in backfilled:
        assert (row["version"], row["process_id"], row["step_name"]) == (1, None, BACKFILL)
        assert row["snapshot"] == recorded[str(row["subscription_id"])]
    circuit = recorded[network["circuit"]]
    assert {ref["subscription_id"] for ref in circuit["references"].values()} == {network["port_a"], network["port_b"]}

    assert backfill(database) == 0  # idempotent: nothing more to write, nothing rewritten
    assert _rows(database) == backfilled


def test_the_next_change_after_a_backfill_is_version_2_and_diffs_against_it(database: Database) -> None:
    network = _network(database)
    port = network["port_a"]
    with database.write() as session:
        session.execute(delete(_V).where(_V.subscription_id == UUID(port)))
    assert backfill(database) == 1

    modify_port(port, PortMode.UNTAGGED)

    versions = [row for row in _rows(database) if str(row["subscription_id"]) == port]
    assert [row["version"] for row in versions] == list(range(1, len(versions) + 1)) and len(versions) > 1
    assert versions[0]["step_name"] == BACKFILL and versions[1]["step_name"] != BACKFILL
    changes = subscription_history.versions_diff(UUID(port), 1, len(versions))
    (block,) = (b for b in changes["blocks"]["changed"] if b["name"] == "Port")
    assert block["values"]["mode"] == {"old": ["tagged"], "new": ["untagged"]}


def test_backfills_running_together_write_each_first_version_once(database: Database) -> None:
    network = _network(database)
    with database.write() as session:
        session.execute(delete(_V))

    with ThreadPoolExecutor(2) as pool:  # two services starting at once
        written = list(pool.map(lambda _: backfill(database), range(2)))

    assert sum(written) == len(network)
    assert sorted(str(row["subscription_id"]) for row in _rows(database)) == sorted(network.values())


def test_a_starting_service_waits_out_an_outage_that_meets_the_backfill(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server restarted while the database drops connections (a failover, a terminated backend) comes up
    once the backfill succeeds, as after the migrations; a one-shot command says at once that it failed."""
    network = _network(database)
    with database.write() as session:
        session.execute(delete(_V))
    failures = [0]

    def first_attempts_lose_the_connection(target: Database) -> int:
        if failures[0] < 2:
            failures[0] += 1
            raise OperationalError("backfill", {}, psycopg.errors.AdminShutdown("terminating connection"))
        return backfill(target)

    monkeypatch.setattr(history_backfill, "backfill", first_attempts_lose_the_connection)
    with pytest.raises(OperationalError):
        open_database(database.uri)
    open_database(database.uri, wait=True).engine.dispose()

    assert failures == [2]
    assert sorted(str(row["subscription_id"]) for row in _rows(database)) == sorted(network.values())
