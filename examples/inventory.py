"""A fake external inventory (an OSS) that the example workflows provision into and validate against.

Real workflows call a network inventory or controller over HTTP here; this one keeps its records in
a table of its own (``example_inventory``) in orchestrion's database, so it remembers them across
restarts and runs anywhere. Calls go through ``db.session``: inside a step they commit with the
step, so a failed step leaves no half-provisioned record. Each call is idempotent, as steps that
touch other systems should be: provisioning a record twice leaves one record.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import JSON, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orchestrion.db import db
from orchestrion.db.database import BaseModel

FIRST_LOOPBACK = ipaddress.IPv4Address("10.255.0.1")
FIRST_CIRCUIT_ID = 1001


class InventoryRecord(BaseModel):
    """One record of the fake inventory: what it was told about a subscription, keyed by its id."""

    __tablename__ = "example_inventory"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    loopback: Mapped[int | None] = mapped_column(Integer, unique=True)
    circuit_id: Mapped[int | None] = mapped_column(Integer, unique=True)


def _session() -> Session:
    """The current transaction, with the table in its database.

    The table is the examples' own, not in orchestrion's migrations: each call creates it where it is
    missing, in the same transaction (a separate connection would wait for the step's SQLite write
    lock), so any database the examples run on has it once a step that used it has committed.
    """
    session = db.session
    InventoryRecord.__table__.create(session.connection(), checkfirst=True)  # type: ignore[attr-defined]
    return session


def _record(key: str) -> InventoryRecord:
    """The record of ``key``, a new one if the inventory has none."""
    session = _session()
    record = session.get(InventoryRecord, key)
    if record is None:
        record = InventoryRecord(key=key, attributes={})
        session.add(record)
    return record


def allocate_loopback(key: str) -> ipaddress.IPv4Address:
    """The loopback address for ``key``: the same one when asked again."""
    record = _record(key)
    if record.loopback is None:
        highest = db.session.execute(select(func.max(InventoryRecord.loopback))).scalar()
        record.loopback = int(FIRST_LOOPBACK) if highest is None else highest + 1
    return ipaddress.IPv4Address(record.loopback)


def allocate_circuit_id(key: str) -> int:
    """A circuit number for ``key``: the same one when asked again."""
    record = _record(key)
    if record.circuit_id is None:
        highest = db.session.execute(select(func.max(InventoryRecord.circuit_id))).scalar()
        record.circuit_id = FIRST_CIRCUIT_ID if highest is None else highest + 1
    return record.circuit_id


def provision(key: str, **attributes: Any) -> None:
    record = _record(key)
    record.attributes = {**record.attributes, **attributes, "provisioned": True}


def deprovision(key: str) -> None:
    _session().execute(delete(InventoryRecord).where(InventoryRecord.key == key))


def lookup(key: str) -> dict[str, Any] | None:
    """What the inventory holds for ``key``: its attributes and allocations, None if it has nothing."""
    record = _session().get(InventoryRecord, key)
    if record is None:
        return None
    found = dict(record.attributes)
    if record.loopback is not None:
        found["loopback"] = str(ipaddress.IPv4Address(record.loopback))
    if record.circuit_id is not None:
        found["circuit_id"] = record.circuit_id
    return found
