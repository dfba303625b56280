"""Running one workflow on every matching subscription (``task_run_on_subscriptions``), on both databases."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.process_support import process_row
from tests.subscription_support import add_subscription, load_product, subscription_row

from orchestrion.db import Database
from orchestrion.db.models import ProcessTable
from orchestrion.engine.status import IN_FLIGHT_STATUSES, ProcessStatus
from orchestrion.engine.workflow import Workflow
from orchestrion.executors import set_executor
from orchestrion.executors.threadpool import ThreadPoolExecutor
from orchestrion.forms import FormPage
from orchestrion.runtime import current
from orchestrion.services.processes import start_process
from orchestrion.targets import Target
from orchestrion.types import State, UUIDstr
from orchestrion.workflow import done, init, step
from orchestrion.workflows.steps import resync, unsync

Register = Callable[..., Workflow]
gate = threading.Event()
checked: list[str] = []


def _subscription_form() -> Any:
    class Form(FormPage):
        subscription_id: uuid.UUID

    return Form


running = {"now": 0, "peak": 0}
running_lock = threading.Lock()


@step("Check the port")
def check_port(subscription_id: UUIDstr) -> State:
    with running_lock:
        running["now"] += 1
        running["peak"] = max(running["peak"], running["now"])
    try:
        assert gate.wait(30), "the test never opened the gate"
    finally:
        with running_lock:
            running["now"] -= 1
    checked.append(str(subscription_id))
    return {"checked": True}


@pytest.fixture
def ports(database: Database, register: Register) -> Iterator[dict[str, uuid.UUID]]:
    gate.set()
    checked.clear()
    running.update(now=0, peak=0)
    register(
        "check_bulk_port", init >> unsync >> check_port >> resync >> done, target=Target.MODIFY, form=_subscription_form
    )
    product = load_product(database, "BulkPort", {"check_bulk_port": "MODIFY"})
    found = {f"port {n}": add_subscription(database, product, description=f"port {n}") for n in range(1, 6)}
    found["locked"] = add_subscription(database, product, description="port locked", insync=False)
    found["other"] = add_subscription(database, load_product(database, "Other"), description="not a port")
    yield found
    gate.set()  # a failed test leaves no child blocked at the gate


def _run(**form: Any) -> uuid.UUID:
    return start_process(
        "task_run_on_subscriptions",
        [{"workflow_key": "check_bulk_port", "subscription_filter": "product,BulkPort", **form}],
    )


def test_a_dry_run_lists_what_would_start_and_what_would_be_refused_and_starts_nothing(
    database: Database, ports: dict[str, uuid.UUID]
) -> None:
    process = _run()  # dry_run is the default

    row = process_row(process)
    assert row.last_status == ProcessStatus.COMPLETED, row.failed_reason
    result = {r["description"]: (r["would"], r["reason"]) for r in row.state["dry_run_result"]}
    assert set(result) == {"port 1", "port 2", "port 3", "port 4", "port 5", "port locked"}
    assert {d for d, (would, _) in result.items() if would == "start"} == {f"port {n}" for n in range(1, 6)}
    assert result["port locked"] == (
        "refuse",
        "subscription_id: This workflow cannot be started: Subscription already has a running process or task",
    )
    with database.read() as session:
        children = select(func.count()).where(ProcessTable.parent_process_id == process)
        assert session.execute(children).scalar_one() == 0
    assert all(subscription_row(database, ports[f"port {n}"])["insync"] for n in range(1, 6))


def test_a_run_starts_one_child_per_subscription_and_records_the_refused(
    database: Database, ports: dict[str, uuid.UUID]
) -> None:
    process = _run(dry_run=False, max_in_flight=2)

    row = process_row(process)
    assert row.last_status == ProcessStatus.COMPLETED, row.failed_reason
    assert sorted(checked) == sorted(str(ports[f"port {n}"]) for n in range(1, 6))
    assert row.state["summary"] == {"started": 5, "statuses": {"completed": 5}, "refused": 1}
    (refused,) = row.state["bulk"]["refused"]
    assert refused["subscription_id"] == str(ports["locked"])


def _in_flight_children(database: Database, parent: uuid.UUID) -> int:
    with database.read() as session:
        query = select(func.count()).where(
            ProcessTable.parent_process_id == parent,
            ProcessTable.last_status.in_([s.value for s in IN_FLIGHT_STATUSES]),
        )
        return int(session.execute(query).scalar_one())


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_at_most_max_in_flight_children_run_at_once(database: Database, ports: dict[str, uuid.UUID]) -> None:
    gate.clear()
    set_executor(ThreadPoolExecutor(current(), max_workers=4))  # room for more than two: the bound is the task's

    process = _run(dry_run=False, max_in_flight=2)
    _wait_for(lambda: process_row(process).last_status == ProcessStatus.AWAITING_CHILDREN, "the parent to wait")
    _wait_for(lambda: _in_flight_children(database, process) == 2, "two children in flight")
    assert _in_flight_children(database, process) == 2
    gate.set()

    waiting = {ProcessStatus.AWAITING_CHILDREN, *IN_FLIGHT_STATUSES}
    _wait_for(lambda: process_row(process).last_status not in waiting, "the bulk run to end", timeout=60)
    assert process_row(process).last_status == ProcessStatus.COMPLETED, process_row(process).failed_reason
    assert len(checked) == 5
    assert running["peak"] <= 2  # never a third at once, however many threads were free
