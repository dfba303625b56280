"""Types shared by workflow authors: the state, UUID strings, lifecycles and form aliases."""

from pydantic_forms.types import FormGenerator, InputForm, State, UUIDstr, strEnum

__all__ = ["FormGenerator", "InputForm", "State", "SubscriptionLifecycle", "UUIDstr", "strEnum"]


class SubscriptionLifecycle(strEnum):
    INITIAL = "initial"
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    MIGRATING = "migrating"
    DISABLED = "disabled"
    TERMINATED = "terminated"
