"""``/api/subscription_customer_descriptions``: customers' own descriptions of subscriptions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from orchestrion.api.openapi import error_responses
from orchestrion.api.products import Description
from orchestrion.services import customer_descriptions

router = APIRouter()


class CustomerDescriptionIn(BaseModel):
    customer_id: str
    subscription_id: uuid.UUID
    description: Description


class CustomerDescriptionChange(CustomerDescriptionIn):
    id: uuid.UUID
    created_at: datetime | None = None
    version: int | None = None  # the version the edit was made on; a newer one refuses it


class CustomerDescriptionSchema(CustomerDescriptionIn):
    id: uuid.UUID
    created_at: datetime
    version: int


def _no_content() -> Response:
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404, 409))
def create(body: CustomerDescriptionIn) -> Response:
    """404 for an unknown subscription; 409 when the customer has a description of it already."""
    customer_descriptions.create_description(body.customer_id, body.subscription_id, body.description)
    return _no_content()


@router.put("/", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404))
def update(body: CustomerDescriptionChange) -> Response:
    """The customer's description of the subscription changes; 400 when ``version`` is not the current one."""
    customer_descriptions.update_description(
        body.customer_id, body.subscription_id, body.description, created_at=body.created_at, version=body.version
    )
    return _no_content()


@router.get("/customer/{customer_id}/subscription/{subscription_id}", response_model=CustomerDescriptionSchema)
def show_of(customer_id: str, subscription_id: uuid.UUID) -> dict[str, Any]:
    return customer_descriptions.description_of(customer_id, subscription_id)


@router.get("/{description_id}", response_model=CustomerDescriptionSchema)
def show(description_id: uuid.UUID) -> dict[str, Any]:
    return customer_descriptions.get_description(description_id)


@router.delete("/{description_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(description_id: uuid.UUID) -> Response:
    """204, also when there is no such description (any more)."""
    customer_descriptions.delete_description(description_id)
    return _no_content()
