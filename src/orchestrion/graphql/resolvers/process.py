"""The ``process`` and ``processes`` queries."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Select
from sqlalchemy.orm import Session

from orchestrion.graphql.loaders import in_thread, load
from orchestrion.graphql.pagination import Connection
from orchestrion.graphql.resolvers.helpers import ListSpec, page_size, read_page
from orchestrion.graphql.schemas.process import ProcessType
from orchestrion.graphql.types import GraphqlFilter, GraphqlSort, OrchestratorInfo
from orchestrion.storage.process_search import (
    PROCESS_CLAUSES,
    PROCESS_FREE_TEXT,
    PROCESS_SORTS,
    first_subscription_of,
    process_page,
    processes_of_subscriptions,
    search_process,
    search_processes,
)

PROCESSES = ListSpec(PROCESS_CLAUSES, PROCESS_SORTS, PROCESS_FREE_TEXT)


async def resolve_processes(
    info: OrchestratorInfo,
    filter_by: list[GraphqlFilter] | None = None,
    sort_by: list[GraphqlSort] | None = None,
    first: int = 10,
    after: int = 0,
    query: str | None = None,
) -> Connection[ProcessType]:
    default_customer = info.context.runtime.settings.DEFAULT_CUSTOMER_IDENTIFIER

    def fetch(session: Session, shaped: Select[Any], size: int, after: int) -> tuple[list[ProcessType], int]:
        return _read(session, shaped, size, after, default_customer)

    items, size, total = await read_page(
        info,
        PROCESSES,
        search_processes(),
        fetch,
        filter_by=filter_by,
        sort_by=sort_by,
        first=first,
        after=after,
        search=query,
    )
    return PROCESSES.connection(items, size, after, total)


async def resolve_subscription_processes(
    info: OrchestratorInfo,
    subscription_id: UUID,
    filter_by: list[GraphqlFilter] | None,
    sort_by: list[GraphqlSort] | None,
    first: int,
    after: int,
) -> Connection[ProcessType]:
    """A subscription's ``processes``: batched for the whole page of subscriptions in the default order
    (what lists ask); with filters or a sort of their own, the processes list restricted to it."""
    if filter_by or sort_by:
        own = GraphqlFilter(field="subscriptionId", value=str(subscription_id))
        return await resolve_processes(info, [*(filter_by or []), own], sort_by, first, after)
    size = page_size(info, first)
    rows, total = await load(info, _processes_of_subscriptions, (subscription_id, size, after))
    default_customer = info.context.runtime.settings.DEFAULT_CUSTOMER_IDENTIFIER
    return PROCESSES.connection([ProcessType.of(row, default_customer) for row in rows], size, after, total)


def _processes_of_subscriptions(
    session: Session, keys: list[tuple[UUID, int, int]]
) -> dict[tuple[UUID, int, int], tuple[list[dict[str, Any]], int]]:
    """Per (subscription, page size, offset): its page of processes with their customer and product."""
    found = {}
    for size, after in {(size, after) for _, size, after in keys}:
        ids = [sid for sid, s, a in keys if (s, a) == (size, after)]
        for sid, page in processes_of_subscriptions(session, ids, size, after).items():
            found[(sid, size, after)] = page
    rows = [row for page, _ in found.values() for row in page]
    owners = first_subscription_of(session, list({row["process_id"] for row in rows}))
    for row in rows:
        row["customer_id"], row["product_id"] = owners.get(row["process_id"], (None, None))
    return found


async def resolve_process(info: OrchestratorInfo, process_id: UUID) -> ProcessType | None:
    default_customer = info.context.runtime.settings.DEFAULT_CUSTOMER_IDENTIFIER
    items, _ = await in_thread(info, lambda session: _read(session, search_process(process_id), 1, 0, default_customer))
    return items[0] if items else None


def _read(
    session: Session, query: Select[Any], size: int, after: int, default_customer: str
) -> tuple[list[ProcessType], int]:
    """A page of processes, each with the customer and product of its own subscription."""
    rows, total = process_page(session, query, size, after)
    owners = first_subscription_of(session, [row["process_id"] for row in rows])
    for row in rows:
        row["customer_id"], row["product_id"] = owners.get(row["process_id"], (None, None))
    return [ProcessType.of(row, default_customer) for row in rows], total
