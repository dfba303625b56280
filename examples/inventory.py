"""A fake external inventory (an OSS) that the example workflows provision into and validate against.

Real workflows call a network inventory or controller over HTTP here; this one keeps its records in
a table of its own (``example_inventory``) in orchestrion's database, so it remembers them across
restarts and runs anywhere. Calls go through ``db.session``: inside a step they commit with the
step, so a failed step leaves no half-provisioned record. Each call is idempotent, as steps that
touch other systems should be: provisioning a record twice leaves one record.

Two behaviours of real inventories are imitated, deterministically, so the examples can show what
an operator does about them:

- ``update`` answers "busy" the first time it is asked to change a record (the step fails; a retry
  succeeds). That it answered so is remembered outside the failed step's transaction, as an
  external system would, in the record itself: so it holds across restarts too.
- ``request_activation`` answers later, by calling the process back (its callback route) from a
  thread of its own once the requesting step has committed, as an asynchronous provisioning system
  does. ``wait_for_answers`` waits for the answers under way (tests, scripts).
"""

from __future__ import annotations

import ipaddress
import threading
import time
import uuid
from typing import Any

import structlog
from sqlalchemy import JSON, Integer, String, delete, event, func, inspect, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from orchestrion.db import db, get_database
from orchestrion.db.database import BaseModel
from orchestrion.runtime import Runtime, activate, current
from orchestrion.utils.errors import ProcessFailureError

FIRST_LOOPBACK = ipaddress.IPv4Address("10.255.0.1")
FIRST_CIRCUIT_ID = 1001
ANSWERED_BUSY = "answered_busy"  # the attribute that says the inventory was busy for this record once
_CREATE_LOCK = 0x0E1A_0001  # PostgreSQL advisory lock key: one creator of the table at a time
logger = structlog.get_logger(__name__)


class InventoryRecord(BaseModel):
    """One record of the fake inventory: what it was told about a subscription, keyed by its id."""

    __tablename__ = "example_inventory"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    loopback: Mapped[int | None] = mapped_column(Integer, unique=True)
    circuit_id: Mapped[int | None] = mapped_column(Integer, unique=True)


class InventoryBusyError(ProcessFailureError):
    """The inventory refused a change for now; the same change succeeds when the step is retried."""


def _session() -> Session:
    """The current transaction, with the table in its database.

    The table is the examples' own, not in orchestrion's migrations: a call creates it where it is
    missing, in the same transaction (a separate connection would wait for the step's SQLite write
    lock), so any database the examples run on has it once a step that used it has committed. Two
    PostgreSQL transactions creating it at once would collide (the second fails on the catalogue's
    unique index), so there the creator takes a transaction-scoped advisory lock and looks again:
    the second waits for the first to commit and then finds the table. SQLite has one writer anyway.
    """
    session = db.session
    connection = session.connection()
    if not inspect(connection).has_table(InventoryRecord.__tablename__):
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CREATE_LOCK})
        InventoryRecord.__table__.create(connection, checkfirst=True)  # type: ignore[attr-defined]
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


def update(key: str, **attributes: Any) -> None:
    """Change a provisioned record; the first change of each record is answered "busy" (a retry succeeds)."""
    record = _record(key)
    if not record.attributes.get(ANSWERED_BUSY):
        # The step's transaction is about to roll back; the inventory's memory of having answered is
        # not part of it, so it is written once that rollback has released the database.
        event.listen(db.session, "after_rollback", lambda _session: _remember_busy(key), once=True)
        raise InventoryBusyError("The inventory is busy with another change of this record; retry", {"key": key})
    provision(key, **attributes)


def _remember_busy(key: str) -> None:
    with get_database().write() as session:
        record = session.get(InventoryRecord, key)
        if record is not None:
            record.attributes = {**record.attributes, ANSWERED_BUSY: True}


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


# --- asynchronous activation: the inventory calls the process back --------------------------------

_answers: list[threading.Thread] = []
_answers_lock = threading.Lock()


def request_activation(key: str, callback_route: str) -> None:
    """Ask for ``key`` to be activated; the inventory answers on ``callback_route`` once this commits.

    Answering before the request is committed could reach a process that never asked (its step may
    still fail and roll back), so the answer waits for the commit of the requesting transaction.
    """
    record = _record(key)
    record.attributes = {**record.attributes, "activation": "requested"}
    runtime = current()
    event.listen(db.session, "after_commit", lambda _session: _answer_later(runtime, key, callback_route), once=True)


def _answer_later(runtime: Runtime, key: str, callback_route: str) -> None:
    thread = threading.Thread(target=_answer, args=(runtime, key, callback_route), name=f"inventory-{key}", daemon=True)
    thread.start()
    with _answers_lock:
        _answers.append(thread)


def _answer(runtime: Runtime, key: str, callback_route: str) -> None:
    """Activate the record, then post the outcome to the process's callback route."""
    from orchestrion.services.processes import deliver_callback

    # the route is /api/processes/<process id>/callback/<token>, as callback_step hands it out
    *_, process_id, _callback, token = callback_route.rstrip("/").split("/")
    with activate(runtime):
        try:
            with runtime.database.write() as session:
                record = session.get(InventoryRecord, key)
                if record is None:
                    answer: dict[str, Any] = {"activation": "failed", "reason": "no such record"}
                else:
                    record.attributes = {**record.attributes, "activation": "active"}
                    answer = {"activation": "active", "circuit_id": record.circuit_id}
            deliver_callback(uuid.UUID(process_id), token, answer)
        except Exception:
            logger.exception("The example inventory could not call the process back", process_id=process_id)


def wait_for_answers(timeout: float = 60.0) -> None:
    """Wait until every callback the inventory has started is delivered (and its process has moved on)."""
    deadline = time.monotonic() + timeout
    while True:
        with _answers_lock:
            _answers[:] = [t for t in _answers if t.is_alive()]
            pending = list(_answers)
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} inventory answers still under way after {timeout} s")
        pending[0].join(max(0.0, deadline - time.monotonic()))
