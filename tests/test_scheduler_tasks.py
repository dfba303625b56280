"""The built-in tasks on both databases: retries, callback timeouts, clean-up and the catalogue check."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from orchestrion.db import Database
from orchestrion.db.domain_models import ProductTable
from orchestrion.db.models import ProcessStepTable, ProcessTable, WorkflowTable
from orchestrion.db.types import utcnow
from orchestrion.domain import SubscriptionModel
from orchestrion.errors import NotAwaitingCallbackError, StartPredicateError
from orchestrion.scheduler import tasks
from orchestrion.scheduler.catalogue_check import check_catalogue
from orchestrion.services.processes import deliver_callback, resume_process, start_process
from orchestrion.settings import app_settings
from orchestrion.storage import sweeps
from orchestrion.targets import Target
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import State
from orchestrion.workflow import Workflow, callback_step, done, init, retrystep, step
from orchestrion.workflows.modify_note import modify_note

attempts: Counter[str] = Counter()
routes: list[str] = []


@retrystep("Call a flaky API")
def call_flaky_api(process_id: uuid.UUID) -> State:
    attempts[str(process_id)] += 1
    if attempts[str(process_id)] < 2:
        raise RuntimeError("the API is down")
    return {"called": True}


@step("Send the order")
def send_order(callback_route: str) -> State:
    routes.append(callback_route)
    return {}


@step("Check the confirmation")
def check_confirmation(callback_result: dict[str, Any]) -> State:
    return {"confirmed": callback_result}


@step("Do a little")
def do_a_little() -> State:
    return {"done": True}


@step("Fail")
def fail() -> State:
    raise RuntimeError("broken")


WORKFLOWS = {
    "sweep_flaky": Workflow("sweep_flaky", "Flaky", init >> call_flaky_api >> done, target=Target.CREATE),
    "sweep_order": Workflow(
        "sweep_order",
        "Order with a confirmation callback",
        init >> callback_step("Order", send_order, check_confirmation, timeout=60) >> done,
        target=Target.CREATE,
    ),
    "sweep_little_task": Workflow("sweep_little_task", "A task", init >> do_a_little >> done),
    "sweep_failing_task": Workflow("sweep_failing_task", "A failing task", init >> fail >> done),
    "sweep_little_create": Workflow(
        "sweep_little_create", "Not a task", init >> do_a_little >> done, target=Target.CREATE
    ),
}


@pytest.fixture(autouse=True)
def workflows(database: Database) -> Iterator[None]:
    attempts.clear()
    routes.clear()
    registered = [WorkflowInstanceForTests(wf, name) for name, wf in WORKFLOWS.items()]
    for r in registered:
        r.__enter__()
    try:
        yield
    finally:
        for r in registered:
            r.__exit__()


def row(database: Database, process_id: uuid.UUID) -> ProcessTable:
    with database.read() as s:
        found = s.get(ProcessTable, process_id)
        assert found is not None
        return found


def history(database: Database, process_id: uuid.UUID) -> list[tuple[str, str]]:
    with database.read() as s:
        query = select(ProcessStepTable.name, ProcessStepTable.status).where(ProcessStepTable.process_id == process_id)
        return [(name, status) for name, status in s.execute(query.order_by(ProcessStepTable.seq))]


def set_column(database: Database, process_id: uuid.UUID, **values: Any) -> None:
    with database.write() as s:
        s.execute(update(ProcessTable).where(ProcessTable.process_id == process_id).values(**values))


def run_task(name: str) -> tuple[uuid.UUID, State]:
    process_id = start_process(name, user="scheduler")
    p = row_of(process_id)
    assert p.last_status == "completed", p.failed_reason
    return process_id, p.state


def row_of(process_id: uuid.UUID) -> ProcessTable:
    from orchestrion.db import get_database

    return row(get_database(), process_id)


# --- task_resume_workflows --------------------------------------------------------------------


def test_waiting_processes_are_resumed_once_their_retry_time_has_passed(database: Database) -> None:
    due, later = start_process("sweep_flaky"), start_process("sweep_flaky")
    for process_id in (due, later):
        p = row(database, process_id)
        assert p.last_status == "waiting" and p.next_retry_at is not None and p.next_retry_at > utcnow()
    with pytest.raises(StartPredicateError, match="Nothing to do"):
        start_process("task_resume_workflows")

    set_column(database, due, next_retry_at=utcnow() - timedelta(seconds=1))
    _, state = run_task("task_resume_workflows")

    assert state["resumed"] == [str(due)] and state["not_resumed"] == {}
    assert row(database, due).last_status == "completed"
    assert attempts[str(due)] == 2
    assert row(database, later).last_status == "waiting"  # its backoff has not passed
    assert attempts[str(later)] == 1


def test_due_retries_are_chosen_by_the_time_given(database: Database) -> None:
    process_id = start_process("sweep_flaky")
    retry_at = row(database, process_id).next_retry_at
    assert retry_at is not None
    with database.read() as s:
        assert sweeps.due_retries(s, retry_at - timedelta(seconds=1)) == []
        assert sweeps.due_retries(s, retry_at) == [process_id]


# --- task_validate_awaiting_callbacks ---------------------------------------------------------

RESTART = tasks._restart  # what the task passes: a retry begins at the callback group's first step


def awaiting_order(database: Database) -> tuple[uuid.UUID, ProcessTable]:
    process_id = start_process("sweep_order")
    p = row(database, process_id)
    assert p.last_status == "awaiting_callback" and p.callback_deadline is not None and p.callback_token
    return process_id, p


def test_a_timed_out_callback_fails_the_process_and_a_retry_runs_the_whole_group_again(database: Database) -> None:
    process_id, p = awaiting_order(database)
    assert p.callback_deadline is not None
    old_token = p.callback_token
    with database.write() as s:
        assert not sweeps.fail_timed_out_callback(
            s, process_id, p.callback_deadline - timedelta(seconds=1), RESTART, "scheduler"
        )
    with database.write() as s:
        assert sweeps.fail_timed_out_callback(
            s, process_id, p.callback_deadline + timedelta(seconds=1), RESTART, "scheduler"
        )

    failed = row(database, process_id)
    assert failed.last_status == "failed"
    assert failed.failed_reason is not None and failed.failed_reason.startswith("Callback timed out")
    assert failed.callback_token is None and failed.callback_deadline is None
    assert failed.cursor == ["Order", "Order - Create endpoint"]
    assert history(database, process_id)[-1] == ("Order", "failed")
    with pytest.raises(NotAwaitingCallbackError):
        deliver_callback(process_id, old_token or "", {"late": True})

    resume_process(process_id)
    again = row(database, process_id)
    assert again.last_status == "awaiting_callback"
    assert len(routes) == 2 and routes[0] != routes[1]  # the action ran again, with a new route
    assert again.callback_token not in (None, old_token) and routes[1].endswith(again.callback_token or "")
    deliver_callback(process_id, again.callback_token or "", {"order": "confirmed"})
    done_ = row(database, process_id)
    assert done_.last_status == "completed"
    assert done_.state["confirmed"] == {"order": "confirmed"}


def test_a_callback_that_arrives_first_wins(database: Database) -> None:
    process_id, p = awaiting_order(database)
    assert p.callback_deadline is not None
    deliver_callback(process_id, p.callback_token or "", {"order": "confirmed"})
    with database.write() as s:
        assert not sweeps.fail_timed_out_callback(
            s, process_id, p.callback_deadline + timedelta(hours=1), RESTART, "scheduler"
        )
    assert row(database, process_id).last_status == "completed"


def race(database: Database, process_id: uuid.UUID, token: str, now: datetime) -> dict[str, bool]:
    """Deliver the callback and sweep at once, from two threads; which of them took effect."""
    outcome: dict[str, bool] = {}
    barrier = threading.Barrier(2)

    def callback() -> None:
        barrier.wait()
        try:
            deliver_callback(process_id, token, {"order": "confirmed"})
            outcome["callback"] = True
        except NotAwaitingCallbackError:
            outcome["callback"] = False

    def sweep() -> None:
        barrier.wait()
        with database.write() as s:
            outcome["sweep"] = sweeps.fail_timed_out_callback(s, process_id, now, RESTART, "scheduler")

    threads = [threading.Thread(target=callback), threading.Thread(target=sweep)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcome


def test_a_callback_racing_the_sweep_either_wins_or_is_refused(database: Database) -> None:
    for _ in range(4):
        process_id, p = awaiting_order(database)
        assert p.callback_deadline is not None
        outcome = race(database, process_id, p.callback_token or "", p.callback_deadline + timedelta(seconds=1))
        assert outcome["callback"] != outcome["sweep"]  # exactly one of them took effect
        assert row(database, process_id).last_status == ("completed" if outcome["callback"] else "failed")


def test_the_task_fails_expired_callbacks_only(database: Database) -> None:
    with pytest.raises(StartPredicateError, match="Nothing to do"):
        start_process("task_validate_awaiting_callbacks")
    expired, _ = awaiting_order(database)
    waiting, _ = awaiting_order(database)
    set_column(database, expired, callback_deadline=utcnow() - timedelta(seconds=1))
    _, state = run_task("task_validate_awaiting_callbacks")
    assert state["timed_out"] == [str(expired)]
    assert row(database, expired).last_status == "failed"
    assert row(database, waiting).last_status == "awaiting_callback"


# --- task_clean_up_tasks ------------------------------------------------------------------------


def test_clean_up_deletes_only_old_completed_task_processes(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_settings, "TASK_LOG_RETENTION_DAYS", 3)
    old_done = [start_process("sweep_little_task") for _ in range(2)]
    recent_done = start_process("sweep_little_task")
    old_failed = start_process("sweep_failing_task")
    old_not_a_task = start_process("sweep_little_create")
    assert row(database, old_failed).last_status == "failed"
    four_days_ago = utcnow() - timedelta(days=4)
    for process_id in (*old_done, old_failed, old_not_a_task):
        set_column(database, process_id, last_modified_at=four_days_ago)

    cleanup, state = run_task("task_clean_up_tasks")

    assert state["deleted"] == 2
    with database.read() as s:
        left = set(s.execute(select(ProcessTable.process_id)).scalars())
        steps_left = s.execute(
            select(func.count()).select_from(ProcessStepTable).where(ProcessStepTable.process_id.in_(old_done))
        ).scalar_one()
    assert left == {recent_done, old_failed, old_not_a_task, cleanup}
    assert steps_left == 0
    monkeypatch.setattr(app_settings, "TASK_LOG_RETENTION_DAYS", 10)
    set_column(database, recent_done, last_modified_at=four_days_ago)
    with pytest.raises(StartPredicateError, match="Nothing to do"):
        start_process("task_clean_up_tasks")


# --- task_validate_products ----------------------------------------------------------------------


def add_rows(database: Database, workflows: dict[str, str], products: dict[str, str]) -> None:
    with database.write() as s:
        for name, target in workflows.items():
            s.add(WorkflowTable(name=name, target=target, description=name, is_task=target == "SYSTEM"))
        for name, status in products.items():
            s.add(ProductTable(name=name, description=name, product_type="Test", tag="T", status=status))


class FiberModel(SubscriptionModel, is_base=True):
    """A product without blocks or fixed inputs: only its presence in the catalogue is checked."""


def test_catalogue_check_reports_each_mismatch(database: Database) -> None:
    add_rows(
        database,
        {"wf_ok": "CREATE", "wf_retargeted": "CREATE", "wf_gone": "MODIFY"},
        {"Fiber": "active", "Copper": "active", "Telegraph": "end of life"},
    )
    code = {
        "wf_ok": Workflow("wf_ok", "", init >> done, target=Target.CREATE),
        "wf_retargeted": Workflow("wf_retargeted", "", init >> done, target=Target.MODIFY),
        "wf_new": Workflow("wf_new", "", init >> done, target=Target.CREATE),
        "wf_broken": ImportError("No module named 'lost'"),
        # Every runtime registers the built-in modify_note and tasks, whose rows migrations 0006 and 0008
        # made: no mismatch.
        "modify_note": modify_note,
        **{name: getattr(tasks, name) for name in tasks.BUILT_IN_TASKS},
    }
    with database.read() as s:
        check = check_catalogue(s, code, {"Fiber": FiberModel, "Ghost": FiberModel})
    assert check.problems == [
        "Workflow 'wf_broken' is registered but cannot be loaded: No module named 'lost'",
        "Workflow 'wf_retargeted' has target CREATE in the database but MODIFY in the code",
        "Workflow 'wf_gone' is in the database but not registered in the code",
        "Product 'Copper' has no domain model registered in the code",
        "product 'Ghost': has a domain model but is not in the catalogue",
    ]
    assert check.notes == ["Workflow 'wf_new' has no workflows row yet; it gets one when it first runs"]


def test_validate_products_ends_inconsistent_when_the_catalogue_does_not_match(database: Database) -> None:
    add_rows(database, {"workflow_nobody_wrote": "CREATE"}, {})
    process_id = start_process("task_validate_products")
    p = row(database, process_id)
    assert p.last_status == "inconsistent_data"
    assert p.failed_reason is not None and "does not match the code" in p.failed_reason
    with database.read() as s:
        failed_step = s.execute(
            select(ProcessStepTable.state).where(ProcessStepTable.process_id == process_id, ProcessStepTable.seq == 2)
        ).scalar_one()
    assert "Workflow 'workflow_nobody_wrote' is in the database but not registered in the code" in str(failed_step)


def test_the_built_in_tasks_are_described_in_words_not_setting_names(database: Database) -> None:
    """Their descriptions are task titles in the UIs: the code's and the rows' (migration 0008) alike."""
    setting_names = set(type(app_settings).model_fields)
    with database.read() as session:
        rows = dict(
            session.execute(
                select(WorkflowTable.name, WorkflowTable.description).where(
                    WorkflowTable.name.in_(tasks.BUILT_IN_TASKS)
                )
            ).all()
        )
    code = {name: getattr(tasks, name).description for name in tasks.BUILT_IN_TASKS}
    assert rows == code
    named = {name: text for name, text in code.items() if setting_names & set(text.split())}
    assert named == {}
