"""Form widgets (pydantic-forms' components), under the names orchestrator-core authors import."""

from typing import Annotated
from uuid import UUID

from pydantic import Field
from pydantic_forms.validators import (
    Accept,
    Choice,
    DisplaySubscription,
    Divider,
    Label,
    ListOfOne,
    ListOfTwo,
    LongText,
    MigrationSummary,
    choice_list,
    migration_summary,
    read_only_field,
    read_only_list,
    unique_conlist,
)

# A customer is an opaque string id; a product is chosen by its UUID. The format tells the UI how to render it.
CustomerId = Annotated[str, Field(json_schema_extra={"format": "customerId"})]
ProductId = Annotated[UUID, Field(json_schema_extra={"format": "productId"})]

__all__ = [
    "Accept",
    "Choice",
    "CustomerId",
    "DisplaySubscription",
    "Divider",
    "Label",
    "ListOfOne",
    "ListOfTwo",
    "LongText",
    "MigrationSummary",
    "ProductId",
    "choice_list",
    "migration_summary",
    "read_only_field",
    "read_only_list",
    "unique_conlist",
]
