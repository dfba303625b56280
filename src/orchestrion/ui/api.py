"""``/api/ui``: the read-only summaries the web UI needs and the main API does not offer in one request."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from orchestrion.services import process_views, subscription_views

router = APIRouter()


class ProcessCountsSchema(BaseModel):
    processes: dict[str, int]
    tasks: dict[str, int]


class RelatedSubscriptionSchema(BaseModel):
    subscription_id: uuid.UUID
    description: str
    status: str
    insync: bool
    product_name: str


class SubscriptionProcessSchema(BaseModel):
    process_id: uuid.UUID
    workflow_name: str
    workflow_target: str
    last_status: str
    created_by: str | None
    started_at: datetime
    last_modified_at: datetime


class SubscriptionRelationsSchema(BaseModel):
    depends_on: list[RelatedSubscriptionSchema]
    in_use_by: list[RelatedSubscriptionSchema]
    processes: list[SubscriptionProcessSchema]
    process_total: int
    locked_by: list[uuid.UUID]


@router.get("/process-counts", response_model=ProcessCountsSchema)
def process_counts() -> dict[str, dict[str, int]]:
    """How many processes (workflows and tasks apart) are in each status."""
    return process_views.status_counts()


@router.get("/subscriptions/{subscription_id}/relations", response_model=SubscriptionRelationsSchema)
def subscription_relations(subscription_id: uuid.UUID) -> dict[str, Any]:
    """The subscriptions this one uses and that use it, the newest processes on it, and those holding its lock."""
    return subscription_views.subscription_relations(subscription_id)
