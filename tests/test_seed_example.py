"""The founding document's example, run through the test kit on both databases."""

import uuid

import pytest
from pydantic_forms.exceptions import FormValidationError

import examples
from orchestrion.catalogue import ensure_catalogue, load_file
from orchestrion.db import Database
from orchestrion.db.domain_models import SubscriptionTable
from orchestrion.testing import assert_complete, extract_state, run_workflow

NODE = "0b6e8e2a-1c2d-4e8f-8a1b-2c3d4e5f6a01"  # the catalogue's Node product


def test_create_product_subscription_saves_a_subscription_of_the_product(database: Database) -> None:
    ensure_catalogue(load_file(examples.CATALOGUE))
    result, _process, step_log = run_workflow("create_product_subscription", [{"product": NODE, "user_input": "hello"}])
    assert_complete(result)
    subscription_id = extract_state(result)["subscription_id"]
    with database.read() as session:
        row = session.get(SubscriptionTable, subscription_id)
        assert row is not None
        assert (str(row.product_id), row.description, row.status) == (NODE, "hello", "initial")
    assert [entry.name for entry in step_log] == ["Start", "Create subscription", "Done"]
    assert [entry.status for entry in step_log] == ["success", "success", "complete"]


def test_a_product_not_in_the_catalogue_is_refused_by_the_form(database: Database) -> None:
    with pytest.raises(FormValidationError) as refused:
        run_workflow("create_product_subscription", [{"product": str(uuid.uuid4()), "user_input": "hello"}])
    assert "Not a product of the catalogue" in str(refused.value)
