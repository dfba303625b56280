"""Processes for the GraphQL lists: what they filter, search and sort on (orchestrator-core's
fields), and their pages.

Filters and ``key:value`` search terms use the snake_case keys of ``PROCESS_CLAUSES``; sorting the
camelCase keys of ``PROCESS_SORTS``. A process's product is that of the subscriptions it worked on.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, CompoundSelect, FromClause, Select, any_, func, literal_column, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from orchestrion.db.domain_models import ProcessSubscriptionTable, ProductTable, SubscriptionTable
from orchestrion.db.filters import QueryType
from orchestrion.db.filters.search_filters import filter_exact, inferred_filter, text_contains, through
from orchestrion.db.listing import counted_alone, offset_page
from orchestrion.db.models import ProcessTable, WorkflowTable
from orchestrion.db.search_query import Node, WhereCondGenerator
from orchestrion.db.sorting import SortFunction, generic_column_sort
from orchestrion.engine.status import ProcessStatus
from orchestrion.storage.subscription_search import matching_subscriptions

_P = ProcessTable
_W = WorkflowTable
_S = SubscriptionTable
_PR = ProductTable


class _OnSqlite(ColumnElement[bool]):
    """A condition written one way for SQLite and another for PostgreSQL, chosen when the statement is
    compiled, for the database it runs on: their planners read the same condition differently."""

    inherit_cache = True
    _traverse_internals = [
        ("elsewhere", InternalTraversal.dp_clauseelement),
        ("sqlite", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, elsewhere: ColumnElement[bool], sqlite: ColumnElement[bool]) -> None:
        self.elsewhere = elsewhere
        self.sqlite = sqlite

    @property
    def _from_objects(self) -> list[FromClause]:
        """The tables either way names, so a select knows what it must read from (``counted_alone``)."""
        return [*self.elsewhere._from_objects, *self.sqlite._from_objects]


@compiles(_OnSqlite)
def _elsewhere(element: _OnSqlite, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.elsewhere, **kw)


@compiles(_OnSqlite, "sqlite")
def _on_sqlite(element: _OnSqlite, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.sqlite, **kw)


def _worked_on(linked: Select[Any]) -> ColumnElement[bool]:
    """The process worked on one of ``linked``'s subscriptions.

    A correlated ``EXISTS`` on PostgreSQL, which plans it as a semi-join; ``IN`` on SQLite, which
    tests an ``EXISTS`` process by process, the page's count too: at 100,000 processes the first
    page of one subscription's processes took 85 ms (a scan of them all), of a customer's 300 and of
    a product tag's (a quarter) 460; starting from the matches 16, 67 and 173 (that page then sorts
    its 25,000 matches).
    """
    correlated = linked.where(ProcessSubscriptionTable.process_id == _P.process_id).exists()
    return _OnSqlite(correlated, _P.process_id.in_(linked))


def _one_of(column: Any, found: CompoundSelect[Any]) -> ColumnElement[bool]:
    """``column`` is one of the values ``found`` selects, which is read once.

    ``= ANY(ARRAY(found))`` on PostgreSQL: an InitPlan, run once. Inside the correlated ``EXISTS`` of
    ``_worked_on``, ``IN (found)`` was planned as a join redone for every process (orchestrator-ui's
    completed tab searched for a word that 190 of a million processes' subscriptions hold: 2.1 s,
    108 ms with it). ``IN`` on SQLite, which reads it once anyway.
    """
    return _OnSqlite(column == any_(func.array(found.scalar_subquery())), column.in_(found))


def _broad(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    """A status filter, told to SQLite's planner as one that matches many processes: ``likelihood(clause, 0.9)``.

    SQLite keeps no statistics of a column's values (``sqlite_stat1`` has the average rows per value
    only), so it took the two statuses of orchestrator-ui's completed tab for a few rows, and sorted
    the 81,000 completed processes of 100,000 for a page of 15 (65 ms) instead of reading the list's
    order until the page was full (1.4 ms); its count still reads the status index. A rare status
    costs a longer read in order instead (the failed tasks' 900: 12 ms). PostgreSQL: the clause as it is.
    """
    return _OnSqlite(clause, func.likelihood(clause, literal_column("0.9")))  # a constant, as SQLite demands


_STATUS = filter_exact(_P.last_status, ProcessStatus)


def _statuses(node: Node) -> ColumnElement[bool]:
    return _broad(_STATUS(node))


def _of_workflows(clause: WhereCondGenerator) -> WhereCondGenerator:
    return through(_P.workflow_id, _W.workflow_id, clause)


def _linked(clause: WhereCondGenerator) -> WhereCondGenerator:
    """A clause on the subscriptions (and their products) a process worked on."""

    def on_subscriptions(node: Node) -> ColumnElement[bool]:
        return _worked_on(
            select(ProcessSubscriptionTable.process_id)
            .join(_S, _S.subscription_id == ProcessSubscriptionTable.subscription_id)
            .join(_PR, _PR.product_id == _S.product_id)
            .where(clause(node))
        )

    return on_subscriptions


PROCESS_CLAUSES: dict[str, WhereCondGenerator] = {
    "process_id": inferred_filter(_P.process_id),
    "workflow_id": inferred_filter(_P.workflow_id),
    "workflow_name": _of_workflows(inferred_filter(_W.name)),
    "target": _of_workflows(filter_exact(_W.target)),
    "workflow_target": _of_workflows(filter_exact(_W.target)),
    "is_task": inferred_filter(_P.is_task),
    "last_status": _statuses,
    "last_step": inferred_filter(_P.last_step),
    "assignee": filter_exact(_P.assignee),
    "created_by": inferred_filter(_P.created_by),
    "failed_reason": inferred_filter(_P.failed_reason),
    "traceback": inferred_filter(_P.traceback),
    "note": inferred_filter(_P.note),
    "started_at": inferred_filter(_P.started_at),
    "last_modified_at": inferred_filter(_P.last_modified_at),
    "subscription_id": _linked(inferred_filter(_S.subscription_id)),
    "customer": _linked(inferred_filter(_S.customer_id)),
    "customer_id": _linked(inferred_filter(_S.customer_id)),
    "product": _linked(inferred_filter(_PR.name)),
    "product_description": _linked(inferred_filter(_PR.description)),
    "tag": _linked(filter_exact(_PR.tag)),
}


def _free_text(node: Node) -> ColumnElement[bool]:
    """A bare word of a search: the workflow, last step or creator, or what it finds in a subscription the
    process worked on (``matching_subscriptions``: those first, then their links)."""
    linked = select(ProcessSubscriptionTable.process_id).where(
        _one_of(ProcessSubscriptionTable.subscription_id, matching_subscriptions(node))
    )
    own = (text_contains(column)(node) for column in (_P.last_step, _P.created_by))
    return or_(_of_workflows(text_contains(_W.name))(node), *own, _worked_on(linked))


PROCESS_FREE_TEXT: WhereCondGenerator = _free_text


def _product_column(column: Any) -> Any:
    """The first (by name) linked subscription's product value, to sort by."""
    return (
        select(func.min(column))
        .select_from(ProcessSubscriptionTable)
        .join(_S, _S.subscription_id == ProcessSubscriptionTable.subscription_id)
        .join(_PR, _PR.product_id == _S.product_id)
        .where(ProcessSubscriptionTable.process_id == _P.process_id)
        .scalar_subquery()
    )


PROCESS_SORTS: dict[str, SortFunction] = {
    "processId": generic_column_sort(_P.process_id),
    "workflowId": generic_column_sort(_P.workflow_id),
    "workflowName": generic_column_sort(_W.name),
    "workflowTarget": generic_column_sort(_W.target),
    "isTask": generic_column_sort(_P.is_task),
    "lastStatus": generic_column_sort(_P.last_status),
    "lastStep": generic_column_sort(_P.last_step),
    "assignee": generic_column_sort(_P.assignee),
    "createdBy": generic_column_sort(_P.created_by),
    "failedReason": generic_column_sort(_P.failed_reason),
    "traceback": generic_column_sort(_P.traceback),
    "note": generic_column_sort(_P.note),
    "startedAt": generic_column_sort(_P.started_at),
    "lastModifiedAt": generic_column_sort(_P.last_modified_at),
    "productName": generic_column_sort(_product_column(_PR.name)),
    "productTag": generic_column_sort(_product_column(_PR.tag)),
    "productType": generic_column_sort(_product_column(_PR.product_type)),
    "productDescription": generic_column_sort(_product_column(_PR.description)),
}

_COLUMNS = (
    _P.process_id,
    _P.workflow_id,
    _W.name.label("workflow_name"),
    _W.target.label("workflow_target"),
    _P.is_task,
    _P.last_status,
    _P.last_step,
    _P.assignee,
    _P.created_by,
    _P.failed_reason,
    _P.traceback,
    _P.note,
    _P.started_at,
    _P.last_modified_at,
)


def search_processes() -> QueryType:
    """The select the filters, search and sorts of a list are applied to."""
    return select(*_COLUMNS).join(_W, _W.workflow_id == _P.workflow_id)


def search_process(process_id: uuid.UUID) -> QueryType:
    """``search_processes`` for one process."""
    return search_processes().where(_P.process_id == process_id)


def process_page(session: Session, query: QueryType, first: int, after: int) -> tuple[list[dict[str, Any]], int]:
    """A page of ``query`` (newest first after the requested order), as plain values, and the total."""
    ordered = query.order_by(_P.started_at.desc(), _P.process_id)
    rows, total = offset_page(session, ordered, first, after, counted=counted_alone(query, _P.process_id))
    return [dict(row._mapping) for row in rows], total


def subscription_ids_of(session: Session, process_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The subscriptions each process worked on, in the order it first did, for many processes at once."""
    found: dict[uuid.UUID, list[uuid.UUID]] = {pid: [] for pid in process_ids}
    query = (
        select(ProcessSubscriptionTable.process_id, ProcessSubscriptionTable.subscription_id)
        .where(ProcessSubscriptionTable.process_id.in_(process_ids))
        .order_by(ProcessSubscriptionTable.created_at)
    )
    for process_id, subscription_id in session.execute(query) if process_ids else ():
        if subscription_id not in found[process_id]:
            found[process_id].append(subscription_id)
    return found


def first_subscription_of(session: Session, process_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, uuid.UUID]]:
    """The customer and product of the first subscription each process worked on (a process's own).

    The links first, then their subscriptions, each by an index: the two joined in one query had
    PostgreSQL hash every subscription (40 ms at 100,000) for a page of a thousand processes.
    """
    if not process_ids:
        return {}
    link = ProcessSubscriptionTable
    links = select(link.process_id, link.subscription_id).where(link.process_id.in_(process_ids))
    first = {pid: sid for pid, sid in session.execute(links.order_by(link.created_at.desc()))}  # the earliest last
    owned = select(_S.subscription_id, _S.customer_id, _S.product_id).where(_S.subscription_id.in_(set(first.values())))
    owners = {sid: (customer_id, product_id) for sid, customer_id, product_id in session.execute(owned)}
    return {pid: owners[sid] for pid, sid in first.items() if sid in owners}


def processes_of_subscriptions(
    session: Session, subscription_ids: list[uuid.UUID], first: int, after: int
) -> dict[uuid.UUID, tuple[list[dict[str, Any]], int]]:
    """A page of each subscription's processes (newest first) and how many it has, in one query.

    What a page of subscriptions with their ``processes`` needs: a window per subscription numbers
    its processes, so paging happens in the database whatever the number of subscriptions.
    """
    link = (
        select(ProcessSubscriptionTable.process_id, ProcessSubscriptionTable.subscription_id)
        .where(ProcessSubscriptionTable.subscription_id.in_(subscription_ids))
        .distinct()
        .subquery()
    )
    order = (_P.started_at.desc(), _P.process_id)
    numbered = (
        search_processes()
        .join(link, link.c.process_id == _P.process_id)
        .add_columns(
            link.c.subscription_id.label("of_subscription"),
            func.row_number().over(partition_by=link.c.subscription_id, order_by=order).label("position"),
            func.count().over(partition_by=link.c.subscription_id).label("total"),
        )
        .subquery()
    )
    in_page = (numbered.c.position > after) & (numbered.c.position <= after + first)
    # The first process of each subscription comes too, so its count comes when the page is empty.
    query = select(numbered).where(in_page | (numbered.c.position == 1)).order_by(numbered.c.position)
    found: dict[uuid.UUID, tuple[list[dict[str, Any]], int]] = {sid: ([], 0) for sid in subscription_ids}
    for row in session.execute(query).mappings() if subscription_ids else ():
        values = dict(row)
        subscription_id, position, total = values.pop("of_subscription"), values.pop("position"), values.pop("total")
        page, _ = found[subscription_id]
        if after < position <= after + first:
            page.append(values)
        found[subscription_id] = (page, total)
    return found
