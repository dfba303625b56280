"""Every name the contract promises is importable where it says, as orchestrator-core code expects it."""

from __future__ import annotations

import importlib

import pytest
from sqlalchemy import text

from orchestrion.db import Database
from orchestrion.testing import WorkflowInstanceForTests, assert_complete, run_workflow
from orchestrion.types import State
from orchestrion.workflow import StepList, done, init, step, workflow

CONTRACT = {
    "orchestrion.workflow": "workflow step retrystep inputstep step_group callback_step conditional focussteps "
    "steplens "
    "begin init done abort StepList Step Workflow ProcessStatus StepStatus Success Skipped Suspend Waiting "
    "AwaitingCallback Abort Failed Complete",
    "orchestrion.targets": "Target",
    "orchestrion.types": "State UUIDstr SubscriptionLifecycle strEnum FormGenerator InputForm",
    "orchestrion.config.assignee": "Assignee",
    "orchestrion.workflows": "LazyWorkflowInstance ALL_WORKFLOWS get_workflow",
    "orchestrion.workflows.steps": "store_process_subscription unsync unsync_unchecked resync set_status",
    "orchestrion.workflows.utils": "create_workflow modify_workflow terminate_workflow validate_workflow "
    "reconcile_workflow task wrap_create_initial_input_form wrap_modify_initial_input_form ensure_provisioning_status",
    "orchestrion.domain": "SUBSCRIPTION_MODEL_REGISTRY",
    "orchestrion.domain.base": "SubscriptionModel ProductBlockModel ProductModel",
    "orchestrion.domain.lifecycle": "ProductLifecycle",
    "orchestrion.forms": "FormPage SubmitFormPage ReadOnlyField",
    "orchestrion.forms.validators": "Choice choice_list Label LongText Divider Accept DisplaySubscription CustomerId "
    "ProductId read_only_field",
    "orchestrion.app": "OrchestratorCore",
    "orchestrion.settings": "AppSettings app_settings",
    "orchestrion.services.processes": "start_process resume_process abort_process delete_process wait_for_process",
    "orchestrion.testing": "run_workflow resume_workflow assert_complete assert_failed assert_suspended assert_waiting "
    "assert_awaiting_callback assert_aborted extract_state extract_error",
    "orchestrion.catalogue": "ensure_catalogue",
    "orchestrion.utils.errors": "ProcessFailureError StartPredicateError",
    "orchestrion.db": "db init_database ALL_DB_MODELS ProductTable ProductBlockTable ResourceTypeTable FixedInputTable "
    "SubscriptionTable SubscriptionInstanceTable SubscriptionInstanceValueTable SubscriptionInstanceRelationTable "
    "ProcessTable ProcessStepTable ProcessSubscriptionTable WorkflowTable InputStateTable EngineSettingsTable",
    "orchestrion.db.models": "SubscriptionTable ProductTable WorkflowTable ProcessTable",
    "orchestrion.db.database": "BaseModel Database",
}

# What orchestrator-core applications import beyond the authoring API (SURF's example-orchestrator does).
APPLICATION_NAMES = {
    "orchestrion": "OrchestratorCore app_settings step inputstep retrystep workflow begin done conditional focussteps "
    "steplens",
    "orchestrion.workflow": "RunPredicatePass RunPredicateFail PredicateContext",
    "orchestrion.workflows.predicates": "no_uncompleted_instance awaiting_callbacks_exist",
    "orchestrion.types": "SI",
    "orchestrion.services.products": "get_product_by_id get_product_by_name get_products get_types get_tags",
    "orchestrion.services.subscriptions": "get_subscription update_subscription find_values_for_resource_types "
    "retrieve_subscription_by_subscription_instance_value WF_USABLE_MAP WF_BLOCKED_BY_IN_USE_BY_SUBSCRIPTIONS "
    "WF_USABLE_WHILE_OUT_OF_SYNC",
    "orchestrion.utils.json": "json_dumps json_loads",
    "orchestrion.utils.helpers": "to_camel",
    "orchestrion.workflows.utils": "modify_initial_input_form_generator",
    "orchestrion.cli.main": "app",
    "orchestrion.log_config": "LOGGER_OVERRIDES",
    "orchestrion.migrations.helpers": "create delete create_workflow delete_workflow ensure_default_workflows "
    "create_task create_workflows create_products create_product_blocks create_fixed_inputs",
}


@pytest.mark.parametrize(("module", "names"), [*CONTRACT.items(), *APPLICATION_NAMES.items()])
def test_contract_names_exist(module: str, names: str) -> None:
    imported = importlib.import_module(module)
    missing = [name for name in names.split() if not hasattr(imported, name)]
    assert missing == []


@step("Write with db.session")
def write_with_db_session() -> State:
    from orchestrion.db import db

    db.session.execute(text("INSERT INTO compat_notes (note) VALUES ('written')"))
    return {"wrote": True}


@workflow("Compat")
def compat() -> StepList:
    return init >> write_with_db_session >> done


def test_db_session_is_the_steps_transaction(database: Database) -> None:
    with database.write() as session:
        session.execute(text("DROP TABLE IF EXISTS compat_notes"))
        session.execute(text("CREATE TABLE compat_notes (note VARCHAR(20))"))
    with WorkflowInstanceForTests(compat, "compat"):
        assert_complete(run_workflow("compat", [{}])[0])
    with database.read() as session:
        assert session.execute(text("SELECT note FROM compat_notes")).scalars().all() == ["written"]
    with database.write() as session:
        session.execute(text("DROP TABLE compat_notes"))
