"""Workflow decorators per target: they wrap the author's steps with linking, locking and status steps.

``create_workflow`` asks for the product first, ``modify_workflow`` & co. for the subscription; the
start form refuses a subscription the workflow may not run on, saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from orchestrion.db import get_database
from orchestrion.db.sessions import reading
from orchestrion.engine.forms import state_form
from orchestrion.engine.steps import Step, StepList, done, init, step
from orchestrion.engine.workflow import RunPredicate, Workflow, make_workflow
from orchestrion.errors import InvalidInputError
from orchestrion.forms import FormPage
from orchestrion.forms.validators import Choice
from orchestrion.services import subscriptions
from orchestrion.storage.workflow_rows import products_of_workflow
from orchestrion.targets import Target
from orchestrion.types import FormGenerator, State, SubscriptionLifecycle
from orchestrion.workflows.steps import resync, set_status, store_process_subscription, unsync, unsync_unchecked

FormFunc = Callable[..., Any]


class NoProductError(InvalidInputError, LookupError):
    """A create workflow with no product linked to it cannot be started (load the catalogue)."""


def _products_of(workflow_name: str) -> list[dict[str, Any]]:
    with reading(get_database()) as session:
        return products_of_workflow(session, workflow_name)


def _user_form(form: FormFunc | None, name: str, state: State) -> FormGenerator:
    if form is None:
        return {}
    return (yield from state_form(form, f"Initial form of {name!r}")(state))


def wrap_create_initial_input_form(initial_input_form: FormFunc | None) -> Callable[[State], FormGenerator]:
    """Page 1 chooses one of the products linked to the workflow; then the author's form, which sees the product."""

    def create_initial_input_form_generator(state: State) -> FormGenerator:
        name = state["workflow_name"]
        products = _products_of(name)
        if not products:
            raise NoProductError(f"No product is linked to workflow {name!r}; link one in the catalogue")
        # As orchestrator-core serves it: the choices are product ids labelled by product name, and the
        # field's format tells orchestrator-ui to draw its product picker.
        options = {str(p["product_id"]): (str(p["product_id"]), p["name"]) for p in products}
        product_choice: Any = Choice.__call__("ProductChoice", options)
        product_select: Any = Annotated[product_choice, Field(json_schema_extra={"format": "productId"})]

        class NewProductPage(FormPage):
            product: product_select

        page = yield NewProductPage
        product = next(p for p in products if str(p["product_id"]) == page.product.value)
        chosen = {"product": str(product["product_id"]), "product_name": product["name"]}
        user_input = yield from _user_form(initial_input_form, name, {**state, **chosen})
        return {**chosen, **user_input}

    return create_initial_input_form_generator


def _refusal(workflow_name: str, subscription_id: UUID) -> str | None:
    with reading(get_database()) as session:
        usable = subscriptions.subscription_workflows(session, subscription_id)
    if usable is None:
        return "Subscription not found"
    for workflows in usable.values():
        for wf in workflows:
            if wf.name == workflow_name:
                return f"This workflow cannot be started: {subscriptions.REASON_TEXT[wf.reason]}" if wf.reason else None
    return "This workflow cannot be started: it is not available for this subscription's product"


@cache
def _modify_subscription_page(name: str) -> type[FormPage]:
    """Page 1 of workflow ``name``'s modify form: made once per workflow (a pydantic model is costly to build)."""

    class ModifySubscriptionPage(FormPage):
        subscription_id: UUID
        version: int | None = None

        @field_validator("subscription_id")
        @classmethod
        def usable(cls, value: UUID) -> UUID:
            if (reason := _refusal(name, value)) is not None:
                raise PydanticCustomError("subscription_not_usable", reason)
            return value

        @model_validator(mode="after")
        def current(self) -> ModifySubscriptionPage:
            if self.version is not None:
                with reading(get_database()) as session:
                    stored = subscriptions.stored(session, self.subscription_id)
                if stored is not None and stored.version != self.version:
                    raise PydanticCustomError(
                        "stale_data",
                        "The subscription changed since you loaded it (version {stored} now, you saw {seen})",
                        {"stored": stored.version, "seen": self.version},
                    )
            return self

    return ModifySubscriptionPage


def wrap_modify_initial_input_form(initial_input_form: FormFunc | None) -> Callable[[State], FormGenerator]:
    """Page 1 takes ``subscription_id`` (and optionally the ``version`` the client saw); then the author's form."""

    def modify_initial_input_form_generator(state: State) -> FormGenerator:
        name = state["workflow_name"]
        page: Any = yield _modify_subscription_page(name)
        with reading(get_database()) as session:
            subscription = subscriptions.stored(session, page.subscription_id)
            assert subscription is not None
            found = {
                "subscription_id": str(subscription.subscription_id),
                "product": str(subscription.product_id),
                "customer_id": subscription.customer_id,
                "version": subscription.version,
                # what the start reserves the subscription against: a change after this refuses the start
                subscriptions.FORM_VERSIONS_KEY: {str(subscription.subscription_id): subscription.version},
            }
        user_input = yield from _user_form(initial_input_form, name, {**state, **found})
        return {**found, **user_input}

    return modify_initial_input_form_generator


def _steps(steps: StepList | None) -> StepList:
    return steps if steps is not None else StepList()


def _on_subscription(lock: Step, steps: StepList, before_unlock: StepList) -> StepList:
    """Link the process to the subscription, lock it, run ``steps``, then unlock it."""
    return init >> store_process_subscription() >> lock >> steps >> before_unlock >> resync >> done


def _decorator(
    description: str,
    target: Target,
    form: Callable[[State], FormGenerator] | FormFunc | None,
    build: Callable[[StepList], StepList],
    authorize_callback: Callable[..., Any] | None,
    retry_auth_callback: Callable[..., Any] | None,
    run_predicate: RunPredicate | None,
) -> Callable[[Callable[[], StepList]], Workflow]:
    def decorator(f: Callable[[], StepList]) -> Workflow:
        return make_workflow(
            f, description, form, target, build(f()), authorize_callback, retry_auth_callback, run_predicate
        )

    return decorator


# ``description`` is optional on every decorator, as in orchestrator-core 5: descriptions live in
# the database (the catalogue or the API sets them); the code's is the fallback.


def create_workflow(
    description: str = "",
    initial_input_form: FormFunc | None = None,
    status: SubscriptionLifecycle = SubscriptionLifecycle.ACTIVE,
    additional_steps: StepList | None = None,
    authorize_callback: Callable[..., Any] | None = None,
    retry_auth_callback: Callable[..., Any] | None = None,
    run_predicate: RunPredicate | None = None,
) -> Callable[[Callable[[], StepList]], Workflow]:
    """A CREATE workflow: ``init >> <yours> >> set_status(status) >> resync >> done``; page 1 picks the product."""
    return _decorator(
        description,
        Target.CREATE,
        wrap_create_initial_input_form(initial_input_form),
        lambda steps: init >> steps >> _steps(additional_steps) >> set_status(status) >> resync >> done,
        authorize_callback,
        retry_auth_callback,
        run_predicate,
    )


def modify_workflow(
    description: str = "",
    initial_input_form: FormFunc | None = None,
    additional_steps: StepList | None = None,
    authorize_callback: Callable[..., Any] | None = None,
    retry_auth_callback: Callable[..., Any] | None = None,
    run_predicate: RunPredicate | None = None,
) -> Callable[[Callable[[], StepList]], Workflow]:
    """A MODIFY workflow: link, lock, your steps, unlock; page 1 picks an active, in-sync subscription."""
    return _decorator(
        description,
        Target.MODIFY,
        wrap_modify_initial_input_form(initial_input_form),
        lambda steps: _on_subscription(unsync, steps, _steps(additional_steps)),
        authorize_callback,
        retry_auth_callback,
        run_predicate,
    )


def terminate_workflow(
    description: str = "",
    initial_input_form: FormFunc | None = None,
    additional_steps: StepList | None = None,
    authorize_callback: Callable[..., Any] | None = None,
    retry_auth_callback: Callable[..., Any] | None = None,
    run_predicate: RunPredicate | None = None,
) -> Callable[[Callable[[], StepList]], Workflow]:
    """A TERMINATE workflow: like modify, then the subscription is set to terminated."""
    terminated = set_status(SubscriptionLifecycle.TERMINATED)
    return _decorator(
        description,
        Target.TERMINATE,
        wrap_modify_initial_input_form(initial_input_form),
        lambda steps: _on_subscription(unsync, steps, _steps(additional_steps) >> terminated),
        authorize_callback,
        retry_auth_callback,
        run_predicate,
    )


def validate_workflow(
    description: str = "",
    authorize_callback: Callable[..., Any] | None = None,
    run_predicate: RunPredicate | None = None,
) -> Callable[[Callable[[], StepList]], Workflow]:
    """A VALIDATE workflow: checks a subscription against the outside world, even while it is locked."""
    return _decorator(
        description,
        Target.VALIDATE,
        wrap_modify_initial_input_form(None),
        lambda steps: _on_subscription(unsync_unchecked, steps, StepList()),
        authorize_callback,
        None,
        run_predicate,
    )


def reconcile_workflow(
    description: str = "",
    additional_steps: StepList | None = None,
    authorize_callback: Callable[..., Any] | None = None,
    retry_auth_callback: Callable[..., Any] | None = None,
    run_predicate: RunPredicate | None = None,
) -> Callable[[Callable[[], StepList]], Workflow]:
    """A RECONCILE workflow: brings a subscription back in line with the outside world."""
    return _decorator(
        description,
        Target.RECONCILE,
        wrap_modify_initial_input_form(None),
        lambda steps: _on_subscription(unsync_unchecked, steps, _steps(additional_steps)),
        authorize_callback,
        retry_auth_callback,
        run_predicate,
    )


def task(
    description: str = "",
    initial_input_form: FormFunc | None = None,
    additional_steps: StepList | None = None,
    authorize_callback: Callable[..., Any] | None = None,
    retry_auth_callback: Callable[..., Any] | None = None,
    run_predicate: RunPredicate | None = None,
) -> Callable[[Callable[[], StepList]], Workflow]:
    """A task (SYSTEM workflow): ``init >> <yours> >> done``, typically run by the scheduler."""
    return _decorator(
        description,
        Target.SYSTEM,
        initial_input_form,
        lambda steps: init >> steps >> _steps(additional_steps) >> done,
        authorize_callback,
        retry_auth_callback,
        run_predicate,
    )


# orchestrator-core's name for "no form of my own after the subscription page" (``initial_input_form=``).
modify_initial_input_form_generator = None


@step("Obsolete step")
def obsolete_step() -> None:
    """Does nothing: orchestrator-core's stand-in for a removed step (orchestrion resumes by step name anyway)."""


def ensure_provisioning_status(steps: Step | StepList) -> StepList:
    """Run ``steps`` (a step or a step list; usable as a decorator on a step) with the subscription in
    provisioning, and make it active afterwards."""
    return set_status(SubscriptionLifecycle.PROVISIONING) >> steps >> set_status(SubscriptionLifecycle.ACTIVE)
