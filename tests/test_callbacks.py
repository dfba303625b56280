"""Callback steps on both databases: an external system resumes a process through a single-use route."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from tests.process_support import history, input_rows, process_row

from orchestrion.db import Database
from orchestrion.db.models import ProcessTable
from orchestrion.errors import (
    EnginePausedError,
    InvalidCallbackTokenError,
    NotAwaitingCallbackError,
    ProcessNotFoundError,
    WorkflowChangedError,
)
from orchestrion.executors import set_executor
from orchestrion.executors.threadpool import ThreadPoolExecutor
from orchestrion.forms import SubmitFormPage
from orchestrion.runtime import current
from orchestrion.services.engine import pause_engine, unpause_engine
from orchestrion.services.processes import deliver_callback, start_process, wait_for_process
from orchestrion.testing import (
    WorkflowInstanceForTests,
    assert_awaiting_callback,
    assert_complete,
    extract_state,
    run_workflow,
    send_callback,
)
from orchestrion.types import FormGenerator, State
from orchestrion.workflow import StepList, Workflow, callback_step, done, init, inputstep, step
from orchestrion.workflows import unregister_workflow

calls: Counter[str] = Counter()
routes_seen: list[str] = []


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls.clear()
    routes_seen.clear()


@step("Send order")
def send_order(callback_route: str) -> State:
    calls["Send order"] += 1
    routes_seen.append(callback_route)
    return {"order_sent": True}


@step("Check delivery")
def check_delivery(callback_result: dict[str, Any]) -> State:
    calls["Check delivery"] += 1
    return {"delivered": callback_result["status"] == "delivered"}


@step("Check answer")
def check_answer(answer: list[int]) -> State:
    return {"answer_total": sum(answer)}


@inputstep("Approve")
def approve_form() -> FormGenerator:
    class ApproveForm(SubmitFormPage):
        approved: bool

    user_input = yield ApproveForm
    return user_input.model_dump()


def order_workflow() -> StepList:
    return init >> callback_step("Order", action_step=send_order, validate_step=check_delivery) >> done


def test_callback_step_awaits_and_resumes_with_the_posted_data(register: Callable[[str, StepList], Workflow]) -> None:
    register("cb_order", order_workflow())

    process_id = start_process("cb_order", [{}])

    p = process_row(process_id)
    assert p.last_status == "awaiting_callback"
    token = p.callback_token
    assert token
    route = f"/api/processes/{process_id}/callback/{token}"
    assert p.state["callback_route"] == route
    assert routes_seen == [route], "the action step was handed the route"
    assert history(process_id) == [("Start", "success"), ("Order", "awaiting_callback")]
    assert calls["Check delivery"] == 0

    with pytest.raises(InvalidCallbackTokenError):
        deliver_callback(process_id, "not-the-token", {"status": "delivered"})

    unchanged = process_row(process_id)
    assert (unchanged.last_status, unchanged.callback_token, unchanged.seq, unchanged.state) == (
        "awaiting_callback",
        token,
        p.seq,
        p.state,
    )
    assert input_rows(process_id) == [("initial_state", {})]

    deliver_callback(process_id, token, {"status": "delivered"})

    p = process_row(process_id)
    assert (p.last_status, p.callback_token) == ("completed", None)
    assert p.state["callback_result"] == {"status": "delivered"}
    assert p.state["delivered"] is True, "the validate step saw the posted data"
    assert calls == {"Send order": 1, "Check delivery": 1}
    assert history(process_id) == [("Start", "success"), ("Order", "success"), ("Done", "complete")]
    assert input_rows(process_id)[-1] == ("user_input", {"callback_result": {"status": "delivered"}})

    with pytest.raises(NotAwaitingCallbackError):
        deliver_callback(process_id, token, {"status": "delivered again"})
    assert process_row(process_id).state["callback_result"] == {"status": "delivered"}


def test_result_key_names_where_the_data_goes(register: Callable[[str, StepList], Workflow]) -> None:
    register(
        "cb_result_key",
        init >> callback_step("Ask", action_step=send_order, validate_step=check_answer, result_key="answer") >> done,
    )
    result, process, _ = run_workflow("cb_result_key", [{}])
    assert_awaiting_callback(result)

    result, step_log = send_callback(process, [1, 2, 3])

    assert_complete(result)
    state = extract_state(result)
    assert (state["answer"], state["answer_total"]) == ([1, 2, 3], 6)
    assert "callback_result" not in state
    assert [(e.name, e.status) for e in step_log] == [("Start", "success"), ("Ask", "success"), ("Done", "complete")]


def test_a_process_that_is_not_awaiting_refuses_callbacks(register: Callable[[str, StepList], Workflow]) -> None:
    register("cb_suspended", init >> approve_form >> done)
    register("cb_done", init >> done)
    suspended = start_process("cb_suspended", [{}])
    completed = start_process("cb_done", [{}])

    for process_id in (suspended, completed):
        before = process_row(process_id)
        with pytest.raises(NotAwaitingCallbackError):
            deliver_callback(process_id, "any-token", {"status": "delivered"})
        after = process_row(process_id)
        assert (after.last_status, after.seq) == (before.last_status, before.seq)

    with pytest.raises(ProcessNotFoundError):
        deliver_callback(uuid.uuid4(), "any-token", {})


def test_callbacks_wait_while_the_engine_is_paused(register: Callable[[str, StepList], Workflow]) -> None:
    register("cb_paused", order_workflow())
    process_id = start_process("cb_paused", [{}])
    token = process_row(process_id).callback_token
    assert token

    pause_engine()
    try:
        with pytest.raises(EnginePausedError):
            deliver_callback(process_id, token, {"status": "delivered"})
        p = process_row(process_id)
        assert (p.last_status, p.callback_token) == ("awaiting_callback", token)
    finally:
        unpause_engine()

    deliver_callback(process_id, token, {"status": "delivered"})
    assert process_row(process_id).last_status == "completed"


def test_a_callback_for_a_removed_callback_step_is_refused(register: Callable[[str, StepList], Workflow]) -> None:
    register("cb_changed", order_workflow())
    process_id = start_process("cb_changed", [{}])
    before = process_row(process_id)
    assert before.callback_token
    unregister_workflow("cb_changed")
    register("cb_changed", init >> check_answer >> done)

    with pytest.raises(WorkflowChangedError):
        deliver_callback(process_id, before.callback_token, {"status": "delivered"})

    after = process_row(process_id)
    assert (after.last_status, after.callback_token, after.seq) == (
        "awaiting_callback",
        before.callback_token,
        before.seq,
    )


ANSWERED_EARLY: dict[str, Any] = {}


@step("Send and get answered at once")
def send_answered_early(callback_route: str) -> State:
    """The external system calls back before this step has even returned."""
    _, _, process_id, _, token = callback_route.strip("/").split("/")
    thread = threading.Thread(target=deliver_callback, args=(uuid.UUID(process_id), token, {"fast": True}))
    thread.start()
    ANSWERED_EARLY["thread"] = thread
    time.sleep(0.3)
    return {}


@step("Read the early answer")
def read_early(callback_result: dict[str, Any]) -> State:
    return {"seen": callback_result}


def test_a_callback_arriving_before_the_await_step_is_not_lost(database: Database) -> None:
    wf = Workflow("early", "", init >> callback_step("Early", send_answered_early, read_early) >> done)
    previous = set_executor(ThreadPoolExecutor(current(), max_workers=2))
    try:
        with WorkflowInstanceForTests(wf, "early"):
            process_id = start_process("early", [{}])
            deadline = time.monotonic() + 20
            while wait_for_process(process_id, 1) != "completed" and time.monotonic() < deadline:
                time.sleep(0.05)  # awaiting_callback for a moment: the early answer is being delivered
            ANSWERED_EARLY.pop("thread").join(timeout=20)
            assert wait_for_process(process_id, 0) == "completed"
    finally:
        executor = set_executor(previous)
        if executor is not None:
            executor.shutdown(wait=True)
    with database.read() as session:
        p = session.get(ProcessTable, process_id)
        assert p is not None and p.state["seen"] == {"fast": True}
