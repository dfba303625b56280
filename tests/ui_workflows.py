"""Workflows for the browser tests (``tests/test_ui.py``), registered when the server imports this module.

* ``ui_flaky``: its step fails on the first attempt of each process and succeeds when retried.
* ``ui_approval``: suspends at an input step whose form has a choice, a long text and a bounded number.
* ``ui_parallel``: provisions both ends of a link in parallel branches, then joins them.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from pydantic import Field

from orchestrion.forms import SubmitFormPage
from orchestrion.forms.validators import Choice, Divider, Label, LongText
from orchestrion.targets import Target
from orchestrion.types import FormGenerator, State, UUIDstr
from orchestrion.utils.errors import ProcessFailureError
from orchestrion.workflow import StepList, done, init, inputstep, parallel, step, workflow
from orchestrion.workflows import register_workflow

_attempted: set[str] = set()
_lock = threading.Lock()


def _ticket_form() -> FormGenerator:
    class TicketPage(SubmitFormPage):
        ticket: str

    page = yield TicketPage
    return page.model_dump()


@step("Call the flaky inventory")
def call_inventory(process_id: UUIDstr, ticket: str) -> State:
    with _lock:
        first = str(process_id) not in _attempted
        _attempted.add(str(process_id))
    if first:
        raise ProcessFailureError(f"Inventory timed out for ticket {ticket}", {"attempt": 1})
    return {"inventory": "answered"}


@workflow("Flaky inventory call (UI test)", initial_input_form=_ticket_form, target=Target.CREATE)
def ui_flaky() -> StepList:
    return init >> call_inventory >> done


@step("Prepare the change")
def prepare(ticket: str) -> State:
    return {"prepared": f"change for {ticket}"}


@inputstep("Approve the change")
def approve() -> Any:
    priority_choice: Any = Choice.__call__("Priority", {"low": ("low", "Low"), "high": ("high", "High, page on-call")})

    class ApprovalPage(SubmitFormPage):
        intro: Label = "Check the prepared change before approving it."
        divider: Divider
        priority: priority_choice
        comment: LongText = ""
        window_hours: Annotated[int, Field(ge=1, le=24)] = 4
        approved: bool = False

    return ApprovalPage


@step("Carry out the change")
def carry_out(approved: bool, window_hours: int) -> State:
    return {"carried_out": approved, "window": window_hours}


@workflow("Approved change (UI test)", initial_input_form=_ticket_form, target=Target.CREATE)
def ui_approval() -> StepList:
    return init >> prepare >> approve >> carry_out >> done


@step("Provision the A end")
def provision_a(ticket: str) -> State:
    return {"a_end": f"A for {ticket}"}


@step("Provision the Z end")
def provision_z(ticket: str) -> State:
    return {"z_end": f"Z for {ticket}"}


@workflow("Both ends in parallel (UI test)", initial_input_form=_ticket_form, target=Target.CREATE)
def ui_parallel() -> StepList:
    return init >> parallel("Both ends", provision_a, provision_z) >> done


register_workflow(ui_flaky, "ui_flaky")
register_workflow(ui_parallel, "ui_parallel")
register_workflow(ui_approval, "ui_approval")
