"""The ``workflows`` query."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from orchestrion.graphql.pagination import Connection
from orchestrion.graphql.resolvers.helpers import ListSpec, read_page
from orchestrion.graphql.schemas.workflow import Workflow
from orchestrion.graphql.types import GraphqlFilter, GraphqlSort, OrchestratorInfo
from orchestrion.storage.workflow_search import (
    WORKFLOW_CLAUSES,
    WORKFLOW_FREE_TEXT,
    WORKFLOW_SORTS,
    search_workflows,
    workflow_page,
)

WORKFLOWS = ListSpec(WORKFLOW_CLAUSES, WORKFLOW_SORTS, WORKFLOW_FREE_TEXT)


def _fetch(session: Session, query: Select[Any], size: int, after: int) -> tuple[list[Workflow], int]:
    rows, total = workflow_page(session, query, size, after)
    return [Workflow.of(row) for row in rows], total


async def resolve_workflows(
    info: OrchestratorInfo,
    filter_by: list[GraphqlFilter] | None = None,
    sort_by: list[GraphqlSort] | None = None,
    first: int = 10,
    after: int = 0,
    query: str | None = None,
) -> Connection[Workflow]:
    items, size, total = await read_page(
        info,
        WORKFLOWS,
        search_workflows(),
        _fetch,
        filter_by=filter_by,
        sort_by=sort_by,
        first=first,
        after=after,
        search=query,
    )
    return WORKFLOWS.connection(items, size, after, total)
