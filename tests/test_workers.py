"""In-process workers on both databases: which processes a heartbeat takes over, graceful shutdown, log context.

A process whose message may still be in the broker (created or resumed, unclaimed, recently; or
for longer, while the worker has no idle thread) is left alone by running workers' heartbeats,
but recovered at startup; what a worker abandoned is taken over at once, however busy the survivor.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import structlog
from sqlalchemy import select, update

from orchestrion.db import Database
from orchestrion.db.models import ProcessTable
from orchestrion.db.types import utcnow
from orchestrion.engine.status import ProcessStatus
from orchestrion.executors import set_executor
from orchestrion.executors.threadpool import ThreadPoolExecutor
from orchestrion.runtime import current
from orchestrion.services.processes import recover, start_process, wait_for_process
from orchestrion.storage.claims import Claim
from orchestrion.types import State
from orchestrion.workflow import StepList, done, init, step, workflow
from orchestrion.workflows import register_workflow, unregister_workflow

GRACE = timedelta(seconds=10)
release = threading.Event()
entered = threading.Event()


@step("Log context")
def log_context() -> State:
    return {"seen": structlog.contextvars.get_contextvars()}


@step("Wait for release")
def wait_for_release() -> State:
    entered.set()
    assert release.wait(10), "the test never released the step"
    return {}


@workflow("Workers test: quick")
def workers_quick() -> StepList:
    return init >> log_context >> done


@workflow("Workers test: held")
def workers_held() -> StepList:
    return init >> wait_for_release >> log_context >> done


@pytest.fixture(autouse=True)
def _workflows(database: Database) -> Iterator[None]:
    release.clear()
    entered.clear()
    register_workflow(workers_quick, "workers_quick")
    register_workflow(workers_held, "workers_held")
    yield
    release.set()
    unregister_workflow("workers_quick")
    unregister_workflow("workers_held")


class _Unsent:
    """Like the Celery executor whose message is still in the broker: creates unclaimed, runs nothing here."""

    worker_id = "nobody"
    lease = None

    def submit(self, process_id: uuid.UUID, claim: Claim | None = None, **kind: bool) -> None:
        pass

    def start_heartbeat(self) -> None:
        pass

    def dependencies(self) -> dict[str, str | None]:
        return {}

    def queue_depths(self) -> dict[str, int]:
        return {}

    def shutdown(self, wait: bool = True) -> None:
        pass


def _unsent(workflow_key: str = "workers_quick") -> uuid.UUID:
    previous = set_executor(_Unsent())
    try:
        return start_process(workflow_key)
    finally:
        set_executor(previous)


def _set(database: Database, process_id: uuid.UUID, **values: object) -> None:
    with database.write() as session:
        session.execute(update(ProcessTable).where(ProcessTable.process_id == process_id).values(**values))


def _row(database: Database, process_id: uuid.UUID) -> ProcessTable:
    with database.read() as session:
        return session.execute(select(ProcessTable).where(ProcessTable.process_id == process_id)).scalar_one()


def test_heartbeats_leave_a_process_in_transit_alone_until_its_grace_period_passed(database: Database) -> None:
    created = _unsent()
    resumed = _unsent()
    _set(database, resumed, last_status=ProcessStatus.RESUMED.value)
    handed_back = _unsent()
    _set(database, handed_back, last_status=ProcessStatus.RUNNING.value)  # stopped at a boundary: no message
    lapsed = _unsent()
    _set(database, lapsed, claimed_by="elsewhere.invalid:1:dead", lease_until=utcnow() - timedelta(seconds=1))

    assert sorted(current().store.recoverable(GRACE)) == sorted([handed_back, lapsed])
    assert sorted(current().store.recoverable()) == sorted([created, resumed, handed_back, lapsed])

    for process_id in (created, resumed):
        _set(database, process_id, last_modified_at=utcnow() - GRACE - timedelta(seconds=1))
    assert sorted(current().store.recoverable(GRACE)) == sorted([created, resumed, handed_back, lapsed])


def test_startup_recovery_runs_a_process_whose_message_is_in_transit(database: Database) -> None:
    process_id = _unsent()

    assert recover() == [process_id]  # the fixture's inline executor runs it here

    assert _row(database, process_id).last_status == "completed"


def test_a_threadpool_heartbeat_takes_over_what_no_live_worker_owns(database: Database) -> None:
    lost = _unsent()
    _set(database, lost, last_modified_at=utcnow() - GRACE - timedelta(seconds=1))
    lapsed = _unsent()
    _set(database, lapsed, claimed_by="elsewhere.invalid:1:dead", lease_until=utcnow() - timedelta(seconds=1))
    in_transit = _unsent()
    executor = ThreadPoolExecutor(current(), max_workers=2, lease_seconds=0.3)
    set_executor(executor)  # the fixture shuts it down

    executor.start_heartbeat()  # nothing is submitted to it: it finds the work itself

    for process_id in (lost, lapsed):
        assert wait_for_process(process_id, timeout=10) == ProcessStatus.COMPLETED
    assert _row(database, in_transit).last_status == "created"


def test_a_busy_threadpool_takes_over_abandoned_processes_and_leaves_lost_messages_to_idle_threads(
    database: Database,
) -> None:
    abandoned = _unsent()
    _set(database, abandoned, claimed_by="elsewhere.invalid:1:dead", lease_until=utcnow() - timedelta(seconds=1))
    lost = _unsent()
    _set(database, lost, last_modified_at=utcnow() - GRACE - timedelta(seconds=1))
    executor = ThreadPoolExecutor(current(), max_workers=1, lease_seconds=0.3)
    set_executor(executor)  # the fixture shuts it down
    held = start_process("workers_held")  # its only worker thread is busy ...
    assert entered.wait(10)
    queued = start_process("workers_quick")  # ... and has a queue

    assert wait_for_process(abandoned, timeout=10) == ProcessStatus.COMPLETED  # taken over at once
    assert _row(database, queued).last_status == "created"
    assert _row(database, lost).last_status == "created"  # its message may still be in a queue

    release.set()
    for process_id in (held, queued, lost):
        assert wait_for_process(process_id, timeout=10) == ProcessStatus.COMPLETED


def test_shutdown_finishes_the_step_and_hands_the_process_back(database: Database) -> None:
    executor = ThreadPoolExecutor(current(), max_workers=1)
    set_executor(executor)
    process_id = start_process("workers_held")
    assert entered.wait(10)
    assert _row(database, process_id).claimed_by == executor.worker_id

    stopping = threading.Thread(target=executor.shutdown)
    stopping.start()
    release.set()
    stopping.join(10)
    assert not stopping.is_alive()

    p = _row(database, process_id)
    assert (p.last_status, p.claimed_by, p.lease_until, p.cursor) == ("running", None, None, ["Log context"])
    assert current().store.recoverable(GRACE) == [process_id], "any live worker takes it over at once"


def test_log_lines_of_a_step_carry_the_process_workflow_and_step(database: Database) -> None:
    process_id = start_process("workers_quick")

    seen = _row(database, process_id).state["seen"]

    assert seen == {"process_id": str(process_id), "workflow": "workers_quick", "step": "Log context"}
    assert "step" not in structlog.contextvars.get_contextvars(), "unbound once the run ended"
