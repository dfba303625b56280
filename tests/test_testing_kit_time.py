"""The test kit's clock and in-memory runtime, as a workflow author uses them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from orchestrion.db import Database, SubscriptionTable, db
from orchestrion.engine.clock import utcnow
from orchestrion.forms import SubmitFormPage
from orchestrion.runtime import current
from orchestrion.targets import Target
from orchestrion.testing import (
    MemoryProcessStore,
    TestClock,
    WorkflowInstanceForTests,
    assert_complete,
    assert_failed,
    assert_suspended,
    assert_waiting,
    extract_error,
    memory_runtime,
    resume_workflow,
    run_workflow,
)
from orchestrion.types import State
from orchestrion.workflow import Workflow, done, init, inputstep, retrystep, step

attempts: list[datetime] = []


@retrystep("Reach the flaky inventory")
def reach_inventory() -> State:
    attempts.append(utcnow())
    if len(attempts) == 1:
        raise ConnectionError("inventory unreachable")
    return {"reached_at": utcnow().isoformat()}


@step("Stamp")
def stamp() -> State:
    return {"stamped_at": utcnow().isoformat()}


@inputstep("Ask for a colour", assignee="SYSTEM")
def ask_colour() -> object:
    class Colour(SubmitFormPage):
        colour: str

    answer = yield Colour
    return answer.model_dump()


@step("Count subscriptions")
def count_subscriptions() -> State:
    return {"subscriptions": db.session.execute(select(func.count()).select_from(SubscriptionTable)).scalar_one()}


def test_a_retry_falls_due_when_the_test_moves_the_clock(register: Callable[..., Workflow], database: Database) -> None:
    attempts.clear()
    register("kit_flaky", init >> reach_inventory >> done, target=Target.SYSTEM)
    with TestClock(datetime(2031, 5, 1, 9, 0, tzinfo=UTC)) as clock:
        result, process, _ = run_workflow("kit_flaky", {})
        assert_waiting(result)
        store = current().store
        assert store.due_retries(utcnow()) == []  # not yet: the policy's delay lies ahead

        clock.advance(timedelta(hours=2))  # past any first delay (at most RETRY_MAX_DELAY_SECONDS)
        assert store.due_retries(utcnow()) == [process.process_id]

        result, _, _ = run_workflow("task_resume_workflows", {})
        assert_complete(result)
        assert store.last_status(process.process_id).value == "completed"
    assert attempts == [datetime(2031, 5, 1, 9, 0, tzinfo=UTC), datetime(2031, 5, 1, 11, 0, tzinfo=UTC)]


def test_the_clock_stands_still_until_moved_and_only_forward() -> None:
    clock = TestClock()
    with clock:
        first = utcnow()
        assert utcnow() == first == clock.now
        assert clock.advance(90) == first + timedelta(seconds=90) == utcnow()
    assert utcnow() != clock.now  # outside the block, the system clock again
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="aware"):
        TestClock(datetime(2030, 1, 1))


def test_a_workflow_runs_on_the_memory_runtime_without_tables() -> None:
    wf = Workflow("kit_in_memory", "In memory", init >> stamp >> ask_colour >> done, target=Target.SYSTEM)
    clock = TestClock()
    with memory_runtime(clock=clock) as runtime:
        assert isinstance(runtime.store, MemoryProcessStore)
        with WorkflowInstanceForTests(wf, "kit_in_memory"):
            result, process, log = run_workflow("kit_in_memory", {})
            assert_suspended(result)
            assert [(e.name, e.status) for e in log] == [
                ("Start", "success"),
                ("Stamp", "success"),
                ("Ask for a colour", "suspend"),
            ]
            assert log[1].state["stamped_at"] == clock.now.isoformat()

            result, log = resume_workflow(process, log, [{"colour": "teal"}])
            assert_complete(result)
            assert result.s["colour"] == "teal" and log[-1].name == "Done"
            assert runtime.store.history(process.process_id)[-1][:2] == ("Done", "complete")


def test_a_step_that_needs_the_database_fails_on_the_memory_runtime_and_says_why() -> None:
    wf = Workflow("kit_needs_db", "Needs the database", init >> count_subscriptions >> done, target=Target.SYSTEM)
    with memory_runtime(), WorkflowInstanceForTests(wf, "kit_needs_db"):
        result, _, log = run_workflow("kit_needs_db", {})
        assert_failed(result)
        assert "subscriptions" in (extract_error(result) or "") and log[-1].name == "Count subscriptions"
