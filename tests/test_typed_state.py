"""Typed state: values a step returns reach later steps through JSON in the real database, converted
back to each parameter's annotation; and the errors when that cannot be done name step and key.

Every test runs through the test kit on SQLite and PostgreSQL, so the state really is persisted and
read back between steps.
"""

import ipaddress
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum
from typing import Any, Optional
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel

from orchestrion.db import Database, get_database
from orchestrion.db.models import ProcessTable
from orchestrion.testing import (
    ProcessStat,
    WorkflowInstanceForTests,
    assert_complete,
    assert_failed,
    extract_error,
    extract_state,
    resume_workflow,
    run_workflow,
)
from orchestrion.types import State, UUIDstr, strEnum
from orchestrion.workflow import StepList, Workflow, done, init, step


class Colour(strEnum):
    RED = "red"
    GREEN = "green"


class Priority(IntEnum):
    LOW = 1
    HIGH = 2


class Port(BaseModel):
    name: str
    speed: Decimal
    address: ipaddress.IPv4Address


class Node(BaseModel):
    node_id: UUID
    created: datetime
    colour: Colour
    ports: list[Port]


WHEN = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))
NAIVE = datetime(2023, 7, 1, 12, 0, 0, 654321)
AMOUNT = Decimal("1234.5670")
NODE_ID = UUID("12345678-1234-5678-1234-567812345678")
IDS = [uuid4(), uuid4(), uuid4()]
NODE = Node(
    node_id=NODE_ID,
    created=WHEN,
    colour=Colour.GREEN,
    ports=[
        Port(name="eth0", speed=Decimal("10.5"), address=ipaddress.IPv4Address("192.0.2.1")),
        Port(name="eth1", speed=Decimal("100"), address=ipaddress.IPv4Address("192.0.2.2")),
    ],
)

# What the steps under test received; module-level because steps are plain functions.
received: dict[str, Any] = {}
# Set by tests to make a step fail until "the cause is fixed".
broken: dict[str, bool] = {}
# How often each step ran.
runs: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    received.clear()
    broken.clear()
    runs.clear()
    yield
    received.clear()
    broken.clear()
    runs.clear()


@pytest.fixture
def registered() -> Iterator[Callable[[StepList], str]]:
    """Register ``init >> steps >> done`` under a fresh name for the test; returns the name."""
    numbers = itertools.count()
    with ExitStack() as stack:

        def register(steps: StepList) -> str:
            name = f"typed_state_{next(numbers)}"
            stack.enter_context(WorkflowInstanceForTests(Workflow(name, "", init >> steps >> done), name))
            return name

        yield register


def process_state(process: ProcessStat) -> State:
    """The state the process row holds: what a retry or a restarted worker starts from."""
    with get_database().read() as session:
        row = session.get(ProcessTable, process.process_id)
        assert row is not None
        return dict(row.state)


@step("Produce")
def produce() -> State:
    return {
        "when": WHEN,
        "naive": NAIVE,
        "amount": AMOUNT,
        "node_id": NODE_ID,
        "node_id_str": NODE_ID,
        "colour": Colour.RED,
        "priority": Priority.HIGH,
        "address": ipaddress.IPv4Address("198.51.100.7"),
        "network": ipaddress.IPv6Network("2001:db8::/32"),
        "node": NODE,
        "ids": IDS,
        "maybe": 7,
        "nothing": None,
        "retries": "5",
        "pair": (1, "x"),
    }


@step("Flaky")
def flaky() -> None:
    if broken.get("flaky"):
        raise RuntimeError("flaky is broken")


@step("Consume typed")
def consume_typed(
    when: datetime,
    naive: datetime,
    amount: Decimal,
    node_id: UUID,
    node_id_str: UUIDstr,
    colour: Colour,
    priority: Priority,
    address: ipaddress.IPv4Address,
    network: ipaddress.IPv6Network,
    node: Node,
    ids: list[UUID],
    maybe: Optional[int],  # noqa: UP045 - the spelling older workflow code uses
    nothing: int | None,
    absent: int | None,
    retries: int = 3,
    timeout: float = 1.5,
) -> State:
    received.update(locals())
    return {"typed_done": True}


@step("Consume raw")
def consume_raw(when, amount, node_id: str, colour, priority, node, ids, pair, network: Any, state):  # type: ignore[no-untyped-def]
    received.update(locals())
    return {"raw_done": True}


@pytest.mark.parametrize("interrupted", [False, True], ids=["straight", "after-retry"])
def test_annotated_parameters_receive_the_values_converted_back(
    database: Database, registered: Callable[[StepList], str], interrupted: bool
) -> None:
    """Straight through, or continuing from the database after a failure: the same values arrive."""
    name = registered(produce >> flaky >> consume_typed)
    broken["flaky"] = interrupted
    result, process, log = run_workflow(name, [{}])
    if interrupted:
        assert_failed(result)
        assert not received
        broken["flaky"] = False
        result, log = resume_workflow(process, log, [{}])
    assert_complete(result)

    when = received["when"]
    assert isinstance(when, datetime)
    assert when == WHEN
    assert when.microsecond == 123456
    assert when.utcoffset() == timedelta(hours=5, minutes=30)
    assert received["naive"] == NAIVE.replace(tzinfo=UTC)
    assert received["naive"].microsecond == 654321

    assert isinstance(received["amount"], Decimal)
    assert str(received["amount"]) == "1234.5670"
    assert received["node_id"] == NODE_ID and isinstance(received["node_id"], UUID)
    assert received["node_id_str"] == str(NODE_ID) and isinstance(received["node_id_str"], str)
    assert received["colour"] is Colour.RED
    assert received["priority"] is Priority.HIGH
    assert received["address"] == ipaddress.IPv4Address("198.51.100.7")
    assert received["network"] == ipaddress.IPv6Network("2001:db8::/32")

    node = received["node"]
    assert isinstance(node, Node) and all(isinstance(p, Port) for p in node.ports)
    assert node == NODE
    assert node.ports[0].speed == Decimal("10.5")

    assert received["ids"] == IDS and all(isinstance(i, UUID) for i in received["ids"])
    assert received["maybe"] == 7
    assert received["nothing"] is None
    assert received["absent"] is None
    assert received["retries"] == 5  # present: converted from the state's "5"
    assert received["timeout"] == 1.5  # absent: the default


def test_unannotated_parameters_receive_the_json_values(
    database: Database, registered: Callable[[StepList], str]
) -> None:
    name = registered(produce >> consume_raw)
    result, process, _log = run_workflow(name, [{}])
    assert_complete(result)

    assert received["when"] == "2024-02-29T23:59:58.123456+05:30"
    assert received["amount"] == "1234.5670"
    assert received["node_id"] == str(NODE_ID)
    assert received["colour"] == "red"
    assert received["priority"] == 2
    assert received["pair"] == [1, "x"]
    assert received["network"] == "2001:db8::/32"
    assert received["ids"] == [str(i) for i in IDS]
    assert received["node"] == {
        "node_id": str(NODE_ID),
        "created": "2024-02-29T23:59:58.123456+05:30",
        "colour": "green",
        "ports": [
            {"name": "eth0", "speed": "10.5", "address": "192.0.2.1"},
            {"name": "eth1", "speed": "100", "address": "192.0.2.2"},
        ],
    }

    whole = received["state"]
    assert whole["process_id"] == str(process.process_id)
    assert whole["workflow_name"] == name
    assert whole["pair"] == [1, "x"]
    assert whole["node_id"] == str(NODE_ID)
    assert "raw_done" not in whole

    final = extract_state(result)
    assert final["pair"] == [1, "x"] and final["raw_done"] is True
    assert {k: final[k] for k in ("when", "amount", "node", "ids")} == {
        k: whole[k] for k in ("when", "amount", "node", "ids")
    }


@step("Make UUID")
def make_uuid() -> State:
    return {"ref": NODE_ID, "tags": {"b"}}


@step("Read as str")
def read_as_str(ref: str, tags: list[str], state: State) -> State:
    received.update(ref=ref, tags=tags, state_ref=state["ref"])
    return {}


def test_next_step_receives_exactly_the_round_tripped_value(
    database: Database, registered: Callable[[StepList], str]
) -> None:
    name = registered(make_uuid >> read_as_str)
    result, _process, log = run_workflow(name, [{}])
    assert_complete(result)
    assert received == {"ref": str(NODE_ID), "tags": ["b"], "state_ref": str(NODE_ID)}
    assert type(received["ref"]) is str
    assert log[1].state["ref"] == str(NODE_ID)


@dataclass
class Span:
    start: int
    end: int


class Legacy:
    """A value that knows its own JSON form, as older workflow code wrote them."""

    def to_dict(self) -> dict[str, str]:
        return {"legacy": "yes"}


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (Decimal("1.10"), "1.10"),
        (ipaddress.IPv4Address("192.0.2.1"), "192.0.2.1"),
        (ipaddress.IPv6Network("2001:db8::/32"), "2001:db8::/32"),
        (ipaddress.IPv4Interface("192.0.2.1/24"), "192.0.2.1/24"),
        ({"only"}, ["only"]),
        (frozenset({"only"}), ["only"]),
        (Span(1, 2), {"start": 1, "end": 2}),
        (Legacy(), {"legacy": "yes"}),
    ],
    ids=["Decimal", "IPv4Address", "IPv6Network", "IPv4Interface", "set", "frozenset", "dataclass", "to_dict"],
)
def test_values_without_a_json_type_are_stored_as_their_json_form(
    database: Database, registered: Callable[[StepList], str], value: Any, stored: Any
) -> None:
    @step("Return value")
    def return_value() -> State:
        return {"value": value}

    name = registered(return_value)
    result, _process, log = run_workflow(name, [{}])
    assert_complete(result)
    assert extract_state(result)["value"] == stored
    assert log[1].state["value"] == stored


# --- errors --------------------------------------------------------------------------------------


@step("Prepare")
def prepare() -> State:
    runs["Prepare"] += 1
    return {"prepared": True, "count": "many", "node_id": "not-a-uuid", "node": {"node_id": str(NODE_ID)}}


@step("Needs size")
def needs_size(size: int) -> State:
    return {"sized": size}


@step("Read count")
def read_count(count: int) -> State:
    return {"counted": count}


@step("Read node id")
def read_node_id(node_id: UUID) -> State:
    return {"node_read": True}


@step("Read node")
def read_node(node: Node) -> State:
    return {"node_read": True}


@step("Make widget")
def make_widget() -> State:
    runs["Make widget"] += 1
    if broken.get("widget"):
        return {"fine": 1, "widget": object()}
    return {"fine": 1, "widget": "a widget"}


@step("Read widget")
def read_as_str_widget(widget: str) -> State:
    received["widget"] = widget
    return {}


def _assert_failed_at(result: Any, log: list[Any], step_name: str, process: ProcessStat) -> str:
    """The process failed at ``step_name`` and kept the state the earlier steps left; the error text."""
    assert_failed(result)
    assert (log[-1].name, log[-1].status) == (step_name, "failed")
    assert [e.status for e in log[:-1]] == ["success"] * (len(log) - 1)
    assert process_state(process) == log[-2].state
    error = extract_error(result)
    assert error is not None
    return error


def test_missing_required_key_fails_naming_step_and_key(
    database: Database, registered: Callable[[StepList], str]
) -> None:
    name = registered(prepare >> needs_size)
    result, process, log = run_workflow(name, [{}])
    error = _assert_failed_at(result, log, "Needs size", process)
    assert error == "Step 'Needs size': the state has no key 'size' (expected int)"
    assert process_state(process)["prepared"] is True
    assert "sized" not in process_state(process)


@pytest.mark.parametrize(
    ("failing", "key", "expected", "reason"),
    [
        (read_count, "count", "int", "Input should be a valid integer"),
        (read_node_id, "node_id", "UUID", "Input should be a valid UUID"),
        (read_node, "node", "Node", "created: Field required; colour: Field required; ports: Field required"),
    ],
    ids=["int", "UUID", "model"],
)
def test_conversion_error_names_step_key_and_type(
    database: Database, registered: Callable[[StepList], str], failing: Any, key: str, expected: str, reason: str
) -> None:
    name = registered(prepare >> failing)
    result, process, log = run_workflow(name, [{}])
    error = _assert_failed_at(result, log, failing.name, process)
    assert error.startswith(f"Step {failing.name!r}: key {key!r} cannot be read as {expected}: {reason}"), error
    assert process_state(process)["prepared"] is True


def test_unserialisable_value_fails_naming_step_and_key_and_retry_completes(
    database: Database, registered: Callable[[StepList], str]
) -> None:
    name = registered(prepare >> make_widget >> read_as_str_widget)
    broken["widget"] = True
    result, process, log = run_workflow(name, [{}])
    error = _assert_failed_at(result, log, "Make widget", process)
    assert "Step 'Make widget'" in error
    assert "key 'widget'" in error
    assert "object" in error
    state_before = process_state(process)
    assert state_before["prepared"] is True
    assert "fine" not in state_before and "widget" not in state_before

    result, log = resume_workflow(process, log, [{}])
    assert_failed(result)  # the cause is still there: the same failure again
    assert extract_error(result) == error

    broken["widget"] = False
    result, log = resume_workflow(process, log, [{}])
    assert_complete(result)
    assert received == {"widget": "a widget"}
    assert extract_state(result)["fine"] == 1
    assert runs == {"Prepare": 1, "Make widget": 3}
    assert [e.name for e in log][-3:] == ["Make widget", "Read widget", "Done"]
