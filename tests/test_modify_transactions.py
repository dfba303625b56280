"""The transactions of a modify process's start: its form reads in one, and its link step needs none.

The form's first page checks that the workflow may run on the subscription (its status, its lock,
the subscriptions related to it) and then reads the version the start will reserve against. Each
of those reads used to open a transaction of its own (four, each a round trip to begin and one to
end on PostgreSQL); inside the start's scope they share one, and what they find is unchanged. The
start reserves the subscription and links the process to it in the transaction that creates the
process, so the link step that follows has nothing to write, and without a transaction its
checkpoint is one statement. The checks read the subscription's columns as the transaction sees
them, not a row object the session holds, and after the flush a scope's session does first.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic_forms.exceptions import FormValidationError
from sqlalchemy import update
from tests.domain_support import engine_events
from tests.subscription_support import add_subscription, load_product

from orchestrion.db import Database
from orchestrion.db.domain_models import ProcessSubscriptionTable, SubscriptionTable
from orchestrion.db.sessions import database_scope
from orchestrion.domain import history
from orchestrion.engine.outcomes import Success
from orchestrion.services.forms import run_form
from orchestrion.services.processes import start_process, wait_for_process
from orchestrion.services.subscriptions import subscription_workflows
from orchestrion.targets import Target
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import State
from orchestrion.workflow import StepList, begin, step
from orchestrion.workflows.steps import store_process_subscription
from orchestrion.workflows.utils import modify_workflow

NAME = "modify_widget"


@step("Touch the widget")
def touch() -> State:
    return {}


@modify_workflow("Modify a widget")
def modify_widget() -> StepList:
    return begin >> touch


@pytest.fixture
def widget(database: Database) -> Iterator[uuid.UUID]:
    product = load_product(database, "Widget", {NAME: "MODIFY"})
    with WorkflowInstanceForTests(modify_widget, NAME):
        yield add_subscription(database, product, version=3)


def _first_page(database: Database, page: dict[str, Any]) -> State:
    with database_scope(database):  # as ``start_process`` runs a start's form
        return run_form(modify_widget.initial_input_form, {"workflow_name": NAME}, [page], NAME)


@pytest.mark.parametrize("page", [{}, {"version": 3}], ids=["without a version", "with the version seen"])
def test_the_first_page_reads_in_one_transaction(database: Database, widget: uuid.UUID, page: dict[str, Any]) -> None:
    with engine_events(database, "begin") as begun:
        state = _first_page(database, {"subscription_id": str(widget), **page})
    assert state["subscription_id"] == str(widget)
    assert state["version"] == 3
    assert state["__subscription_versions__"] == {str(widget): 3}
    assert len(begun) == 1


def test_a_refusal_reads_in_one_transaction_and_says_why(database: Database, widget: uuid.UUID) -> None:
    with database.write() as session:  # another process holds the lock
        lock = update(SubscriptionTable).where(SubscriptionTable.subscription_id == widget)
        session.execute(lock.values(insync=False))
    with engine_events(database, "begin") as begun, pytest.raises(FormValidationError) as refused:
        _first_page(database, {"subscription_id": str(widget)})
    assert "Subscription already has a running process or task" in str(refused.value)
    assert len(begun) == 1


def test_a_stale_version_is_refused(database: Database, widget: uuid.UUID) -> None:
    with pytest.raises(FormValidationError) as refused:
        _first_page(database, {"subscription_id": str(widget), "version": 2})
    assert "version 3 now, you saw 2" in str(refused.value)


def test_the_link_step_needs_no_transaction_after_the_start_linked(database: Database, widget: uuid.UUID) -> None:
    state = {
        "process_id": str(uuid.uuid4()),
        "subscription_id": str(widget),
        "__reserved_subscriptions__": [str(widget)],
    }
    with engine_events(database, "begin") as begun:
        outcome = store_process_subscription()(state)
    assert isinstance(outcome, Success)
    assert begun == []


def test_a_modify_process_is_linked_to_its_subscription_once(database: Database, widget: uuid.UUID) -> None:
    process_id = start_process(NAME, [{"subscription_id": str(widget)}])
    assert wait_for_process(process_id, timeout=30) == "completed"
    with database.read() as session:
        links = session.query(ProcessSubscriptionTable).filter_by(subscription_id=widget).all()
    assert [link.process_id for link in links] == [process_id]


def test_the_checks_see_what_the_transaction_wrote_not_a_row_object_held(database: Database, widget: uuid.UUID) -> None:
    """A step that starts a child modify holds the subscription's row object from before its own save."""
    with database.write() as session:
        held = session.get(SubscriptionTable, widget)
        assert held is not None and held.version == 3
        table = SubscriptionTable.__table__
        session.connection().execute(update(table).where(table.c.subscription_id == widget).values(version=4))
        state = run_form(
            modify_widget.initial_input_form, {"workflow_name": NAME}, [{"subscription_id": str(widget)}], NAME
        )
        assert state["version"] == 4
        assert held.version == 3  # the session's object is left as it was


def test_a_scope_sees_a_subscription_it_has_not_flushed(database: Database, widget: uuid.UUID) -> None:
    with database.read() as session:
        product_id = session.get(SubscriptionTable, widget).product_id  # type: ignore[union-attr]
    with database_scope(database):
        scoped = database.scoped()
        columns = {"customer_id": "c", "description": "new", "status": "active", "insync": True}
        added = SubscriptionTable(subscription_id=uuid.uuid4(), product_id=product_id, **columns)
        scoped.add(added)
        assert history.stored_rows(scoped, added.subscription_id).subscription["description"] == "new"
        found = subscription_workflows(scoped, added.subscription_id)
        assert found is not None
        assert NAME in [wf.name for wf in found[Target.MODIFY]]
