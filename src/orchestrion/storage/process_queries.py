"""Reading processes for people and clients: lists, one process with its history, counts.

Plain values (dicts) come out, never ORM rows; ``orchestrion.services.process_views`` puts them
together with what the workflow's code knows (steps still to run, the form of a suspended step)
for the REST API, the CLI and the UI alike.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    and_,
    func,
    intersect,
    literal,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.util import ClauseAdapter

from orchestrion.db import listing
from orchestrion.db.domain_models import ProcessSubscriptionTable, ProductTable, SubscriptionTable
from orchestrion.db.listing import (
    Estimate,
    ListQuery,
    ListSpec,
    QueryError,
    any_of,
    contains,
    in_order,
    planned_rows,
    truth,
)
from orchestrion.db.models import ProcessStepTable, ProcessTable, WorkflowTable
from orchestrion.engine.status import TERMINAL_STATUSES, ProcessStatus
from orchestrion.errors import ProcessNotFoundError

_P = ProcessTable
_W = WorkflowTable


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise QueryError(f"{value!r} is not a UUID") from None


def _linked(condition: ColumnElement[bool], of_product: bool = False) -> Select[Any]:
    """The ids of processes linked to a subscription (``of_product``: whose product) matching ``condition``.

    The products table is joined only for a condition on it: a customer's links are then read off
    indexes alone.
    """
    linked = select(ProcessSubscriptionTable.process_id).join(
        SubscriptionTable, SubscriptionTable.subscription_id == ProcessSubscriptionTable.subscription_id
    )
    if of_product:
        linked = linked.join(ProductTable, ProductTable.product_id == SubscriptionTable.product_id)
    return linked.where(condition)


def _on_subscriptions(condition: ColumnElement[bool], of_product: bool = False) -> ColumnElement[bool]:
    """Processes ``_linked`` to a matching subscription.

    ``IN`` rather than a correlated ``EXISTS``: SQLite then starts from the few matching
    subscriptions (through their indexes) instead of testing every process, which at 100,000
    processes made a customer filter, and above all its count, take seconds (but see ``_page_in_order``).
    """
    return _P.process_id.in_(_linked(condition, of_product))


# filters on the subscriptions a process worked on: value -> (condition, whether on the product)
_BY_SUBSCRIPTION: dict[str, Callable[[str], tuple[ColumnElement[bool], bool]]] = {
    "customer": lambda v: (SubscriptionTable.customer_id == v, False),
    "customer_id": lambda v: (SubscriptionTable.customer_id == v, False),
    "subscription_id": lambda v: (SubscriptionTable.subscription_id == _uuid(v), False),
    "subscriptions": lambda v: (contains(SubscriptionTable.description, v), False),
    "product": lambda v: (or_(ProductTable.name == v, ProductTable.product_type == v), True),
    "tag": lambda v: (ProductTable.tag.in_(any_of(v)), True),
}


def _subscription_filter(
    on: Callable[[str], tuple[ColumnElement[bool], bool]],
) -> Callable[[str], ColumnElement[bool]]:
    return lambda value: _on_subscriptions(*on(value))


def _counted_by_links(listing: ListQuery) -> Select[Any] | None:
    """The processes matching only filters on subscriptions, counted off ``processes_subscriptions``
    alone (its foreign key says each of them exists) instead of looking up every process; None
    for other filters."""
    if not listing.filters or any(name not in _BY_SUBSCRIPTION for name, _ in listing.filters):
        return None
    linked = [_linked(*_BY_SUBSCRIPTION[name](value)) for name, value in listing.filters]
    return intersect(*linked).subquery().select() if len(linked) > 1 else linked[0].distinct()


PROCESS_LIST = ListSpec(
    entity="processes",
    sorts={
        "started_at": _P.started_at,
        "started": _P.started_at,
        "last_modified_at": _P.last_modified_at,
        "last_modified": _P.last_modified_at,
        "last_status": _P.last_status,
        "status": _P.last_status,
        "last_step": _P.last_step,
        "assignee": _P.assignee,
        "created_by": _P.created_by,
        "is_task": _P.is_task,
        "workflow_name": _W.name,
        "workflow": _W.name,
        "workflow_target": _W.target,
        "target": _W.target,
        "process_id": _P.process_id,
    },
    filters={
        "last_status": lambda v: _P.last_status.in_(any_of(v)),
        "status": lambda v: _P.last_status.in_(any_of(v)),
        "workflow_name": lambda v: _W.name.in_(any_of(v)),
        "workflow": lambda v: contains(_W.name, v),
        "workflow_target": lambda v: _W.target.in_(any_of(v.upper())),
        "target": lambda v: _W.target.in_(any_of(v.upper())),
        "is_task": lambda v: _P.is_task.is_(truth(v)),
        "assignee": lambda v: _P.assignee.in_(any_of(v)),
        "created_by": lambda v: contains(_P.created_by, v),
        "creator": lambda v: contains(_P.created_by, v),
        "last_step": lambda v: contains(_P.last_step, v),
        "process_id": lambda v: _P.process_id == _uuid(v),
        "failed_reason": lambda v: contains(_P.failed_reason, v),
        "q": lambda v: or_(
            *(contains(c, v) for c in (_W.name, _P.last_step, _P.created_by)),
            _on_subscriptions(contains(SubscriptionTable.description, v)),
        ),
        **{name: _subscription_filter(on) for name, on in _BY_SUBSCRIPTION.items()},
        # a process some step started (a child, a parallel branch), or one started from outside
        "top_level": lambda v: _P.parent_process_id.is_(None) if truth(v) else _P.parent_process_id.is_not(None),
        "parent_process_id": lambda v: _P.parent_process_id == _uuid(v),
    },
    tiebreak=(_P.started_at.desc(), _P.process_id.asc()),
)

# The filters on subscriptions that are index lookups: counting their matches stops where told to.
_LOOKED_UP = frozenset({"customer", "customer_id", "subscription_id", "product", "tag"})
SCAN_BOUNDS = 2  # a page read in order tests at most this many times the bound's processes


def _page_in_order(session: Session, ids: Select[Any], listing: ListQuery) -> list[Any] | None:
    """SQLite: the ids of a page of processes filtered on one subscription lookup alone, in the default
    order, read along the list's index; None where sorting the matches as usual is the better way.

    SQLite's planner always starts from the matches (it has no statistics for a subquery) and sorts
    them: a tag on a quarter of 100,000 processes sorted 25,000 rows for a page of 20 (70 ms).
    Reading the list's index in order and testing each process finds that page after about 80 (0.1
    ms), but one subscription's processes read so are a scan of them all. Sorting m matches costs
    about m, reading in order about (offset + size) * n / m of the n processes when the matches are
    spread over time, so it is chosen from m >= sqrt((offset + size) * n), the matching links
    counted up to that bound. Matches bunched among older processes would make it a scan too: it
    reads at most ``SCAN_BOUNDS`` times the bound before sorting as before. PostgreSQL plans all
    this from its statistics.
    """
    if listing.sort or len(listing.filters) != 1 or (name := listing.filters[0][0]) not in _LOOKED_UP:
        return None
    first, size = listing.page.first, listing.page.size
    # max(rowid): the largest rowid in use, at least n, found in one index step
    largest = session.execute(select(func.max(literal_column("rowid"))).select_from(_P)).scalar() or 0
    bound = math.isqrt((first + size) * largest) + 1
    if 2 * bound > largest:  # a deep page: counting up to the bound would cost what sorting the matches does
        return None
    condition, of_product = _BY_SUBSCRIPTION[name](listing.filters[0][1])
    linked = _linked(condition, of_product)
    # the links, not the processes: with DISTINCT, SQLite reads every link in order to stop at the bound
    if session.execute(select(func.count()).select_from(linked.limit(bound).subquery())).scalar_one() < bound:
        return None  # fewer processes match: sorted
    edge = session.execute(
        select(_P.started_at).order_by(*PROCESS_LIST.tiebreak).offset(SCAN_BOUNDS * bound).limit(1)
    ).scalar()
    scanned = ids if edge is None else ids.where(_P.started_at >= edge)  # a prefix of the list's order
    tested = scanned.where(linked.where(ProcessSubscriptionTable.process_id == _P.process_id).exists())
    page = list(session.scalars(tested.order_by(*PROCESS_LIST.tiebreak).offset(first).limit(size)))
    if edge is not None and len(page) < size:  # not in that prefix: the matches are older, sorted
        return None
    return page


_ITEM_COLUMNS = (
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
    _P.started_at,
    _P.last_modified_at,
    _P.parent_process_id,
    _P.branch,
)
_DETAIL_COLUMNS = (
    *_ITEM_COLUMNS,
    _P.traceback,
    _P.note,
    _P.state,
    _P.cursor,
    _P.callback_progress,
    _P.retry_count,
    _P.next_retry_at,
)


def _joined(*columns: Any) -> Any:
    return select(*columns).join(_W, _W.workflow_id == _P.workflow_id)


# the sorts and filters on the workflows table (free text ``q`` too, but it does not single out workflows)
_ON_WORKFLOW = frozenset({"workflow_name", "workflow", "workflow_target", "target"})


def list_processes(session: Session, listing: ListQuery) -> tuple[list[dict[str, Any]], int]:
    """One page of processes (each with its subscriptions), and how many match the filters.

    The page's ids come first, from as few columns as the order and filters need (a deep offset is
    then read off an index alone), and only those rows are fetched in full: a deferred join.
    """
    sorts, filters = {name for name, _ in listing.sort}, {name for name, _ in listing.filters}
    ids = select(_P.process_id)
    if (sorts | filters) & (_ON_WORKFLOW | {"q"}):
        ids = ids.join(_W, _W.workflow_id == _P.workflow_id)
    # another way to the page where the database's planner would sort too much: per workflow on
    # PostgreSQL, in the list's order on SQLite
    if session.get_bind().dialect.name == "sqlite":
        read: Callable[[], list[Any] | None] | None = partial(_page_in_order, session, ids, listing)
    else:
        read = partial(_per_workflow_page, session, listing) if (sorts | filters) & _ON_WORKFLOW else None
    page, matched = PROCESS_LIST.fetch_ids(session, ids, listing, read, _counted_by_links(listing))
    rows = session.execute(_joined(*_ITEM_COLUMNS).where(_P.process_id.in_(page))).all() if page else []
    items = in_order((dict(row._mapping) for row in rows), page, lambda item: item["process_id"])
    linked = subscriptions_of(session, [item["process_id"] for item in items])
    for item in items:
        item["subscriptions"] = linked[item["process_id"]]
    return items, matched


def _per_workflow_page(session: Session, listing: ListQuery) -> list[uuid.UUID]:
    """A page's ids when the order or a filter involves the workflow, on PostgreSQL.

    Sorting by a workflow's name would sort every matching process (the key is in another table).
    Instead each workflow gives its own first ``first + size`` matches (a ``LATERAL`` subquery per
    workflow), in which the workflow's columns are constants: it reads them off a ``(workflow_id,
    ...)`` index in the list's order and stops. The page's rows are always among those merged,
    because each workflow's rows keep the list's order.
    """
    first, size = listing.page.first, listing.page.size
    workflow = _W.__table__.alias("per_workflow")
    keys = [PROCESS_LIST.sorts[name] for name, _ in listing.sort if PROCESS_LIST.sorts[name].table is _P.__table__]
    of_workflow = select(*{id(k): k for k in (*keys, _P.started_at, _P.process_id)}.values())
    of_workflow = PROCESS_LIST.apply(of_workflow.where(_P.workflow_id == _W.workflow_id), listing)
    inner = ClauseAdapter(workflow).traverse(of_workflow).limit(first + size).lateral("first_of_workflow")
    adapt = ClauseAdapter(inner).chain(ClauseAdapter(workflow)).traverse
    query = select(adapt(_P.__table__.c.process_id)).select_from(workflow).join(inner, true())
    return list(
        session.scalars(query.order_by(*(adapt(o) for o in PROCESS_LIST.order(listing))).offset(first).limit(size))
    )


def get_process(session: Session, process_id: uuid.UUID) -> dict[str, Any]:
    """One process with its state, cursor and failure, and the subscriptions it worked on."""
    found = get_processes(session, [process_id]).get(process_id)
    if found is None:
        raise ProcessNotFoundError(f"Process {process_id} not found")
    return found


def get_processes(session: Session, process_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """``get_process`` for many processes at once (those that exist)."""
    rows = session.execute(_joined(*_DETAIL_COLUMNS).where(_P.process_id.in_(process_ids))).all()
    found = {row.process_id: dict(row._mapping) for row in rows}
    for process_id, linked in subscriptions_of(session, list(found)).items():
        found[process_id]["subscriptions"] = linked
    for process_id, kids in children_of(session, list(found)).items():
        found[process_id]["children"] = kids
    return found


def children_of(session: Session, process_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The child processes (and parallel branches) each process started, oldest first, in one query."""
    found: dict[uuid.UUID, list[dict[str, Any]]] = {pid: [] for pid in process_ids}
    if not process_ids:
        return found
    query = _joined(*_ITEM_COLUMNS, _P.child_group).where(_P.parent_process_id.in_(process_ids))
    for row in session.execute(query.order_by(_P.started_at, _P.process_id)):
        found[row.parent_process_id].append(dict(row._mapping))
    return found


def process_steps(session: Session, process_id: uuid.UUID) -> list[dict[str, Any]]:
    """The process's history rows, in order."""
    return steps_of_processes(session, [process_id])[process_id]


def steps_of_processes(session: Session, process_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The history rows of many processes at once, each in order."""
    s = ProcessStepTable
    columns = (
        s.process_id,
        s.step_id,
        s.name,
        s.step_key,
        s.status,
        s.state,
        s.created_by,
        s.action,
        s.started_at,
        s.completed_at,
    )
    found: dict[uuid.UUID, list[dict[str, Any]]] = {pid: [] for pid in process_ids}
    query = select(*columns).where(s.process_id.in_(process_ids)).order_by(s.process_id, s.seq)
    for row in session.execute(query) if process_ids else ():
        values = dict(row._mapping)
        found[values.pop("process_id")].append(values)
    return found


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


def status_counts(session: Session) -> dict[str, dict[str, int]]:
    """How many processes (workflows and tasks apart) are in each status.

    Counted, except on PostgreSQL for a status of which the planner expects more than
    ``ESTIMATE_ABOVE`` rows: that one is its ``Estimate`` (counting a million completed processes
    reads the whole index, most of a second), as list totals are. The small statuses, those in
    flight or failed that operators act on, are counted unless they are that many too.
    """
    counts: dict[str, dict[str, int]] = {"processes": {}, "tasks": {}}
    query = select(_P.is_task, _P.last_status, func.count()).group_by(_P.is_task, _P.last_status)
    kinds = [(is_task, status.value) for is_task in (False, True) for status in ProcessStatus]
    estimated: dict[tuple[bool, str], int] = {}
    whole = planned_rows(session, select(_P.process_id))
    if whole is not None and whole > listing.ESTIMATE_ABOVE:  # a small table is counted at once, without more plans
        # plan only the statuses that may be that many (a plan is a round trip each: 24 took most of the answer)
        frequent = listing.frequent_values(session, "processes", "last_status", whole)
        planned = {
            kind: planned_rows(session, select(_P.process_id).where(_of_kind(kind)))
            for kind in kinds
            if frequent is None or kind[1] in frequent
        }
        estimated = {kind: n for kind, n in planned.items() if n is not None and n > listing.ESTIMATE_ABOVE}
    for (is_task, status), rows in estimated.items():
        counts["tasks" if is_task else "processes"][status] = Estimate(rows)
    counted: Executable = query
    if estimated:  # count the others, an index range each (as one OR, PostgreSQL scanned all the index: 99 ms)
        ranges = [
            select(literal(kind[0]), literal(kind[1]), func.count()).where(_of_kind(kind))
            for kind in kinds
            if kind not in estimated
        ]
        if not ranges:
            return counts
        counted = union_all(*ranges)
    for is_task, status, count in session.execute(counted):
        if count:  # as the grouped count, which has no row for a status no process is in
            counts["tasks" if is_task else "processes"][status] = count
    return counts


def _of_kind(kind: tuple[bool, str]) -> ColumnElement[bool]:
    return and_(_P.is_task == kind[0], _P.last_status == kind[1])


def processes_of_subscription(
    session: Session, subscription_id: uuid.UUID, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """The newest processes that worked on a subscription, and how many did in all."""
    linked = (
        select(
            _P.process_id,
            _W.name.label("workflow_name"),
            _W.target.label("workflow_target"),
            _P.last_status,
            _P.created_by,
            _P.started_at,
            _P.last_modified_at,
        )
        .join(_W, _W.workflow_id == _P.workflow_id)
        .join(ProcessSubscriptionTable, ProcessSubscriptionTable.process_id == _P.process_id)
        .where(ProcessSubscriptionTable.subscription_id == subscription_id)
    )
    matched = session.execute(select(func.count()).select_from(linked.subquery())).scalar_one()
    rows = session.execute(linked.order_by(_P.started_at.desc()).limit(limit))
    return [dict(row._mapping) for row in rows], int(matched)


def unfinished_processes_of_subscription(session: Session, subscription_id: uuid.UUID) -> list[uuid.UUID]:
    """Workflow (not task) processes on this subscription that have not ended."""
    return list(
        session.execute(
            select(_P.process_id)
            .join(ProcessSubscriptionTable, ProcessSubscriptionTable.process_id == _P.process_id)
            .where(
                ProcessSubscriptionTable.subscription_id == subscription_id,
                _P.is_task.is_(False),
                _P.last_status.not_in([s.value for s in TERMINAL_STATUSES]),
            )
        ).scalars()
    )


def subscription_has_processes(session: Session, subscription_id: uuid.UUID) -> bool:
    query = select(ProcessSubscriptionTable.process_id).where(
        ProcessSubscriptionTable.subscription_id == subscription_id
    )
    return session.execute(query.limit(1)).first() is not None


def running_claimed(session: Session) -> int:
    """Processes a worker is running right now (what a pause waits for)."""
    query = select(func.count()).where(_P.last_status == ProcessStatus.RUNNING, _P.claimed_by.is_not(None))
    return int(session.scalar(query) or 0)


# --- for the live-update feed: what changed since -----------------------------------------------


def latest_change(session: Session) -> datetime | None:
    return session.scalar(select(_P.last_modified_at).order_by(_P.last_modified_at.desc()).limit(1))


def changed_since(session: Session, since: datetime | None) -> list[Any]:
    """``(process_id, last_status, last_modified_at)`` of processes changed at or after ``since``, oldest first."""
    query = select(_P.process_id, _P.last_status, _P.last_modified_at)
    if since is not None:
        query = query.where(_P.last_modified_at >= since)
    return list(session.execute(query.order_by(_P.last_modified_at)).all())


def subscriptions_worked_on(session: Session, process_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    query = select(ProcessSubscriptionTable.subscription_id).where(ProcessSubscriptionTable.process_id.in_(process_ids))
    return list(session.execute(query.distinct()).scalars())
