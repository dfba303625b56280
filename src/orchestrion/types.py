"""Types shared by workflow authors: the state, UUID strings, lifecycles and form aliases."""

from typing import TypeVar

from pydantic_forms.types import FormGenerator, InputForm, State, SummaryData, UUIDstr, strEnum

__all__ = [
    "SI",
    "FormGenerator",
    "InputForm",
    "State",
    "SubscriptionLifecycle",
    "SummaryData",
    "UUIDstr",
    "strEnum",
]

# A product block type, for generic aliases of block lists: ``Saps = Annotated[list[SI], Len(min_length=2)]``,
# then ``saps: Saps[SAPBlock]``.
SI = TypeVar("SI")


class SubscriptionLifecycle(strEnum):
    INITIAL = "initial"
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    MIGRATING = "migrating"
    DISABLED = "disabled"
    TERMINATED = "terminated"
