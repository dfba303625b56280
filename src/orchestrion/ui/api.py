"""``/api/ui``: two read-only summaries the web UI needs and the main API does not offer in one request."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import func, select

from orchestrion.db import get_database
from orchestrion.db.domain_models import ProcessSubscriptionTable, ProductTable, SubscriptionTable
from orchestrion.db.models import ProcessTable, WorkflowTable
from orchestrion.domain.relations import depends_on_subscription_ids, in_use_by_subscription_ids
from orchestrion.errors import SubscriptionNotFoundError

router = APIRouter()

PROCESS_LIMIT = 100


class ProcessCountsSchema(BaseModel):
    processes: dict[str, int]
    tasks: dict[str, int]


class RelatedSubscriptionSchema(BaseModel):
    subscription_id: uuid.UUID
    description: str
    status: str
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


@router.get("/process-counts", response_model=ProcessCountsSchema)
def process_counts() -> dict[str, dict[str, int]]:
    """How many processes (workflows and tasks apart) are in each status."""
    counts: dict[str, dict[str, int]] = {"processes": {}, "tasks": {}}
    query = select(ProcessTable.is_task, ProcessTable.last_status, func.count()).group_by(
        ProcessTable.is_task, ProcessTable.last_status
    )
    with get_database().read() as session:
        for is_task, status, count in session.execute(query):
            counts["tasks" if is_task else "processes"][status] = count
    return counts


def _related(session: Any, ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    if not ids:
        return []
    s = SubscriptionTable
    rows = session.execute(
        select(s.subscription_id, s.description, s.status, ProductTable.name)
        .join(ProductTable, ProductTable.product_id == s.product_id)
        .where(s.subscription_id.in_(ids))
        .order_by(s.description)
    )
    return [
        {"subscription_id": sid, "description": description, "status": status, "product_name": product}
        for sid, description, status, product in rows
    ]


@router.get("/subscriptions/{subscription_id}/relations", response_model=SubscriptionRelationsSchema)
def subscription_relations(subscription_id: uuid.UUID) -> dict[str, Any]:
    """The subscriptions this one uses and that use it, and the newest processes that worked on it."""
    depends_on_ids = depends_on_subscription_ids(subscription_id)
    in_use_by_ids = in_use_by_subscription_ids(subscription_id)
    with get_database().read() as session:
        if session.get(SubscriptionTable, subscription_id) is None:
            raise SubscriptionNotFoundError(subscription_id)
        linked = (
            select(ProcessTable, WorkflowTable.name, WorkflowTable.target)
            .join(WorkflowTable, WorkflowTable.workflow_id == ProcessTable.workflow_id)
            .join(ProcessSubscriptionTable, ProcessSubscriptionTable.process_id == ProcessTable.process_id)
            .where(ProcessSubscriptionTable.subscription_id == subscription_id)
        )
        total = session.execute(select(func.count()).select_from(linked.subquery())).scalar_one()
        rows = session.execute(linked.order_by(ProcessTable.started_at.desc()).limit(PROCESS_LIMIT)).all()
        processes = [
            {
                "process_id": p.process_id,
                "workflow_name": name,
                "workflow_target": target,
                "last_status": p.last_status,
                "created_by": p.created_by,
                "started_at": p.started_at,
                "last_modified_at": p.last_modified_at,
            }
            for p, name, target in rows
        ]
        depends_on = _related(session, depends_on_ids)
        in_use_by = _related(session, in_use_by_ids)
    return {"depends_on": depends_on, "in_use_by": in_use_by, "processes": processes, "process_total": total}
