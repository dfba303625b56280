"""``/api/subscriptions``: list, inspect, unlock and delete subscriptions; which workflows may run on one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from orchestrion.api.openapi import error_responses
from orchestrion.db import get_database
from orchestrion.db.listing import parse_rest
from orchestrion.domain import domain_model_json
from orchestrion.errors import SubscriptionNotFoundError
from orchestrion.services import subscription_views, subscriptions

router = APIRouter()


class SubscriptionSchema(BaseModel):
    subscription_id: uuid.UUID
    description: str
    status: str
    insync: bool
    customer_id: str
    product_id: uuid.UUID
    product: dict[str, Any]
    start_date: datetime | None
    end_date: datetime | None
    note: str | None
    version: int


@router.get("/", response_model=list[SubscriptionSchema])
def list_subscriptions(
    response: Response,
    range_: str | None = Query(default=None, alias="range"),
    sort: str | None = Query(default=None),
    filter_: str | None = Query(default=None, alias="filter"),
    query_text: str | None = Query(default=None, alias="query", description="text in description or product"),
) -> Any:
    """Subscriptions, paged (``range=first,end``), sorted and filtered; ``Content-Range`` tells the total
    (``X-Total-Count-Estimated: true``: PostgreSQL's estimate)."""
    listing = parse_rest(range_, sort, filter_)
    items, total = subscription_views.subscription_page(listing, query_text)
    response.headers.update(listing.page.headers("subscriptions", total))
    return items


@router.get("/domain-model/{subscription_id}")
def domain_model(subscription_id: uuid.UUID) -> Any:
    """The subscription as its domain model (all blocks), with ``in_use_by_ids``."""
    subscription_views.subscription_detail(subscription_id)  # 404 for an unknown one
    return domain_model_json(subscription_id)


@router.get("/workflows/{subscription_id}")
def usable_workflows(subscription_id: uuid.UUID) -> dict[str, Any]:
    """Workflows per target that may run on the subscription; blocked ones carry a ``reason``."""
    with get_database().read() as session:
        found = subscriptions.subscription_workflows(session, subscription_id)
    if found is None:
        raise SubscriptionNotFoundError(subscription_id)
    return {target.value.lower(): [wf.as_dict() for wf in workflows] for target, workflows in found.items()}


@router.get("/{subscription_id}", response_model=SubscriptionSchema)
def show_subscription(subscription_id: uuid.UUID) -> Any:
    return subscription_views.subscription_detail(subscription_id)


@router.put("/{subscription_id}/set_in_sync", responses=error_responses(409))
def set_in_sync(subscription_id: uuid.UUID) -> dict[str, Any]:
    """Release a lock left by a process that ended without releasing it (refused while one is still open)."""
    subscriptions.set_in_sync(subscription_id)
    return {"subscription_id": str(subscription_id), "insync": True}


@router.delete("/{subscription_id}", status_code=204, responses=error_responses(409))
def delete_subscription(subscription_id: uuid.UUID) -> Response:
    """Delete a subscription no process refers to and no other subscription uses."""
    subscriptions.delete_subscription(subscription_id)
    return Response(status_code=204)
