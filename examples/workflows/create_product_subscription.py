"""The workflow from the project's founding document: create a subscription on a product.

``init >> create_subscription >> done``, with an initial form asking for ``product`` (a product of
the catalogue) and ``user_input`` (the description). The step builds the product's domain model
and returns it: the subscription row is saved in the step's transaction, in status ``initial``.
"""

from __future__ import annotations

from pydantic import field_validator

from orchestrion.db import get_database
from orchestrion.db.domain_models import ProductTable
from orchestrion.domain import SubscriptionModel
from orchestrion.forms import SubmitFormPage
from orchestrion.targets import Target
from orchestrion.types import FormGenerator, State, UUIDstr
from orchestrion.workflow import StepList, done, init, step, workflow

CUSTOMER = "demo-customer"


class CreateSubscriptionForm(SubmitFormPage):
    product: UUIDstr
    user_input: str

    @field_validator("product")
    @classmethod
    def in_the_catalogue(cls, product: UUIDstr) -> UUIDstr:
        """Refused in the form, before a process starts, rather than failing its step."""
        with get_database().read() as session:
            if session.get(ProductTable, product) is None:
                raise ValueError("Not a product of the catalogue (GET /api/products/ lists them)")
        return product


def initial_input_form_generator() -> FormGenerator:
    user_input = yield CreateSubscriptionForm
    return user_input.model_dump()


@step("Create subscription")
def create_subscription(product: UUIDstr, user_input: str) -> State:
    subscription = SubscriptionModel.from_product_id(product, CUSTOMER, description=user_input)
    return {"subscription": subscription, "subscription_id": subscription.subscription_id}


@workflow(
    "Create product subscription",
    initial_input_form=initial_input_form_generator,
    target=Target.CREATE,
)
def create_product_subscription() -> StepList:
    return init >> create_subscription >> done
