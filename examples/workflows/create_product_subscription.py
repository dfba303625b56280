"""The workflow from the project's founding document: create a subscription on a product.

``init >> create_subscription >> done``, with an initial form asking for ``product`` and
``user_input``. The form's answers land in the state; the step reads them by name and adds
``subscription``, which is persisted with the process.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from orchestrion.forms import SubmitFormPage
from orchestrion.targets import Target
from orchestrion.types import FormGenerator, State, UUIDstr
from orchestrion.workflow import StepList, done, init, step, workflow


class CreateSubscriptionForm(SubmitFormPage):
    product: UUIDstr
    user_input: str


def initial_input_form_generator() -> FormGenerator:
    user_input = yield CreateSubscriptionForm
    return user_input.model_dump()


def build_subscription(product: UUIDstr, user_input: str) -> State:
    return {
        "subscription_id": str(uuid4()),
        "product": product,
        "description": user_input,
        "status": "initial",
        "created_at": datetime.now(UTC),
    }


@step("Create subscription")
def create_subscription(product: UUIDstr, user_input: str) -> State:
    subscription = build_subscription(product, user_input)
    return {"subscription": subscription}


@workflow(
    "Create product subscription",
    initial_input_form=initial_input_form_generator,
    target=Target.CREATE,
)
def create_product_subscription() -> StepList:
    return init >> create_subscription >> done
