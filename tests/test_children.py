"""Child processes and parallel branches on both databases: created with the parent's step, awaited without a worker.

Processes run inline here (the test runtime's executor), so a child started by a step runs when
that step committed, and the parent goes on in the transaction in which its last awaited child ended.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.process_support import history, process_row, step_rows

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.db.models import ProcessTable
from orchestrion.engine.status import ProcessStatus
from orchestrion.engine.workflow import Workflow, WorkflowDefinitionError, encode_branch
from orchestrion.executors import set_executor
from orchestrion.executors.execution import watch_process
from orchestrion.executors.threadpool import ThreadPoolExecutor
from orchestrion.forms import FormPage
from orchestrion.runtime import current
from orchestrion.services.processes import abort_process, resume_process, start_process, wait_for_process
from orchestrion.settings import AppSettings
from orchestrion.targets import Target
from orchestrion.types import State
from orchestrion.workflow import await_children, done, init, inputstep, parallel, start_child, step

Register = Callable[..., Workflow]
attempts: dict[str, int] = {}


@pytest.fixture(autouse=True)
def _fresh_attempts() -> Iterator[None]:
    attempts.clear()
    yield
    gate.set()  # a failed test leaves no child blocked at the gate (it would hold up the executor's shutdown)


def _children_of(database: Database, parent: uuid.UUID) -> list[ProcessTable]:
    with database.read() as session:
        query = select(ProcessTable).where(ProcessTable.parent_process_id == parent)
        return list(session.execute(query.order_by(ProcessTable.started_at)).scalars())


@step("Double")
def double(number: int) -> State:
    return {"doubled": number * 2}


@step("Fail until told")
def fail_until_told(number: int) -> State:
    attempts[f"child {number}"] = attempts.get(f"child {number}", 0) + 1
    if attempts.get("fail") == number:
        raise ValueError(f"child {number} failed")
    return {"doubled": number * 2}


def _number_form() -> Any:
    class Form(FormPage):
        number: int

    return Form


@pytest.fixture
def child_workflows(register: Register) -> None:
    register("double_number", init >> double >> done, target=Target.SYSTEM, form=_number_form)
    register("maybe_fail", init >> fail_until_told >> done, target=Target.SYSTEM, form=_number_form)


@step("Start three children")
def start_three(child: str) -> State:
    return {"started": [str(start_child(child, {"number": n})) for n in (1, 2, 3)]}


def _parent(register: Register, name: str, *await_args: Any, **await_kwargs: Any) -> None:
    register(name, init >> start_three >> await_children(*await_args, **await_kwargs) >> done, target=Target.SYSTEM)


def _input(workflow_key: str) -> Callable[[], Any]:
    def form() -> Any:
        class Form(FormPage):
            child: str = workflow_key

        return Form

    return form


def test_a_parent_waits_for_its_children_without_a_worker_and_gets_their_results(
    database: Database, register: Register, child_workflows: None
) -> None:
    register(
        "parent_all",
        init >> start_three >> await_children(result_key="results", keep=["doubled"]) >> done,
        target=Target.SYSTEM,
        form=_input("double_number"),
    )

    parent = start_process("parent_all")

    row = process_row(parent)
    assert row.last_status == ProcessStatus.COMPLETED
    kids = _children_of(database, parent)
    assert [k.last_status for k in kids] == [ProcessStatus.COMPLETED] * 3
    assert {k.child_group for k in kids} == {"children"}
    assert sorted(r["state"]["doubled"] for r in row.state["results"]) == [2, 4, 6]
    assert sorted(r["process_id"] for r in row.state["results"]) == sorted(row.state["started"])
    assert history(parent)[-2:] == [("Await children", "success"), ("Done", "complete")]


@step("Start a child, then fail")
def start_then_fail() -> State:
    start_child("double_number", {"number": 5})
    raise RuntimeError("the step failed after starting its child")


def test_a_child_exists_only_if_the_step_that_started_it_committed(
    database: Database, register: Register, child_workflows: None
) -> None:
    register("parent_rolled_back", init >> start_then_fail >> done, target=Target.SYSTEM)

    parent = start_process("parent_rolled_back")

    assert process_row(parent).last_status == ProcessStatus.FAILED
    assert _children_of(database, parent) == []


def test_a_child_whose_form_refuses_its_input_fails_the_step_and_nothing_is_started(
    database: Database, register: Register, child_workflows: None
) -> None:
    @step("Start a bad child")
    def start_bad() -> State:
        start_child("double_number", {"number": "not a number"})
        return {}

    register("parent_bad_input", init >> start_bad >> done, target=Target.SYSTEM)

    parent = start_process("parent_bad_input")

    row = process_row(parent)
    assert row.last_status == ProcessStatus.FAILED
    assert "number" in (row.failed_reason or "")
    assert _children_of(database, parent) == []


def test_fail_fast_fails_the_parent_and_retrying_the_child_lets_it_go_on(
    database: Database, register: Register, child_workflows: None
) -> None:
    attempts["fail"] = 2
    register(
        "parent_fail_fast",
        init >> start_three >> await_children(fail_fast=True) >> done,
        target=Target.SYSTEM,
        form=_input("maybe_fail"),
    )

    parent = start_process("parent_fail_fast")

    row = process_row(parent)
    assert row.last_status == ProcessStatus.FAILED
    assert "maybe_fail (failed: child 2 failed)" in (row.failed_reason or "")
    failed = [k for k in _children_of(database, parent) if k.last_status == ProcessStatus.FAILED]
    assert len(failed) == 1

    attempts["fail"] = 0
    resume_process(failed[0].process_id)

    assert process_row(failed[0].process_id).last_status == ProcessStatus.COMPLETED
    assert process_row(parent).last_status == ProcessStatus.COMPLETED
    assert len(process_row(parent).state["children"]) == 3


def test_retrying_the_parent_retries_only_its_failed_children(
    database: Database, register: Register, child_workflows: None
) -> None:
    attempts["fail"] = 3
    register(
        "parent_collect",
        init >> start_three >> await_children(fail_fast=False) >> done,
        target=Target.SYSTEM,
        form=_input("maybe_fail"),
    )
    parent = start_process("parent_collect")
    assert process_row(parent).last_status == ProcessStatus.FAILED
    assert attempts == {"fail": 3, "child 1": 1, "child 2": 1, "child 3": 1}

    attempts["fail"] = 0
    resume_process(parent)

    assert process_row(parent).last_status == ProcessStatus.COMPLETED
    assert attempts == {"fail": 0, "child 1": 1, "child 2": 1, "child 3": 2}


def test_the_first_n_children_to_complete_let_the_parent_go_on(
    database: Database, register: Register, child_workflows: None
) -> None:
    attempts["fail"] = 1
    register(
        "parent_first_two",
        init >> start_three >> await_children(count=2, fail_fast=False) >> done,
        target=Target.SYSTEM,
        form=_input("maybe_fail"),
    )

    parent = start_process("parent_first_two")

    row = process_row(parent)
    assert row.last_status == ProcessStatus.COMPLETED
    assert sorted(r["state"]["doubled"] for r in row.state["children"]) == [4, 6]  # the completed, not the failed


def test_aborting_a_waiting_parent_aborts_its_children(
    database: Database, register: Register, child_workflows: None
) -> None:
    @inputstep("Approve", assignee="SYSTEM")
    def approve() -> Any:
        class Form(FormPage):
            ok: bool = True

        return Form

    register("suspended_child", init >> approve >> done, target=Target.SYSTEM, form=_number_form)
    register(
        "parent_to_abort",
        init >> start_three >> await_children() >> done,
        target=Target.SYSTEM,
        form=_input("suspended_child"),
    )
    parent = start_process("parent_to_abort")
    assert process_row(parent).last_status == ProcessStatus.AWAITING_CHILDREN
    assert {k.last_status for k in _children_of(database, parent)} == {ProcessStatus.SUSPENDED}

    assert abort_process(parent, user="alice") == ProcessStatus.ABORTED

    assert {k.last_status for k in _children_of(database, parent)} == {ProcessStatus.ABORTED}
    assert process_row(parent).last_status == ProcessStatus.ABORTED


# --- parallel branches -----------------------------------------------------------------------


@step("Provision port A")
def port_a(name: str) -> State:
    attempts["port a"] = attempts.get("port a", 0) + 1
    return {"port_a": f"{name}-a"}


@step("Provision port B")
def port_b(name: str) -> State:
    attempts["port b"] = attempts.get("port b", 0) + 1
    if attempts.get("fail") == "b":
        raise ValueError("port B is busy")
    return {"port_b": f"{name}-b"}


@step("Check both")
def check_both(port_a: str, port_b: str) -> State:
    return {"summary": f"{port_a}+{port_b}"}


@step("Name it")
def name_it() -> State:
    return {"name": "circuit"}


def test_parallel_branches_run_as_child_processes_and_their_changes_are_merged(
    database: Database, register: Register
) -> None:
    register("provision_both", init >> name_it >> parallel("Ports", port_a, port_b) >> check_both >> done)

    parent = start_process("provision_both")

    row = process_row(parent)
    assert row.last_status == ProcessStatus.COMPLETED, row.failed_reason
    assert row.state["summary"] == "circuit-a+circuit-b"
    branches = _children_of(database, parent)
    assert sorted(b.branch or "" for b in branches) == sorted(
        ['["Ports", "Provision port A"]', '["Ports", "Provision port B"]']
    )
    assert all(b.workflow.name == "provision_both" for b in branches)
    assert {tuple(history(b.process_id)) for b in branches} == {
        (("Start", "success"), ("Provision port A", "success"), ("Done", "complete")),
        (("Start", "success"), ("Provision port B", "success"), ("Done", "complete")),
    }


def test_a_failed_branch_fails_the_parent_and_a_retry_reruns_only_that_branch(
    database: Database, register: Register
) -> None:
    attempts["fail"] = "b"
    register("provision_retry", init >> name_it >> parallel("Ports", port_a, port_b) >> check_both >> done)
    parent = start_process("provision_retry")
    row = process_row(parent)
    assert row.last_status == ProcessStatus.FAILED
    assert "Provision port B (failed: port B is busy)" in (row.failed_reason or "")

    attempts["fail"] = None
    resume_process(parent)

    assert process_row(parent).last_status == ProcessStatus.COMPLETED
    assert attempts["port a"] == 1 and attempts["port b"] == 2


@step("Set colour red")
def set_red(colour: str = "") -> State:
    return {"colour": colour + "red"}


@step("Set colour blue")
def set_blue(colour: str = "") -> State:
    return {"colour": colour + "blue"}


def test_two_branches_that_visibly_return_the_same_key_are_refused_at_definition() -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"'Set colour red'.*'Set colour blue'.*'colour'"):
        parallel("Colours", set_red, set_blue)


@step("Computed colour red")
def computed_red() -> State:
    result = {"colour": "red"}
    return result


@step("Computed colour blue")
def computed_blue() -> State:
    result = {"colour": "blue"}
    return result


def test_two_branches_that_set_one_key_to_different_values_fail_the_join_naming_both(
    database: Database, register: Register
) -> None:
    register("colours", init >> parallel("Colours", computed_red, computed_blue) >> done)

    parent = start_process("colours")

    row = process_row(parent)
    assert row.last_status == ProcessStatus.FAILED
    assert "'Computed colour red' and 'Computed colour blue'" in (row.failed_reason or "")
    assert "'colour'" in (row.failed_reason or "")


def test_a_branch_may_fork_again(database: Database, register: Register) -> None:
    inner = parallel("Inner", port_a, port_b)
    register("nested", init >> name_it >> parallel("Outer", inner >> check_both, set_red) >> done)

    parent = start_process("nested")

    row = process_row(parent)
    assert row.last_status == ProcessStatus.COMPLETED, row.failed_reason
    assert row.state["summary"] == "circuit-a+circuit-b"
    assert row.state["colour"] == "red"
    (outer_branch,) = [b for b in _children_of(database, parent) if "Inner" in (b.branch or "")]
    grandchildren = _children_of(database, outer_branch.process_id)
    assert len(grandchildren) == 2
    assert all(g.branch and g.branch.startswith('["Outer", "Inner"') for g in grandchildren)


gate = threading.Event()


@step("Pass the gate")
def pass_the_gate(number: int) -> State:
    assert gate.wait(30), "the test never opened the gate"
    return {"doubled": number * 2}


@step("Start many children")
def start_many() -> State:
    return {"started": [str(start_child("gated_double", {"number": n})) for n in range(24)]}


def _wait_until_ended(process_id: uuid.UUID, timeout: float = 60) -> ProcessStatus:
    """Wait while the process runs or waits for its children (each wait ends at the next stop)."""
    deadline = time.monotonic() + timeout
    while True:
        status = wait_for_process(process_id, timeout=max(deadline - time.monotonic(), 0))
        if status != ProcessStatus.AWAITING_CHILDREN or time.monotonic() >= deadline:
            return status
        with watch_process(process_id) as stopped:
            if process_row(process_id).last_status == ProcessStatus.AWAITING_CHILDREN:
                stopped.wait(0.05)


def test_on_a_threadpool_the_parent_waits_without_a_worker_and_its_last_child_wakes_it(
    database: Database, register: Register, child_workflows: None
) -> None:
    gate.clear()
    register("gated_double", init >> pass_the_gate >> done, target=Target.SYSTEM, form=_number_form)
    register("parent_many", init >> start_many >> await_children() >> done, target=Target.SYSTEM)
    set_executor(ThreadPoolExecutor(current(), max_workers=3))  # the runtime shuts it down

    parent = start_process("parent_many")
    assert wait_for_process(parent, timeout=30) == ProcessStatus.AWAITING_CHILDREN  # its worker is free again
    gate.set()

    assert _wait_until_ended(parent) == ProcessStatus.COMPLETED
    assert len(process_row(parent).state["children"]) == 24
    assert history(parent)[-3:] == [
        ("Await children", "awaiting_children"),
        ("Await children", "success"),
        ("Done", "complete"),
    ]
    woken = step_rows(parent)[-2]
    assert (woken.created_by, woken.action) == ("SYSTEM", "children")


def test_on_a_threadpool_parallel_branches_join(database: Database, register: Register) -> None:
    register("provision_pool", init >> name_it >> parallel("Ports", port_a, port_b) >> check_both >> done)
    set_executor(ThreadPoolExecutor(current(), max_workers=2))

    parent = start_process("provision_pool")

    assert _wait_until_ended(parent) == ProcessStatus.COMPLETED
    assert process_row(parent).state["summary"] == "circuit-a+circuit-b"


def test_the_api_shows_a_parents_children_and_branch_steps_and_lists_top_level_processes(
    database: Database, register: Register
) -> None:
    register("provision_shown", init >> name_it >> parallel("Ports", port_a, port_b) >> check_both >> done)
    parent = start_process("provision_shown")
    client = TestClient(OrchestratorCore(database=database))

    detail = client.get(f"/api/processes/{parent}").json()
    assert detail["parent_process_id"] is None
    assert sorted(c["branch"][-1] for c in detail["children"]) == ["Provision port A", "Provision port B"]
    assert {(s["branch"][-1], s["name"]) for s in detail["branch_steps"]} >= {
        ("Provision port A", "Provision port A"),
        ("Provision port B", "Provision port B"),
    }
    child = detail["children"][0]["process_id"]
    assert client.get(f"/api/processes/{child}").json()["parent_process_id"] == str(parent)
    top = client.get("/api/processes/", params={"filter": "top_level,true"}).json()
    assert [p["process_id"] for p in top] == [str(parent)]
    kids = client.get("/api/processes/", params={"filter": f"parent_process_id,{parent}"}).json()
    assert len(kids) == 2


def test_graphql_shows_a_processs_children_and_a_childs_parent(database: Database, register: Register) -> None:
    register("provision_graphql", init >> name_it >> parallel("Ports", port_a, port_b) >> check_both >> done)
    parent = start_process("provision_graphql")
    query = """query($filter: [GraphqlFilter!]) {
      processes(filterBy: $filter) {
        page { processId parentProcessId branch children { processId branch lastStatus } }
      }
    }"""
    variables = {"filter": [{"field": "processId", "value": str(parent)}]}

    with TestClient(OrchestratorCore(AppSettings(SCHEDULER_ENABLED=False), database=database)) as client:
        found = client.post("/api/graphql", json={"query": query, "variables": variables}).json()

    assert "errors" not in found, found
    (shown,) = found["data"]["processes"]["page"]
    assert shown["parentProcessId"] is None
    assert sorted(c["branch"][-1] for c in shown["children"]) == ["Provision port A", "Provision port B"]
    assert {c["lastStatus"] for c in shown["children"]} == {"COMPLETED"}


def test_a_branch_process_finds_its_steps_by_its_path_and_none_once_the_branch_is_gone() -> None:
    inner = parallel("Inner", port_a, port_b)
    wf = Workflow("paths", "", init >> parallel("Outer", inner >> check_both, set_red) >> done)

    nested = wf.branch_of(encode_branch(["Outer", "Inner", "Inner", "Provision port B"]))

    assert wf.branch_of(None) is wf
    assert nested is not None and [s.name for s in nested.steps] == ["Start", "Provision port B", "Done"]
    assert wf.branch_of(encode_branch(["Outer", "No such branch"])) is None
    assert wf.branch_of(encode_branch(["No such fork", "Inner"])) is None
    assert wf.branch_of(encode_branch(["Outer"])) is None
