"""Products for the orchestrator-core compatibility tests of the domain layer (tests/test_domain_compat.py).

Router: one "Compat Chassis" block, a class per lifecycle (inactive base, provisioning, active).
Attachment: its block refers to a Router's chassis block (a reference across subscriptions); the
chassis counts its users with a computed field that queries the database.
Sensor: a subscription-level computed field that only works once the subscription has started.
User group: the "beginner workshop" shape, a base class that is also the INITIAL class, plus an
active class; nothing is registered for terminated.
"""

from __future__ import annotations

from typing import Any

from pydantic import computed_field

from orchestrion.domain.base import ProductBlockModel, SubscriptionModel
from orchestrion.types import SubscriptionLifecycle

INITIAL = SubscriptionLifecycle.INITIAL
PROVISIONING = SubscriptionLifecycle.PROVISIONING
ACTIVE = SubscriptionLifecycle.ACTIVE

EXPLODING_SERIAL = "EXPLODE"


class ChassisInventoryError(RuntimeError):
    """What the chassis's ``inventory_tag`` raises for ``EXPLODING_SERIAL`` (a failing lookup)."""


class ChassisBlockInactive(ProductBlockModel, product_block_name="Compat Chassis"):
    serial: str | None = None
    ports: int | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def attachment_count(self) -> int:
        """How many stored blocks (of attachments) hold this chassis: a database query per dump."""
        return len(self.in_use_by)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def inventory_tag(self) -> str | None:
        if self.serial == EXPLODING_SERIAL:
            raise ChassisInventoryError(f"inventory lookup failed for serial {self.serial}")
        return None if self.serial is None else f"INV-{self.serial}"


class ChassisBlockProvisioning(ChassisBlockInactive, lifecycle=[PROVISIONING]):
    serial: str
    ports: int | None = None


class ChassisBlock(ChassisBlockProvisioning, lifecycle=[ACTIVE]):
    serial: str
    ports: int


class RouterInactive(SubscriptionModel, is_base=True):
    vendor: str
    chassis: ChassisBlockInactive


class RouterProvisioning(RouterInactive, lifecycle=[PROVISIONING]):
    chassis: ChassisBlockProvisioning


class Router(RouterProvisioning, lifecycle=[ACTIVE]):
    chassis: ChassisBlock


class AttachmentBlockInactive(ProductBlockModel, product_block_name="Compat Attachment"):
    vlan: int | None = None
    chassis: ChassisBlockInactive | None = None


class AttachmentBlock(AttachmentBlockInactive, lifecycle=[PROVISIONING, ACTIVE]):
    vlan: int
    chassis: ChassisBlockProvisioning


class AttachmentInactive(SubscriptionModel, is_base=True):
    attachment: AttachmentBlockInactive


class Attachment(AttachmentInactive, lifecycle=[PROVISIONING, ACTIVE]):
    attachment: AttachmentBlock


class ProbeBlockInactive(ProductBlockModel, product_block_name="Compat Probe"):
    location: str | None = None


class SensorInactive(SubscriptionModel, is_base=True):
    probe: ProbeBlockInactive

    @computed_field  # type: ignore[prop-decorator]
    @property
    def running_since(self) -> str:
        if self.start_date is None:
            raise ValueError(f"sensor {self.subscription_id} has not started")
        return self.start_date.date().isoformat()


class Sensor(SensorInactive, lifecycle=[ACTIVE]):
    pass


class GroupBlockInactive(ProductBlockModel, product_block_name="Compat Group", lifecycle=[INITIAL]):
    group_name: str | None = None


class GroupBlock(GroupBlockInactive, lifecycle=[ACTIVE]):
    group_name: str


class UserGroupInactive(SubscriptionModel, is_base=True, lifecycle=[INITIAL]):
    group: GroupBlockInactive


class UserGroup(UserGroupInactive, lifecycle=[ACTIVE]):
    group: GroupBlock


MODELS: dict[str, type[SubscriptionModel]] = {
    "Compat Router": RouterInactive,
    "Compat Attachment": AttachmentInactive,
    "Compat Sensor": SensorInactive,
    "Compat User Group": UserGroupInactive,
}

TERMINATE_USER_GROUP = "compat_terminate_user_group"
CREATE_ATTACHMENT = "compat_create_attachment"

CATALOGUE: dict[str, Any] = {
    "product_blocks": {
        "Compat Chassis": {
            "description": "A router's chassis",
            "tag": "CHASSIS",
            "resources": {"serial": "Serial number", "ports": "Number of ports"},
        },
        "Compat Attachment": {
            "description": "A service attached to a router's chassis",
            "tag": "ATTACH",
            "resources": {"vlan": "VLAN id"},
            "depends_on_block_relations": ["Compat Chassis"],
        },
        "Compat Probe": {"description": "A probe", "tag": "PROBE", "resources": {"location": "Where"}},
        "Compat Group": {"description": "A user group", "tag": "GROUP", "resources": {"group_name": "Name"}},
    },
    "products": {
        "Compat Router": {
            "product_type": "CompatRouter",
            "description": "Router",
            "tag": "ROUTER",
            "product_blocks": ["Compat Chassis"],
            "fixed_inputs": {"vendor": "acme"},
        },
        "Compat Attachment": {
            "product_type": "CompatAttachment",
            "description": "Attachment",
            "tag": "ATTACH",
            "product_blocks": ["Compat Attachment"],
        },
        "Compat Sensor": {
            "product_type": "CompatSensor",
            "description": "Sensor",
            "tag": "SENSOR",
            "product_blocks": ["Compat Probe"],
        },
        "Compat User Group": {
            "product_type": "CompatUserGroup",
            "description": "User group",
            "tag": "GROUP",
            "product_blocks": ["Compat Group"],
        },
    },
    "workflows": {
        TERMINATE_USER_GROUP: {
            "target": "TERMINATE",
            "description": "Terminate a user group",
            "product_type": "CompatUserGroup",
        },
        CREATE_ATTACHMENT: {
            "target": "CREATE",
            "description": "Create an attachment",
            "product_type": "CompatAttachment",
        },
    },
}
