"""orchestrator-core compatibility of the domain layer, on SQLite and PostgreSQL.

Lifecycle classes resolved as orchestrator-core resolves them (a class serves the statuses of its
own class and of its bases), blocks loaded on their own with ``from_db`` and their relations as
rows, computed fields that query the database while a model is dumped (in a step, in the REST
API, in a form), ``from_other_lifecycle`` leaving computed fields behind, and UUIDs given as
strings in SQLAlchemy queries. The products are in tests/domain_compat_support.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select, update
from tests.domain_compat_support import (
    ACTIVE,
    CATALOGUE,
    CREATE_ATTACHMENT,
    EXPLODING_SERIAL,
    INITIAL,
    MODELS,
    PROVISIONING,
    TERMINATE_USER_GROUP,
    Attachment,
    AttachmentBlock,
    AttachmentBlockInactive,
    AttachmentInactive,
    ChassisBlock,
    ChassisBlockInactive,
    ChassisBlockProvisioning,
    Router,
    RouterInactive,
    RouterProvisioning,
    Sensor,
    SensorInactive,
    UserGroup,
    UserGroupInactive,
)

from orchestrion.app import OrchestratorCore
from orchestrion.catalogue import ensure_catalogue
from orchestrion.db import Database, db
from orchestrion.db.domain_models import (
    ProcessSubscriptionTable,
    ProductTable,
    SubscriptionInstanceTable,
    SubscriptionTable,
    product_product_blocks,
)
from orchestrion.db.models import ProcessStepTable, ProcessTable
from orchestrion.domain import SUBSCRIPTION_MODEL_REGISTRY
from orchestrion.domain.base import IncompatibleModelError, ProductBlockModel, SubscriptionModel
from orchestrion.domain.loading import BlockNotFoundError
from orchestrion.forms import FormPage
from orchestrion.targets import Target
from orchestrion.testing import (
    WorkflowInstanceForTests,
    assert_complete,
    assert_failed,
    extract_error,
    extract_state,
    run_workflow,
)
from orchestrion.types import FormGenerator, State, SubscriptionLifecycle, UUIDstr
from orchestrion.workflow import StepList, Workflow, begin, done, init, step
from orchestrion.workflows.utils import create_workflow, terminate_workflow

TERMINATED = SubscriptionLifecycle.TERMINATED
Register = Callable[..., Workflow]


@pytest.fixture
def products(database: Database, monkeypatch: pytest.MonkeyPatch) -> dict[str, uuid.UUID]:
    """The catalogue of the compat products (with their workflows), and the products registered; name -> id."""
    for name, model in MODELS.items():
        monkeypatch.setitem(SUBSCRIPTION_MODEL_REGISTRY, name, model)
    ensure_catalogue(CATALOGUE)
    with database.read() as session:
        return {p.name: p.product_id for p in session.scalars(select(ProductTable))}


def _router(
    database: Database,
    products: dict[str, uuid.UUID],
    status: SubscriptionLifecycle,
    *,
    serial: str | None = "S-1",
    ports: int | None = 8,
) -> RouterInactive:
    """A stored router in ``status`` (in sync), its chassis filled in as given."""
    with database.write():
        model: SubscriptionModel = RouterInactive.from_product_id(products["Compat Router"], "cust-r", insync=True)
        assert isinstance(model, RouterInactive)
        model.chassis.serial = serial
        model.chassis.ports = ports
        if status is not INITIAL:
            model = SubscriptionModel.from_other_lifecycle(model, status)
        model.save()
    assert isinstance(model, RouterInactive)
    return model


def _attachment(
    database: Database, products: dict[str, uuid.UUID], chassis_id: uuid.UUID, vlan: int
) -> AttachmentInactive:
    """A stored active attachment whose block holds the chassis block ``chassis_id`` (of a router)."""
    with database.write():
        draft = AttachmentInactive.from_product_id(products["Compat Attachment"], f"cust-a{vlan}", insync=True)
        draft.attachment.vlan = vlan
        draft.attachment.chassis = ProductBlockModel.from_db(chassis_id)
        model = SubscriptionModel.from_other_lifecycle(draft, ACTIVE)
        model.save()
    assert isinstance(model, AttachmentInactive)
    return model


def _stored(database: Database, subscription_id: uuid.UUID) -> SubscriptionTable:
    with database.read() as session:
        row = session.get(SubscriptionTable, subscription_id)
        assert row is not None
        return row


def _id_page() -> type[FormPage]:
    class IdPage(FormPage):
        router: UUIDstr

    return IdPage


# --- 1. lifecycle classes --------------------------------------------------------------------------


@step("Inspect the router")
def inspect_router(router: Router) -> State:
    return {
        "seen": {
            "class": type(router).__name__,
            "status": router.status.value,
            "chassis": type(router.chassis).__name__,
            "ports": router.chassis.ports,
        }
    }


def test_a_step_typed_with_the_active_class_runs_on_a_provisioning_subscription(
    database: Database, products: dict[str, uuid.UUID], register: Register
) -> None:
    complete = _router(database, products, PROVISIONING, ports=12)
    incomplete = _router(database, products, PROVISIONING, ports=None)  # provisioning allows no ports; Router not
    register("compat_inspect_router", init >> inspect_router >> done, target=Target.SYSTEM, form=_id_page)

    result, _, _ = run_workflow("compat_inspect_router", [{"router": str(complete.subscription_id)}])
    assert_complete(result)
    assert extract_state(result)["seen"] == {
        "class": "Router",
        "status": "provisioning",
        "chassis": "ChassisBlock",
        "ports": 12,
    }

    result, _, _ = run_workflow("compat_inspect_router", [{"router": str(incomplete.subscription_id)}])
    assert_failed(result)  # the class serves the status, but the data must satisfy it
    error = extract_error(result) or ""
    assert "ports" in error and "Inspect the router" in error, error


def test_a_class_refuses_a_status_whose_class_is_not_itself_or_a_base(
    database: Database, products: dict[str, uuid.UUID]
) -> None:
    active = _router(database, products, ACTIVE)
    sid = active.subscription_id
    with pytest.raises(
        IncompatibleModelError, match=r"RouterProvisioning cannot hold a active subscription.*needs Router"
    ):
        RouterProvisioning.from_subscription(sid)
    assert type(Router.from_subscription(sid)) is Router
    assert type(SubscriptionModel.from_subscription(sid)) is Router
    base = RouterInactive.from_subscription(str(sid))  # the base class serves every status
    assert type(base) is RouterInactive and base.status is ACTIVE
    assert (base.vendor, base.chassis.serial, base.chassis.ports) == ("acme", "S-1", 8)
    with pytest.raises(IncompatibleModelError, match="does not model product 'Compat Router'"):
        AttachmentInactive.from_subscription(sid)


def test_save_accepts_a_derived_class_and_refuses_a_status_set_by_hand(
    database: Database, products: dict[str, uuid.UUID]
) -> None:
    sid = _router(database, products, PROVISIONING).subscription_id
    with database.write():
        as_active_class = Router.from_subscription(sid)
        as_active_class.chassis.ports = 16
        as_active_class.save()
    assert type(as_active_class) is Router and as_active_class.status is PROVISIONING
    with database.read():
        reloaded = SubscriptionModel.from_subscription(sid)
    assert type(reloaded) is RouterProvisioning
    assert (reloaded.chassis.ports, reloaded.version) == (16, 2)

    with database.write():
        provisioning = RouterProvisioning.from_subscription(sid)
        provisioning.status = ACTIVE
        with pytest.raises(IncompatibleModelError, match=r"needs Router.*use SubscriptionModel\.from_other_lifecycle"):
            provisioning.save()
    stored = _stored(database, sid)
    assert (stored.status, stored.version) == ("provisioning", 2)

    with database.write():
        moved = SubscriptionModel.from_other_lifecycle(RouterProvisioning.from_subscription(sid), ACTIVE)
        moved.save()
    assert type(moved) is Router
    stored = _stored(database, sid)
    assert (stored.status, stored.version) == ("active", 3) and stored.start_date is not None


def test_a_status_without_a_class_is_served_by_the_base_so_by_every_class(
    database: Database, products: dict[str, uuid.UUID]
) -> None:
    router = _router(database, products, ACTIVE)
    sid = router.subscription_id
    with database.write():
        terminated = SubscriptionModel.from_other_lifecycle(Router.from_subscription(sid), TERMINATED)
        terminated.save()
    assert type(terminated) is RouterInactive
    assert type(SubscriptionModel.from_subscription(sid)) is RouterInactive
    for cls in (RouterInactive, RouterProvisioning, Router):
        loaded = cls.from_subscription(sid)
        assert type(loaded) is cls and loaded.status is TERMINATED
    with database.write():
        strict = Router.from_subscription(sid)
        strict.note = "decommissioned"
        strict.save()
    stored = _stored(database, sid)
    assert (stored.status, stored.note, stored.version) == ("terminated", "decommissioned", 3)
    chassis_id = router.chassis.subscription_instance_id
    assert type(ProductBlockModel.from_db(chassis_id)) is ChassisBlockInactive
    assert type(ChassisBlock.from_db(chassis_id)) is ChassisBlock


@step("Deregister the group")
def deregister_group(subscription: UserGroup) -> State:
    return {"deregistered": {"class": type(subscription).__name__, "name": subscription.group.group_name}}


@terminate_workflow("Terminate a user group")
def compat_terminate_user_group() -> StepList:
    return begin >> deregister_group


def test_workshop_family_is_terminated_by_a_terminate_workflow(
    database: Database, products: dict[str, uuid.UUID]
) -> None:
    """The beginner-workshop shape: the base class is the INITIAL class, one active class, no terminated one."""
    with database.write():
        draft = UserGroupInactive.from_product_id(products["Compat User Group"], "cust-g", insync=True)
        draft.group.group_name = "admins"
        draft.save()
    assert type(SubscriptionModel.from_subscription(draft.subscription_id)) is UserGroupInactive
    with database.write():
        group = SubscriptionModel.from_other_lifecycle(
            UserGroupInactive.from_subscription(draft.subscription_id), ACTIVE
        )
        group.save()
    assert type(group) is UserGroup
    sid = group.subscription_id

    with WorkflowInstanceForTests(compat_terminate_user_group, TERMINATE_USER_GROUP):
        result, process, log = run_workflow(TERMINATE_USER_GROUP, [{"subscription_id": str(sid)}])
    assert_complete(result)
    state = extract_state(result)
    assert state["deregistered"] == {"class": "UserGroup", "name": "admins"}
    assert state["subscription"]["status"] == "terminated" and state["subscription"]["insync"] is True
    assert [entry.name for entry in log][-3:] == ["Set subscription to 'terminated'", "Unlock subscription", "Done"]
    stored = _stored(database, sid)
    assert (stored.status, stored.insync) == ("terminated", True)
    assert stored.end_date is not None
    with database.read() as session:
        linked = session.scalars(
            select(ProcessSubscriptionTable.subscription_id).where(
                ProcessSubscriptionTable.process_id == process.process_id
            )
        ).all()
    assert linked == [sid]
    assert type(SubscriptionModel.from_subscription(sid)) is UserGroupInactive
    for cls in (UserGroupInactive, UserGroup):
        loaded = cls.from_subscription(sid)
        assert type(loaded) is cls and loaded.status is TERMINATED and loaded.group.group_name == "admins"


# --- 2. blocks reach the database -----------------------------------------------------------------


def test_from_db_loads_a_block_with_the_class_for_its_owners_status(
    database: Database, products: dict[str, uuid.UUID]
) -> None:
    routers = {
        INITIAL: _router(database, products, INITIAL, serial=None, ports=None),
        PROVISIONING: _router(database, products, PROVISIONING, serial="S-P", ports=4),
        ACTIVE: _router(database, products, ACTIVE, serial="S-A", ports=8),
        TERMINATED: _router(database, products, TERMINATED, serial="S-T", ports=2),
    }
    chassis = {status: model.chassis.subscription_instance_id for status, model in routers.items()}
    expected = {
        INITIAL: (ChassisBlockInactive, None),
        PROVISIONING: (ChassisBlockProvisioning, "S-P"),
        ACTIVE: (ChassisBlock, "S-A"),
        TERMINATED: (ChassisBlockInactive, "S-T"),
    }
    with db.database_scope():
        for status, (cls, serial) in expected.items():
            by_id = ProductBlockModel.from_db(subscription_instance_id=chassis[status])
            assert (type(by_id), by_id.serial) == (cls, serial), status
            assert by_id.owner_subscription_id == routers[status].subscription_id
            row = db.session.get(SubscriptionInstanceTable, chassis[status])
            by_row = ProductBlockModel.from_db(subscription_instance=row)
            assert type(by_row) is cls and by_row == by_id
            assert type(ProductBlockModel.from_db(str(chassis[status]))) is cls

        # a block class: its own status, a base's status (data permitting), never a derived class's
        assert type(ChassisBlock.from_db(chassis[PROVISIONING])) is ChassisBlock
        assert type(ChassisBlockInactive.from_db(chassis[ACTIVE])) is ChassisBlockInactive
        with pytest.raises(IncompatibleModelError, match="ChassisBlockProvisioning cannot hold a active"):
            ChassisBlockProvisioning.from_db(chassis[ACTIVE])
        # initial has no class of its own in the chassis family, so its base (and every class) serves it
        assert type(ChassisBlock.from_db(chassis[ACTIVE], status=INITIAL)) is ChassisBlock
        with pytest.raises(ValidationError, match="serial"):
            ChassisBlockProvisioning.from_db(chassis[INITIAL])  # served, but the data lacks what the class needs
        with pytest.raises(IncompatibleModelError, match="'Compat Attachment' blocks, not 'Compat Chassis'"):
            AttachmentBlockInactive.from_db(chassis[ACTIVE])
        with pytest.raises(BlockNotFoundError):
            ProductBlockModel.from_db(uuid.uuid4())
        with pytest.raises(TypeError, match="needs a subscription_instance_id"):
            ProductBlockModel.from_db()


def test_block_relations_and_owner_are_rows(database: Database, products: dict[str, uuid.UUID]) -> None:
    router = _router(database, products, ACTIVE)
    spare = _router(database, products, ACTIVE, serial="S-2")
    chassis_id = router.chassis.subscription_instance_id
    first = _attachment(database, products, chassis_id, 100)
    second = _attachment(database, products, chassis_id, 200)
    attachment_ids = {first.subscription_id, second.subscription_id}

    with db.database_scope():
        chassis = ProductBlockModel.from_db(subscription_instance_id=chassis_id)
        assert isinstance(chassis, ChassisBlock)
        users = chassis.in_use_by
        assert all(isinstance(user, SubscriptionInstanceTable) for user in users)
        assert {user.subscription_id for user in users} == attachment_ids
        assert {user.subscription_instance_id for user in users} == {
            first.attachment.subscription_instance_id,
            second.attachment.subscription_instance_id,
        }
        assert {user.product_block.name for user in users} == {"Compat Attachment"}
        assert sorted((v.resource_type.resource_type, v.value) for user in users for v in user.values) == [
            ("vlan", "100"),
            ("vlan", "200"),
        ]
        assert {user.subscription.customer_id for user in users} == {"cust-a100", "cust-a200"}
        assert chassis.depends_on == []
        owner = chassis.subscription
        assert isinstance(owner, SubscriptionTable)
        assert (owner.subscription_id, owner.product.name, owner.status) == (
            router.subscription_id,
            "Compat Router",
            "active",
        )
        assert chassis.attachment_count == 2
        assert ChassisBlock.from_db(spare.chassis.subscription_instance_id).attachment_count == 0

        block = ProductBlockModel.from_db(first.attachment.subscription_instance_id)
        assert isinstance(block, AttachmentBlock) and block.vlan == 100
        assert block.chassis.subscription_instance_id == chassis_id  # a reference to the router's block
        assert block.chassis.owner_subscription_id == router.subscription_id
        assert [row.subscription_instance_id for row in block.depends_on] == [chassis_id]
        assert block.depends_on[0].subscription.subscription_id == router.subscription_id
        assert block.in_use_by == []
        assert block.subscription is not None and block.subscription.subscription_id == first.subscription_id

        row = db.session.get(SubscriptionInstanceTable, chassis_id)
        assert row is not None
        assert row.subscription.subscription_id == router.subscription_id
        assert row.product_block.name == "Compat Chassis"
        assert {v.resource_type.resource_type: v.value for v in row.values} == {"serial": "S-1", "ports": "8"}
        assert {user.subscription_id for user in row.in_use_by} == attachment_ids

        unsaved = ChassisBlockInactive.new(uuid.uuid4(), serial="S-9")
        assert (unsaved.subscription, unsaved.in_use_by, unsaved.depends_on) == (None, [], [])
        assert unsaved.model_dump()["attachment_count"] == 0


# --- 3. computed fields that query the database ------------------------------------------------------


def _attach_form() -> type[FormPage]:
    class AttachPage(FormPage):
        router: UUIDstr
        attachment_product: UUIDstr

    return AttachPage


@step("Attach to the router")
def attach_to_router(router: Router, attachment_product: UUIDstr) -> State:
    draft = AttachmentInactive.from_product_id(attachment_product, "cust-step")
    draft.attachment.vlan = 300
    draft.attachment.chassis = router.chassis
    attachment = SubscriptionModel.from_other_lifecycle(draft, PROVISIONING)
    return {"attachment": attachment, "router": router}


def test_computed_field_sees_the_steps_own_uncommitted_writes(
    database: Database, products: dict[str, uuid.UUID], register: Register
) -> None:
    router = _router(database, products, ACTIVE)
    chassis_id = router.chassis.subscription_instance_id
    _attachment(database, products, chassis_id, 100)
    register("compat_attach", init >> attach_to_router >> done, target=Target.CREATE, form=_attach_form)

    pages = [{"router": str(router.subscription_id), "attachment_product": str(products["Compat Attachment"])}]
    result, _, log = run_workflow("compat_attach", pages)
    assert_complete(result)
    state = extract_state(result)
    # Serialised inside the step's transaction: the new attachment (saved by the step, not yet committed) counts.
    assert state["router"]["chassis"]["attachment_count"] == 2
    assert state["attachment"]["attachment"]["chassis"]["attachment_count"] == 2
    assert state["attachment"]["attachment"]["chassis"]["inventory_tag"] == "INV-S-1"
    assert log[1].state["router"]["chassis"]["attachment_count"] == 2  # the step's own history row
    with db.database_scope():
        assert len(ProductBlockModel.from_db(chassis_id).in_use_by) == 2


@step("Count, then attach to the router")
def count_then_attach(router: Router, attachment_product: UUIDstr) -> State:
    before = router.chassis.attachment_count
    draft = AttachmentInactive.from_product_id(attachment_product, "cust-step")
    draft.attachment.vlan = 301
    draft.attachment.chassis = router.chassis
    attachment = SubscriptionModel.from_other_lifecycle(draft, PROVISIONING)
    attachment.save()
    after = router.chassis.attachment_count
    users = sorted(str(row.subscription_id) for row in router.chassis.in_use_by)
    owner = router.chassis.subscription
    assert owner is not None
    return {
        "attachment": attachment,
        "router": router,
        "counted": [before, after],
        "users": users,
        "owner": [str(owner.subscription_id), owner.status],
    }


def test_computed_field_counted_before_a_save_in_the_same_step_sees_the_save(
    database: Database, products: dict[str, uuid.UUID], register: Register
) -> None:
    router = _router(database, products, ACTIVE)
    existing = _attachment(database, products, router.chassis.subscription_instance_id, 100)
    register("compat_count_attach", init >> count_then_attach >> done, target=Target.CREATE, form=_attach_form)
    pages = [{"router": str(router.subscription_id), "attachment_product": str(products["Compat Attachment"])}]
    result, _, _ = run_workflow("compat_count_attach", pages)
    assert_complete(result)
    state = extract_state(result)
    assert state["counted"] == [1, 2]
    assert state["router"]["chassis"]["attachment_count"] == 2
    assert state["users"] == sorted([str(existing.subscription_id), state["attachment"]["subscription_id"]])
    assert state["owner"] == [str(router.subscription_id), "active"]


def test_domain_model_endpoint_evaluates_computed_fields_in_the_request(
    database: Database, products: dict[str, uuid.UUID]
) -> None:
    router = _router(database, products, ACTIVE)
    spare = _router(database, products, ACTIVE, serial="S-2")
    chassis_id = router.chassis.subscription_instance_id
    first = _attachment(database, products, chassis_id, 100)
    second = _attachment(database, products, chassis_id, 200)
    users = sorted(str(a.attachment.subscription_instance_id) for a in (first, second))

    with TestClient(OrchestratorCore(database=database)) as client:
        response = client.get(f"/api/subscriptions/domain-model/{router.subscription_id}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["chassis"]["attachment_count"] == 2
        assert body["chassis"]["inventory_tag"] == "INV-S-1"
        assert body["chassis"]["in_use_by_ids"] == users
        assert body["in_use_by_ids"] == users

        response = client.get(f"/api/subscriptions/domain-model/{first.subscription_id}")
        assert response.status_code == 200, response.text
        held = response.json()["attachment"]["chassis"]
        assert (held["subscription_instance_id"], held["attachment_count"]) == (str(chassis_id), 2)

        response = client.get(f"/api/subscriptions/domain-model/{spare.subscription_id}")
        assert response.status_code == 200, response.text
        assert response.json()["chassis"]["attachment_count"] == 0


def attachment_form(product: UUIDstr) -> FormGenerator:
    class RouterPage(FormPage):
        router_id: UUIDstr
        vlan: int

    page = yield RouterPage
    return {"router": Router.from_subscription(page.router_id), "vlan": page.vlan, "form_product": product}


@step("Construct the attachment")
def construct_attachment(product: UUIDstr, router: Router, vlan: int) -> State:
    draft = AttachmentInactive.from_product_id(product, "cust-form")
    draft.attachment.vlan = vlan
    draft.attachment.chassis = router.chassis
    return {"subscription": draft, "subscription_id": draft.subscription_id}


@create_workflow("Create an attachment", initial_input_form=attachment_form)
def compat_create_attachment() -> StepList:
    return begin >> construct_attachment


def test_create_form_returning_a_domain_model_evaluates_its_computed_fields(
    database: Database, products: dict[str, uuid.UUID]
) -> None:
    router = _router(database, products, ACTIVE)
    chassis_id = router.chassis.subscription_instance_id
    _attachment(database, products, chassis_id, 100)
    pages = [{"product": str(products["Compat Attachment"])}, {"router_id": str(router.subscription_id), "vlan": 42}]
    with WorkflowInstanceForTests(compat_create_attachment, CREATE_ATTACHMENT):
        result, _, _ = run_workflow(CREATE_ATTACHMENT, pages)
    assert_complete(result)
    state = extract_state(result)
    assert state["form_product"] == str(products["Compat Attachment"])
    # Dumped when the form's result was stored: one attachment used the chassis then.
    assert state["router"]["subscription_id"] == str(router.subscription_id)
    assert state["router"]["chassis"]["attachment_count"] == 1
    assert state["router"]["chassis"]["inventory_tag"] == "INV-S-1"
    assert state["subscription"]["status"] == "active"
    assert state["subscription"]["attachment"]["chassis"]["attachment_count"] == 2
    with db.database_scope():
        created = SubscriptionModel.from_subscription(state["subscription_id"])
        assert type(created) is Attachment
        assert (created.attachment.vlan, created.status) == (42, ACTIVE)
        assert len(ProductBlockModel.from_db(chassis_id).in_use_by) == 2


@step("Set an exploding serial")
def set_exploding_serial(router: Router) -> State:
    router.chassis.serial = EXPLODING_SERIAL
    return {"router": router}


def test_a_computed_field_that_raises_fails_the_step_naming_its_exception(
    database: Database, products: dict[str, uuid.UUID], register: Register
) -> None:
    router = _router(database, products, ACTIVE)
    register("compat_explode", init >> set_exploding_serial >> done, target=Target.SYSTEM, form=_id_page)
    result, process, log = run_workflow("compat_explode", [{"router": str(router.subscription_id)}])
    assert_failed(result)
    error = extract_error(result) or ""
    assert "ChassisInventoryError: inventory lookup failed for serial EXPLODE" in error, error
    assert "Set an exploding serial" in error
    traceback = extract_state(result).get("traceback") or ""
    assert "ChassisInventoryError: inventory lookup failed for serial EXPLODE" in traceback, traceback

    with database.read() as session:
        row = session.get(ProcessTable, process.process_id)
        assert row is not None
        assert row.last_status == "failed"
        assert row.failed_reason == error
        assert row.traceback is not None and "ChassisInventoryError" in row.traceback
        failed_step = session.execute(
            select(ProcessStepTable.name, ProcessStepTable.status, ProcessStepTable.state)
            .where(ProcessStepTable.process_id == process.process_id)
            .order_by(ProcessStepTable.seq.desc())
            .limit(1)
        ).one()
    assert (failed_step.name, failed_step.status) == ("Set an exploding serial", "failed")
    assert "ChassisInventoryError" in failed_step.state["error"]
    assert log[-1].state["error"] == error
    # the step's save was rolled back with it
    stored = Router.from_subscription(router.subscription_id)
    assert (stored.chassis.serial, stored.version) == ("S-1", 1)


def test_the_recorded_traceback_shows_where_the_computed_field_raised(
    database: Database, products: dict[str, uuid.UUID], register: Register
) -> None:
    router = _router(database, products, ACTIVE)
    register("compat_explode_trace", init >> set_exploding_serial >> done, target=Target.SYSTEM, form=_id_page)
    result, _, _ = run_workflow("compat_explode_trace", [{"router": str(router.subscription_id)}])
    assert_failed(result)
    traceback = extract_state(result).get("traceback") or ""
    assert "ChassisInventoryError" in traceback  # holds today: the class and message are there
    assert "domain_compat_support.py" in traceback and ", in inventory_tag" in traceback, traceback


# --- 4. from_other_lifecycle leaves computed fields behind ------------------------------------------


def test_from_other_lifecycle_does_not_evaluate_or_carry_computed_fields(
    database: Database, products: dict[str, uuid.UUID]
) -> None:
    sensor = SensorInactive.from_product_id(products["Compat Sensor"], "cust-s")
    sensor.probe.location = "rack 4"
    with pytest.raises(ValueError, match="has not started"):
        sensor.model_dump()  # the computed field fails for the initial data
    active = SubscriptionModel.from_other_lifecycle(sensor, ACTIVE)
    assert type(active) is Sensor and active.start_date is not None
    assert active.model_dump()["running_since"] == active.start_date.date().isoformat()
    with database.write():
        active.save()
    with database.read():
        assert SubscriptionModel.from_subscription(active.subscription_id).model_dump()["running_since"] == (
            active.start_date.date().isoformat()
        )

    router = RouterInactive.from_product_id(products["Compat Router"], "cust-r")
    router.chassis.serial = EXPLODING_SERIAL  # the chassis's inventory_tag raises for it
    with pytest.raises(Exception, match="inventory lookup failed"):
        router.model_dump()
    moved = SubscriptionModel.from_other_lifecycle(router, PROVISIONING)
    assert type(moved) is RouterProvisioning
    assert type(moved.chassis) is ChassisBlockProvisioning and moved.chassis.serial == EXPLODING_SERIAL


# --- 5. UUIDs given as strings ----------------------------------------------------------------------


def _queries_by_string(router_id: str, product_id: str) -> dict[str, Any]:
    """orchestrator-core application code: ids arrive as strings (form input, state) and go into queries."""
    session = db.session
    subscription = session.get(SubscriptionTable, router_id)
    assert subscription is not None
    product = session.scalars(select(ProductTable).where(ProductTable.product_id == product_id)).one()
    found = session.scalars(
        select(SubscriptionTable.subscription_id).where(
            SubscriptionTable.subscription_id.in_([router_id, str(uuid.uuid4())])
        )
    ).all()
    instances = session.scalars(
        select(SubscriptionInstanceTable.subscription_instance_id).where(
            SubscriptionInstanceTable.subscription_id == router_id
        )
    ).all()
    blocks = session.scalars(
        select(product_product_blocks.c.product_block_id).where(product_product_blocks.c.product_id == product_id)
    ).all()
    legacy = SubscriptionTable.query.filter(SubscriptionTable.subscription_id == router_id).one()
    return {
        "customer": subscription.customer_id,
        "product": product.name,
        "found": [str(value) for value in found],
        "instances": [str(value) for value in instances],
        "blocks": len(blocks),
        "legacy": legacy.status,
    }


@step("Query by string ids")
def query_by_string_ids(router: str, product_id: str) -> State:
    found = _queries_by_string(router, product_id)
    changed = db.session.execute(
        update(SubscriptionTable).where(SubscriptionTable.subscription_id == router).values(note="by string id")
    )
    return {"found": found, "updated": changed.rowcount}


def _string_ids_form() -> type[FormPage]:
    class StringIdsPage(FormPage):
        router: str
        product_id: str

    return StringIdsPage


def test_uuid_strings_work_in_queries_in_a_step_and_in_a_scope(
    database: Database, products: dict[str, uuid.UUID], register: Register
) -> None:
    router = _router(database, products, ACTIVE)
    router_id, product_id = str(router.subscription_id), str(products["Compat Router"])
    expected = {
        "customer": "cust-r",
        "product": "Compat Router",
        "found": [router_id],
        "instances": [str(router.chassis.subscription_instance_id)],
        "blocks": 1,
        "legacy": "active",
    }
    register("compat_string_ids", init >> query_by_string_ids >> done, target=Target.SYSTEM, form=_string_ids_form)
    result, _, _ = run_workflow("compat_string_ids", [{"router": router_id, "product_id": product_id}])
    assert_complete(result)
    assert extract_state(result)["found"] == expected
    assert extract_state(result)["updated"] == 1
    assert _stored(database, router.subscription_id).note == "by string id"

    with db.database_scope():
        assert _queries_by_string(router_id, product_id) == expected
        assert db.session.get(SubscriptionTable, router_id) is db.session.get(SubscriptionTable, router.subscription_id)
