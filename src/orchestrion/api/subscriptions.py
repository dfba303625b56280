"""``/api/subscriptions``: list, inspect, unlock and delete subscriptions; which workflows may run on one; history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from orchestrion.api.audit import AuditedRoute, audited_route
from orchestrion.api.openapi import error_responses
from orchestrion.db import get_database
from orchestrion.db.listing import parse_range, parse_rest
from orchestrion.domain import domain_model_json
from orchestrion.errors import SubscriptionNotFoundError
from orchestrion.services import subscription_history, subscription_views, subscriptions

router = APIRouter(route_class=AuditedRoute)


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
    query_text: str | None = Query(
        default=None,
        alias="query",
        description="text in the description, product, customer or a resource value (a port name, an IP address), "
        "or the subscription id or its start",
    ),
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
@audited_route("subscription.set_in_sync", "subscription", "subscription_id")
def set_in_sync(subscription_id: uuid.UUID) -> dict[str, Any]:
    """Release a lock left by a process that ended without releasing it (refused while one is still open)."""
    subscriptions.set_in_sync(subscription_id)
    return {"subscription_id": str(subscription_id), "insync": True}


@router.delete("/{subscription_id}", status_code=204, responses=error_responses(409))
@audited_route("subscription.delete", "subscription", "subscription_id")
def delete_subscription(subscription_id: uuid.UUID) -> Response:
    """Delete a subscription no process refers to and no other subscription uses."""
    subscriptions.delete_subscription(subscription_id)
    return Response(status_code=204)


@router.get("/{subscription_id}/versions")
def versions(
    subscription_id: uuid.UUID,
    response: Response,
    range_: str | None = Query(default=None, alias="range"),
    at: Annotated[datetime | None, Query(description="an ISO time (UTC without an offset): the version then")] = None,
) -> Any:
    """The subscription's versions, newest first and paged (``range=first,end``), each with its changes and a
    summary; with ``at``, the one version that was current then, with the subscription as it was."""
    if at is not None:
        return subscription_history.version_at(subscription_id, at if at.tzinfo else at.replace(tzinfo=UTC))
    page = parse_range(range_)
    items, total = subscription_history.versions_page(subscription_id, page)
    response.headers.update(page.headers("versions", total))
    return items


@router.get("/{subscription_id}/versions/{number}")
def version(subscription_id: uuid.UUID, number: int) -> Any:
    """Version ``number`` of the subscription: who made it and the subscription as it was."""
    return subscription_history.version(subscription_id, number)


@router.get("/{subscription_id}/diff")
def diff(
    subscription_id: uuid.UUID,
    from_: int = Query(alias="from", ge=0, description="a version number; 0 is before the first"),
    to: int = Query(ge=1),
) -> Any:
    """What changed from version ``from`` to version ``to``: fields, blocks, resource values, references."""
    return subscription_history.versions_diff(subscription_id, from_, to)
