"""The founding document's example, run through the test kit on both databases."""

import uuid

import examples  # noqa: F401 - registers the example workflows
from orchestrion.db import Database
from orchestrion.testing import assert_complete, extract_state, run_workflow


def test_create_product_subscription(database: Database) -> None:
    product = str(uuid.uuid4())
    result, _process, step_log = run_workflow(
        "create_product_subscription", [{"product": product, "user_input": "hello"}]
    )
    assert_complete(result)
    subscription = extract_state(result)["subscription"]
    assert subscription["product"] == product
    assert subscription["description"] == "hello"
    assert [entry.name for entry in step_log] == ["Start", "Create subscription", "Done"]
    assert [entry.status for entry in step_log] == ["success", "success", "complete"]
