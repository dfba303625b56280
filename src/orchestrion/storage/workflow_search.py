"""Workflows for the GraphQL lists: what they filter, search and sort on (orchestrator-core's
fields), their pages, and the products each is linked to.

Reads only; the ``workflows`` rows are written in ``orchestrion.storage.workflow_rows``.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from orchestrion.db.domain_models import ProductTable, products_workflows
from orchestrion.db.filters import QueryType
from orchestrion.db.filters.search_filters import filter_exact, inferred_filter, text_contains
from orchestrion.db.listing import offset_page
from orchestrion.db.models import WorkflowTable
from orchestrion.db.search_query import Node, WhereCondGenerator
from orchestrion.db.sorting import SortFunction, generic_column_sort

_W = WorkflowTable
_PR = ProductTable
_LINK = products_workflows.c


def _linked(clause: WhereCondGenerator) -> WhereCondGenerator:
    def on_products(node: Node) -> ColumnElement[bool]:
        return (
            select(_LINK.workflow_id)
            .join(_PR, _PR.product_id == _LINK.product_id)
            .where(_LINK.workflow_id == _W.workflow_id, clause(node))
            .exists()
        )

    return on_products


WORKFLOW_CLAUSES: dict[str, WhereCondGenerator] = {
    "workflow_id": inferred_filter(_W.workflow_id),
    "name": inferred_filter(_W.name),
    "description": inferred_filter(_W.description),
    "target": filter_exact(_W.target),
    "is_task": inferred_filter(_W.is_task),
    "created_at": inferred_filter(_W.created_at),
    "deleted_at": inferred_filter(_W.deleted_at),
    "product": _linked(inferred_filter(_PR.name)),
    "tag": _linked(filter_exact(_PR.tag)),
}


def _free_text(node: Node) -> ColumnElement[bool]:
    return or_(text_contains(_W.name)(node), text_contains(_W.description)(node))


WORKFLOW_FREE_TEXT: WhereCondGenerator = _free_text

WORKFLOW_SORTS: dict[str, SortFunction] = {
    "workflowId": generic_column_sort(_W.workflow_id),
    "name": generic_column_sort(_W.name),
    "description": generic_column_sort(_W.description),
    "target": generic_column_sort(_W.target),
    "isTask": generic_column_sort(_W.is_task),
    "createdAt": generic_column_sort(_W.created_at),
    "deletedAt": generic_column_sort(_W.deleted_at),
}

_COLUMNS = (_W.workflow_id, _W.name, _W.target, _W.description, _W.is_task, _W.created_at, _W.deleted_at)


def search_workflows() -> QueryType:
    """The select the filters, search and sorts of a list are applied to: live workflows."""
    return select(*_COLUMNS).where(_W.deleted_at.is_(None))


def workflow_page(session: Session, query: QueryType, first: int, after: int) -> tuple[list[dict[str, Any]], int]:
    rows, total = offset_page(session, query.order_by(_W.name), first, after)
    return [dict(row._mapping) for row in rows], total


_PRODUCT_COLUMNS = (
    _PR.product_id,
    _PR.name,
    _PR.description,
    _PR.product_type,
    _PR.tag,
    _PR.status,
    _PR.created_at,
    _PR.end_date,
)


def products_of_workflows(session: Session, workflow_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The products each workflow is linked to, by name, for many workflows at once."""
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    rows = session.execute(
        select(_LINK.workflow_id, *_PRODUCT_COLUMNS)
        .join(_PR, _PR.product_id == _LINK.product_id)
        .where(_LINK.workflow_id.in_(workflow_ids))
        .order_by(_PR.name)
    )
    for row in rows:
        values = dict(row._mapping)
        found.setdefault(values.pop("workflow_id"), []).append(values)
    return found


def workflows_of_products(session: Session, product_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The live workflows each product is linked to, by name, for many products at once."""
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    rows = session.execute(
        select(_LINK.product_id, *_COLUMNS)
        .join(_W, _W.workflow_id == _LINK.workflow_id)
        .where(_LINK.product_id.in_(product_ids), _W.deleted_at.is_(None))
        .order_by(_W.name)
    )
    for row in rows:
        values = dict(row._mapping)
        found.setdefault(values.pop("product_id"), []).append(values)
    return found
