"""``modify_note``: the built-in workflow orchestrator-ui starts to edit a subscription's note.

Its pages are the subscription (``[{subscription_id}, {note}]``, as the UI sends them). It is a
MODIFY workflow that does not take the subscription's lock: a note is a remark about the
subscription, not part of what other processes change, so it may be edited while another process
holds the subscription (``WF_USABLE_WHILE_OUT_OF_SYNC``). For the same reason the subscription's
``version`` is left alone: that other process's save is not refused as stale because of a note.
Every runtime registers it; migration 0006 and every catalogue load link it to every product
(``DEFAULT_PRODUCT_WORKFLOWS``).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field

from orchestrion.db import get_database
from orchestrion.db.domain_models import SubscriptionTable
from orchestrion.forms import SubmitFormPage
from orchestrion.forms.validators import LongText
from orchestrion.services import subscriptions
from orchestrion.services.processes import NOTE_LENGTH
from orchestrion.targets import Target
from orchestrion.types import FormGenerator, State, UUIDstr
from orchestrion.workflow import StepList, done, init, step, workflow
from orchestrion.workflows.steps import store_process_subscription
from orchestrion.workflows.utils import wrap_modify_initial_input_form


def note_form(subscription_id: UUIDstr) -> FormGenerator:
    """The note, filled in with the one the subscription has now."""
    with get_database().read() as session:
        subscription = session.get(SubscriptionTable, UUID(str(subscription_id)))
        old_note = subscription.note if subscription is not None else None

    class ModifyNoteForm(SubmitFormPage):
        note: Annotated[LongText, Field(max_length=NOTE_LENGTH)] = old_note or ""

    given = yield ModifyNoteForm
    return {"old_note": old_note, "note": given.note or None}


@step("Store note")
def store_note(subscription_id: UUIDstr, note: str | None) -> State:
    """Write the note in this step's transaction (no lock, no new version: see the module's docstring)."""
    subscriptions.update_subscription(subscription_id, note=note)
    return {"note": note}


@workflow("Modify note", initial_input_form=wrap_modify_initial_input_form(note_form), target=Target.MODIFY)
def modify_note() -> StepList:
    return init >> store_process_subscription() >> store_note >> done
