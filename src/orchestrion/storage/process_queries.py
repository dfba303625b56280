"""Read models for the API: process details and the paged, sorted, filtered process list."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from orchestrion.db.domain_models import ProcessSubscriptionTable, ProductTable, SubscriptionTable
from orchestrion.db.models import ProcessStepTable, ProcessTable, WorkflowTable
from orchestrion.errors import InvalidInputError, ProcessNotFoundError


class QueryError(InvalidInputError):
    """A bad ``range``, ``sort`` or ``filter`` parameter (answered with 400)."""


SORT_COLUMNS: dict[str, Any] = {
    "started_at": ProcessTable.started_at,
    "started": ProcessTable.started_at,
    "last_modified_at": ProcessTable.last_modified_at,
    "last_modified": ProcessTable.last_modified_at,
    "last_status": ProcessTable.last_status,
    "status": ProcessTable.last_status,
    "last_step": ProcessTable.last_step,
    "assignee": ProcessTable.assignee,
    "created_by": ProcessTable.created_by,
    "is_task": ProcessTable.is_task,
    "workflow_name": WorkflowTable.name,
    "workflow": WorkflowTable.name,
    "workflow_target": WorkflowTable.target,
    "target": WorkflowTable.target,
    "process_id": ProcessTable.process_id,
}


def _text(column: Any, value: str) -> ColumnElement[bool]:
    return func.lower(column).contains(value.lower(), autoescape=True)


def _in(column: Any, value: str) -> ColumnElement[bool]:
    """``a-b-c`` (orchestrator-core's list syntax) or ``a|b`` matches any of the values."""
    parts = [v for v in value.replace("|", "-").split("-") if v]
    return column.in_(parts)


def _bool(column: Any, value: str) -> ColumnElement[bool]:
    if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
        raise QueryError(f"filter on {column.key} needs true or false, not {value!r}")
    return column.is_(value.lower() in ("true", "yes", "1"))


FILTERS: dict[str, Any] = {
    "last_status": lambda v: _in(ProcessTable.last_status, v),
    "status": lambda v: _in(ProcessTable.last_status, v),
    "workflow_name": lambda v: _in(WorkflowTable.name, v),
    "workflow": lambda v: _text(WorkflowTable.name, v),
    "workflow_target": lambda v: _in(WorkflowTable.target, v.upper()),
    "target": lambda v: _in(WorkflowTable.target, v.upper()),
    "is_task": lambda v: _bool(ProcessTable.is_task, v),
    "assignee": lambda v: _in(ProcessTable.assignee, v),
    "created_by": lambda v: _text(ProcessTable.created_by, v),
    "creator": lambda v: _text(ProcessTable.created_by, v),
    "last_step": lambda v: _text(ProcessTable.last_step, v),
    "process_id": lambda v: ProcessTable.process_id == _uuid(v),
    "failed_reason": lambda v: _text(ProcessTable.failed_reason, v),
    "q": lambda v: or_(
        *(_text(c, v) for c in (WorkflowTable.name, ProcessTable.last_step, ProcessTable.created_by)),
        _on_subscriptions(_text(SubscriptionTable.description, v)),
    ),
    "customer": lambda v: _on_subscriptions(SubscriptionTable.customer_id == v),
    "customer_id": lambda v: _on_subscriptions(SubscriptionTable.customer_id == v),
    "subscription_id": lambda v: _on_subscriptions(SubscriptionTable.subscription_id == _uuid(v)),
    "subscriptions": lambda v: _on_subscriptions(_text(SubscriptionTable.description, v)),
    "product": lambda v: _on_subscriptions(or_(ProductTable.name == v, ProductTable.product_type == v)),
    "tag": lambda v: _on_subscriptions(_in(ProductTable.tag, v)),
}


def _on_subscriptions(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """Processes linked to a subscription (of a product) matching ``condition``."""
    return (
        select(ProcessSubscriptionTable.process_id)
        .join(SubscriptionTable, SubscriptionTable.subscription_id == ProcessSubscriptionTable.subscription_id)
        .join(ProductTable, ProductTable.product_id == SubscriptionTable.product_id)
        .where(ProcessSubscriptionTable.process_id == ProcessTable.process_id, condition)
        .exists()
    )


def subscriptions_of(session: Session, process_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The subscriptions each process worked on, for a page of processes in one query."""
    found: dict[uuid.UUID, list[dict[str, Any]]] = {pid: [] for pid in process_ids}
    if not process_ids:
        return found
    rows = session.execute(
        select(
            ProcessSubscriptionTable.process_id,
            SubscriptionTable.subscription_id,
            SubscriptionTable.description,
            SubscriptionTable.status,
            SubscriptionTable.customer_id,
            SubscriptionTable.insync,
            ProductTable.name,
            ProductTable.tag,
        )
        .join(SubscriptionTable, SubscriptionTable.subscription_id == ProcessSubscriptionTable.subscription_id)
        .join(ProductTable, ProductTable.product_id == SubscriptionTable.product_id)
        .where(ProcessSubscriptionTable.process_id.in_(process_ids))
        .order_by(ProcessSubscriptionTable.created_at)
    ).all()
    for r in rows:
        found[r.process_id].append(
            {
                "subscription_id": r.subscription_id,
                "description": r.description,
                "status": r.status,
                "customer_id": r.customer_id,
                "insync": r.insync,
                "product": {"name": r.name, "tag": r.tag},
            }
        )
    return found


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise QueryError(f"{value!r} is not a UUID") from None


def _pairs(values: list[str], what: str = "filter") -> list[tuple[str, str]]:
    if len(values) % 2:
        raise QueryError(f"{what} takes field,value pairs")
    return list(zip(values[::2], values[1::2], strict=True))


def filter_pairs(values: list[str]) -> list[tuple[str, str]]:
    return _pairs(values, "filter")


def sort_pairs(values: list[str]) -> list[tuple[str, str]]:
    """``field,ASC|DESC,...``; a last field without a direction sorts ascending."""
    return _pairs([*values, "ASC"] if len(values) % 2 else values, "sort")


MAX_PAGE = 10_000


@dataclass
class Page:
    """Rows ``first`` up to, not including, ``end`` (orchestrator-core's ``range=first,end``)."""

    first: int = 0
    end: int = 100

    @property
    def size(self) -> int:
        return self.end - self.first

    def content_range(self, entity: str, total: int) -> str:
        return f"{entity} {self.first}-{self.end}/{total}"


def parse_range(value: str | None) -> Page:
    if not value:
        return Page()
    try:
        first, end = (int(v) for v in value.split(","))
    except ValueError:
        raise QueryError("range is first,end (e.g. range=0,20 for the first twenty)") from None
    if first < 0 or end < first or end - first > MAX_PAGE:
        raise QueryError(f"range must satisfy 0 <= first <= end and cover at most {MAX_PAGE} items")
    return Page(first, end)


def _apply(query: Any, sort: list[str], filters: list[str]) -> Any:
    for field, value in filter_pairs(filters):
        if field not in FILTERS:
            raise QueryError(f"cannot filter on {field!r}; choose from {', '.join(sorted(FILTERS))}")
        query = query.where(FILTERS[field](value))
    order = []
    for field, direction in sort_pairs(sort):
        if field not in SORT_COLUMNS or direction.upper() not in ("ASC", "DESC"):
            raise QueryError(f"cannot sort by {field!r} {direction!r}; use field,ASC|DESC")
        column = SORT_COLUMNS[field]
        order.append(column.asc() if direction.upper() == "ASC" else column.desc())
    return query.order_by(*order, ProcessTable.started_at.desc(), ProcessTable.process_id)


def list_processes(
    session: Session, page: Page, sort: list[str], filters: list[str]
) -> tuple[list[tuple[ProcessTable, str, str]], int]:
    """One page of processes with their workflow name and target, and the total matching the filters."""
    base = select(ProcessTable, WorkflowTable.name, WorkflowTable.target).join(
        WorkflowTable, WorkflowTable.workflow_id == ProcessTable.workflow_id
    )
    query = _apply(base, sort, filters)
    total = session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    rows = session.execute(query.offset(page.first).limit(page.size)).all()
    return [(r[0], r[1], r[2]) for r in rows], total


def get_process(session: Session, process_id: uuid.UUID) -> ProcessTable:
    p = session.execute(select(ProcessTable).where(ProcessTable.process_id == process_id)).scalar_one_or_none()
    if p is None:
        raise ProcessNotFoundError(f"Process {process_id} not found")
    return p


def process_steps(session: Session, process_id: uuid.UUID) -> list[ProcessStepTable]:
    return list(
        session.execute(
            select(ProcessStepTable).where(ProcessStepTable.process_id == process_id).order_by(ProcessStepTable.seq)
        ).scalars()
    )
