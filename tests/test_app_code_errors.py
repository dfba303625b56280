"""When the application's own code fails, orchestrion says where and why, and nothing else breaks.

A form generator that raises answers the one JSON error shape with its message; a workflow module
that cannot be imported makes that workflow, and only it, unavailable, with the error listed; a
value whose serialisation raises fails its step with that exception as the recorded cause.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, computed_field

from orchestrion.app import OrchestratorCore
from orchestrion.catalogue import ensure_catalogue
from orchestrion.db import Database, ProcessTable
from orchestrion.errors import FormGeneratorError
from orchestrion.forms import SubmitFormPage
from orchestrion.scheduler.catalogue_check import check_catalogue
from orchestrion.services.processes import start_process
from orchestrion.testing import WorkflowInstanceForTests, assert_failed, run_workflow
from orchestrion.types import FormGenerator, State
from orchestrion.workflow import StepList, begin, done, init, step, workflow
from orchestrion.workflows import LazyWorkflowInstance, unregister_workflow
from orchestrion.workflows.utils import create_workflow, validate_workflow


class InventoryDownError(RuntimeError):
    pass


def failing_form() -> FormGenerator:
    raise InventoryDownError("the inventory did not answer")
    yield SubmitFormPage  # a generator: orchestrion replays it page by page


@step("Never reached")
def never_reached() -> State:
    return {}


@workflow("Form that fails", initial_input_form=failing_form)
def form_that_fails() -> StepList:
    return init >> never_reached >> done


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    with (
        WorkflowInstanceForTests(form_that_fails, "form_that_fails"),
        TestClient(OrchestratorCore(database=database), raise_server_exceptions=False) as c,
    ):
        yield c


def test_a_failing_form_generator_answers_json_with_its_reason(client: TestClient) -> None:
    answer = client.post("/api/processes/form_that_fails", json=[])
    assert answer.status_code == 500
    assert answer.json() == {
        "type": "FormGeneratorError",
        "title": "Internal Server Error",
        "detail": "The form of workflow 'form_that_fails' failed: InventoryDownError: the inventory did not answer",
        "status": 500,
    }
    with pytest.raises(FormGeneratorError) as raised:
        start_process("form_that_fails", [])
    assert isinstance(raised.value.__cause__, InventoryDownError)


def test_a_workflow_whose_module_does_not_import_is_listed_with_its_error(client: TestClient) -> None:
    LazyWorkflowInstance("tests.no_such_module_here", "broken_import")
    try:
        listed = client.get("/api/workflows/")
        assert listed.status_code == 200
        by_name = {w["name"]: w for w in listed.json()}
        assert by_name["form_that_fails"]["error"] is None
        broken = by_name["broken_import"]
        assert broken["error"].startswith("Workflow 'broken_import' cannot be loaded from 'tests.no_such_module_here'")
        assert "ModuleNotFoundError" in broken["error"]
        started = client.post("/api/processes/broken_import", json=[{}])
        assert started.status_code == 500
        assert started.json()["type"] == "WorkflowImportError"
        assert client.post("/api/processes/form_that_fails", json=[]).json()["type"] == "FormGeneratorError"
    finally:
        unregister_workflow("broken_import")


class Reading(BaseModel):
    """A value whose serialisation computes something, and fails (as a domain model's computed field may)."""

    raw: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def calibrated(self) -> float:
        raise ZeroDivisionError(f"no calibration for {self.raw}")


@step("Read the meter")
def read_the_meter() -> State:
    return {"reading": Reading(raw=7)}


@workflow("Meter")
def meter() -> StepList:
    return init >> read_the_meter >> done


def test_a_value_that_fails_to_serialise_fails_the_step_with_that_exception_as_the_cause(database: Database) -> None:
    with WorkflowInstanceForTests(meter, "meter"):
        result, process, _ = run_workflow("meter", [{}])
    assert_failed(result)
    with database.read() as session:
        stored = session.get(ProcessTable, process.process_id)
        assert stored is not None
        assert stored.failed_reason == (
            "Step 'Read the meter' returned a state that cannot be stored: key 'reading': "
            "serialising its Reading raised ZeroDivisionError: no calibration for 7"
        )
        assert "ZeroDivisionError: no calibration for 7" in (stored.traceback or "")
        assert "direct cause of the following exception" in (stored.traceback or "")


@step("Provision the gizmo")
def provision_the_gizmo(product: str) -> State:
    return {"provisioned": product}


@create_workflow()
def create_gizmo() -> StepList:
    return begin >> provision_the_gizmo


@step("Compare with the inventory")
def compare_with_the_inventory() -> State:
    return {}


@validate_workflow()
def validate_gizmo() -> StepList:
    return begin >> compare_with_the_inventory


GIZMOS: dict[str, Any] = {
    "product_blocks": {"Gizmo": {"description": "A gizmo", "resources": {"serial": "Serial number"}}},
    "products": {
        "Gizmo Large": {"product_type": "Gizmo", "description": "The large one", "root_product_block": "Gizmo"},
        "Gizmo Small": {"product_type": "Gizmo", "description": "The small one", "root_product_block": "Gizmo"},
    },
    "workflows": {
        "create_gizmo": {"target": "CREATE", "product_type": "Gizmo"},
        "validate_gizmo": {"target": "VALIDATE", "product_type": "Gizmo", "is_task": True},
    },
}


def test_the_create_forms_first_page_lists_products_by_name_as_product_ids(database: Database) -> None:
    ensure_catalogue(GIZMOS)
    with (
        WorkflowInstanceForTests(create_gizmo, "create_gizmo"),
        TestClient(OrchestratorCore(database=database)) as client,
    ):
        first = client.post("/api/processes/create_gizmo", json=[]).json()["form"]
        field = first["properties"]["product"]
        assert field["format"] == "productId"
        choice = first["$defs"][field["$ref"].rsplit("/", 1)[1]]
        listed = client.get("/api/products/").json()
        ids = {p["name"]: p["product_id"] for p in listed}
        assert choice["options"] == {ids["Gizmo Large"]: "Gizmo Large", ids["Gizmo Small"]: "Gizmo Small"}
        started = client.post("/api/processes/create_gizmo", json=[{"product": ids["Gizmo Small"]}])
        assert started.status_code == 201, started.text


def test_whether_a_workflow_is_a_task_is_its_rows_say(database: Database) -> None:
    ensure_catalogue(GIZMOS)
    assert not validate_gizmo.is_task  # by its code a VALIDATE workflow is no task; its row says it is
    with (
        WorkflowInstanceForTests(validate_gizmo, "validate_gizmo"),
        WorkflowInstanceForTests(meter, "meter"),
        TestClient(OrchestratorCore(database=database)) as client,
    ):
        assert client.get("/api/workflows/validate_gizmo").json()["is_task"] is True
        assert meter.is_task  # a SYSTEM workflow; its row says it is not a task
        ensure_catalogue({"workflows": {"meter": {"target": "SYSTEM", "is_task": False}}})
        assert client.get("/api/workflows/meter").json()["is_task"] is False
        _, process, _ = run_workflow("meter", [{}])
    with database.read() as session:
        stored = session.get(ProcessTable, process.process_id)
        assert stored is not None and stored.is_task is False
        check = check_catalogue(session, {"validate_gizmo": validate_gizmo, "meter": meter}, {})
    mismatches = [problem for problem in check.problems if "validate_gizmo" in problem or "'meter'" in problem]
    assert mismatches == []  # is_task is the row's to say: no mismatch with the code
