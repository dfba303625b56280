"""The workflows of the children crash tests, shared by the test process and the worker subprocess it kills.

* ``crash_spawner``: ``Start children`` starts ``CHILDREN`` ``crash_child`` processes (numbers
  0, 1, ...), then ``Await children`` waits for them all.
* ``crash_branches``: ``parallel("Ports", Provision port A, Provision port B) >> Check ports``.
* ``crash_child``: one step, ``Child work``.

Every step records one row in the ``effects`` table through the step's own session (as
tests/crash_workflow.py does), so a row exists exactly when the step's transaction committed.

``CRASH_BLOCK`` (set only in the worker subprocess) names, comma-separated, where steps block
until the worker is killed, after writing ``$CRASH_SIGNAL_DIR/<point>-<process id>.json``:

* ``spawn``: ``Start children``, after starting its children and recording its effect;
* ``port-a``, ``port-b``: that branch's step, after recording its effect;
* ``odd-children``: ``Child work`` of the odd-numbered children, *before* recording their effect.
  SQLite has one writer at a time: a child blocked with a write open would hold up every other
  child and the parent, and the crash would not come while the parent waits.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.crash_workflow import record_effect, signal_and_block

from orchestrion.forms import FormPage
from orchestrion.types import State, UUIDstr
from orchestrion.workflow import StepList, await_children, done, init, parallel, start_child, step, workflow
from orchestrion.workflows import register_workflow

SPAWNER, BRANCHES, CHILD = "crash_spawner", "crash_branches", "crash_child"
CHILDREN = 4
BLOCK_ENV = "CRASH_BLOCK"
SIGNAL_DIR_ENV = "CRASH_SIGNAL_DIR"


def block_if_told(point: str, process_id: UUIDstr) -> None:
    if point in os.environ.get(BLOCK_ENV, "").split(","):
        signal_and_block(Path(os.environ[SIGNAL_DIR_ENV]) / f"{point}-{process_id}.json", process_id)


def _child_form() -> Any:
    class ChildForm(FormPage):
        number: int

    return ChildForm


@step("Child work")
def child_work(process_id: UUIDstr, number: int) -> State:
    if number % 2:
        block_if_told("odd-children", process_id)
    record_effect(f"child {number}", process_id)
    return {"doubled": 2 * number}


@workflow("Children crash test: a child", initial_input_form=_child_form)
def crash_child() -> StepList:
    return init >> child_work >> done


@step("Start children")
def start_children(process_id: UUIDstr) -> State:
    started = [str(start_child(CHILD, {"number": n})) for n in range(CHILDREN)]
    record_effect("spawn", process_id)
    block_if_told("spawn", process_id)
    return {"started": started}


@workflow("Children crash test: a parent that starts children and waits for them")
def crash_spawner() -> StepList:
    return init >> start_children >> await_children(keep=["doubled"]) >> done


@step("Provision port A")
def port_a(process_id: UUIDstr) -> State:
    record_effect("port a", process_id)
    block_if_told("port-a", process_id)
    return {"port_a": "a"}


@step("Provision port B")
def port_b(process_id: UUIDstr) -> State:
    record_effect("port b", process_id)
    block_if_told("port-b", process_id)
    return {"port_b": "b"}


@step("Check ports")
def check_ports(process_id: UUIDstr, port_a: str, port_b: str) -> State:
    record_effect("check", process_id)
    return {"ports": f"{port_a}+{port_b}"}


@workflow("Children crash test: two parallel branches")
def crash_branches() -> StepList:
    return init >> parallel("Ports", port_a, port_b) >> check_ports >> done


def register() -> None:
    """Register the workflows (again, if a test removed them)."""
    for wf, name in ((crash_child, CHILD), (crash_spawner, SPAWNER), (crash_branches, BRANCHES)):
        register_workflow(wf, name)


register()
