"""``/api/subscriptions``: list, inspect, unlock and delete subscriptions; which workflows may run on one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from sqlalchemy import delete, func, or_, select

from orchestrion.db import get_database
from orchestrion.db.domain_models import ProcessSubscriptionTable, ProductTable, SubscriptionTable
from orchestrion.domain import domain_model_json, in_use_by_subscription_ids
from orchestrion.errors import ProcessConflictError, SubscriptionNotFoundError
from orchestrion.services import subscriptions
from orchestrion.storage.process_queries import QueryError, filter_pairs, parse_range, sort_pairs

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


def _subscription(s: SubscriptionTable) -> dict[str, Any]:
    return {
        "subscription_id": s.subscription_id,
        "description": s.description,
        "status": s.status,
        "insync": s.insync,
        "customer_id": s.customer_id,
        "product_id": s.product_id,
        "product": {
            "product_id": s.product.product_id,
            "name": s.product.name,
            "description": s.product.description,
            "product_type": s.product.product_type,
            "tag": s.product.tag,
            "status": s.product.status,
        },
        "start_date": s.start_date,
        "end_date": s.end_date,
        "note": s.note,
        "version": s.version,
    }


_SORT = {
    "start_date": SubscriptionTable.start_date,
    "end_date": SubscriptionTable.end_date,
    "description": SubscriptionTable.description,
    "status": SubscriptionTable.status,
    "customer_id": SubscriptionTable.customer_id,
    "insync": SubscriptionTable.insync,
    "product": ProductTable.name,
    "tag": ProductTable.tag,
}
_FILTERS: dict[str, Any] = {
    "status": lambda v: SubscriptionTable.status.in_(v.replace("|", "-").split("-")),
    "insync": lambda v: SubscriptionTable.insync.is_(v.lower() in ("true", "yes", "1")),
    "customer_id": lambda v: SubscriptionTable.customer_id == v,
    "customer": lambda v: SubscriptionTable.customer_id == v,
    "product": lambda v: or_(ProductTable.name == v, ProductTable.product_type == v),
    "product_type": lambda v: ProductTable.product_type == v,
    "tag": lambda v: ProductTable.tag.in_(v.replace("|", "-").split("-")),
    "description": lambda v: func.lower(SubscriptionTable.description).contains(v.lower(), autoescape=True),
}


@router.get("/", response_model=list[SubscriptionSchema])
def list_subscriptions(
    response: Response,
    range_: str | None = Query(default=None, alias="range"),
    sort: str | None = Query(default=None),
    filter_: str | None = Query(default=None, alias="filter"),
    query_text: str | None = Query(default=None, alias="query", description="text in description or product"),
) -> Any:
    """Subscriptions, paged (``range=first,end``), sorted and filtered; ``Content-Range`` tells the total."""
    page = parse_range(range_)
    filters = filter_pairs(filter_.split(",") if filter_ else [])
    sorting = sort_pairs(sort.split(",") if sort else [])
    query = select(SubscriptionTable).join(ProductTable, ProductTable.product_id == SubscriptionTable.product_id)
    if query_text:
        text = query_text.lower()
        query = query.where(
            or_(
                func.lower(SubscriptionTable.description).contains(text, autoescape=True),
                func.lower(ProductTable.name).contains(text, autoescape=True),
                func.lower(SubscriptionTable.customer_id).contains(text, autoescape=True),
            )
        )
    for field, value in filters:
        if field not in _FILTERS:
            raise QueryError(f"cannot filter on {field!r}; choose from {', '.join(sorted(_FILTERS))}")
        query = query.where(_FILTERS[field](value))
    order = []
    for field, direction in sorting:
        if field not in _SORT or direction.upper() not in ("ASC", "DESC"):
            raise QueryError(f"cannot sort by {field!r} {direction!r}")
        order.append(_SORT[field].asc() if direction.upper() == "ASC" else _SORT[field].desc())
    query = query.order_by(*order, SubscriptionTable.subscription_id)
    with get_database().read() as session:
        total = session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
        rows = session.execute(query.offset(page.first).limit(page.size)).scalars().all()
        items = [_subscription(s) for s in rows]
    response.headers["Content-Range"] = page.content_range("subscriptions", total)
    return items


def _get(session: Any, subscription_id: uuid.UUID) -> SubscriptionTable:
    found = session.get(SubscriptionTable, subscription_id)
    if found is None:
        raise SubscriptionNotFoundError(subscription_id)
    return found


@router.get("/domain-model/{subscription_id}")
def domain_model(subscription_id: uuid.UUID) -> Any:
    """The subscription as its domain model (all blocks), with ``in_use_by_ids``."""
    with get_database().read() as session:
        _get(session, subscription_id)
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
    with get_database().read() as session:
        return _subscription(_get(session, subscription_id))


@router.put("/{subscription_id}/set_in_sync")
def set_in_sync(subscription_id: uuid.UUID) -> dict[str, Any]:
    """Release a lock left by a process that ended without releasing it (refused while one is still open)."""
    with get_database().write() as session:
        subscription = _get(session, subscription_id)
        if open_ := subscriptions.open_processes(session, subscription_id):
            raise ProcessConflictError(
                f"Subscription {subscription_id} is used by unfinished processes {', '.join(map(str, open_))}; "
                "finish or abort them first"
            )
        if not subscription.insync:
            subscription.insync = True
            subscription.version += 1
    return {"subscription_id": str(subscription_id), "insync": True}


@router.delete("/{subscription_id}", status_code=204)
def delete_subscription(subscription_id: uuid.UUID) -> Response:
    """Delete a subscription no process refers to and no other subscription uses."""
    with get_database().write() as session:
        subscription = _get(session, subscription_id)
        referenced = session.execute(
            select(ProcessSubscriptionTable.process_id).where(
                ProcessSubscriptionTable.subscription_id == subscription_id
            )
        ).first()
        if referenced is not None:
            raise ProcessConflictError(
                f"Subscription {subscription_id} is referenced by processes; it cannot be deleted"
            )
        if in_use_by_subscription_ids(subscription_id):
            raise ProcessConflictError(f"Subscription {subscription_id} is used by other subscriptions")
        session.execute(
            delete(SubscriptionTable).where(SubscriptionTable.subscription_id == subscription.subscription_id)
        )
    return Response(status_code=204)
