"""A subscription's history in GraphQL: its versions, one version by number or by time, and diffs.

The fields sit on ``SubscriptionInterface`` (``versions``, ``atVersion``, ``atTime``,
``versionsDiff``) and answer what the REST routes answer, from ``services.subscription_history``.
``versions`` goes through a loader: a page of subscriptions asking for theirs costs two queries,
not two per subscription.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import strawberry
from sqlalchemy.orm import Session

from orchestrion.db.listing import Page
from orchestrion.errors import InvalidInputError
from orchestrion.graphql.loaders import in_scope, load
from orchestrion.graphql.pagination import Connection, to_graphql_result_page
from orchestrion.graphql.types import JSON, OrchestratorInfo
from orchestrion.services import subscription_history
from orchestrion.services.subscription_history import VersionNotFoundError


@strawberry.type
class _VersionHead:
    """What every version says of itself: its number, when, and which process and step made it."""

    version: int
    created_at: datetime
    process_id: UUID | None = strawberry.field(description="The process that made it (null outside a process)")
    step_name: str | None = strawberry.field(description="Its step (null or empty outside a step)")


@strawberry.type(description="A version of a subscription in a list: who made it, and what it changed")
class SubscriptionVersionSummary(_VersionHead):
    summary: str = strawberry.field(description="What changed, in one line")
    changes: JSON = strawberry.field(description="The diff against the version before (docs/history.md)")


@strawberry.type(description="A version of a subscription, with the subscription as it was then")
class SubscriptionVersion(_VersionHead):
    subscription: JSON = strawberry.field(description="The snapshot: columns, blocks, references (docs/history.md)")


def versions_of(session: Session, keys: list[tuple[UUID, int, int]]) -> dict[tuple[UUID, int, int], Any]:
    """Each (subscription, first, after)'s page and total; the subscriptions asking for the same page at once."""
    asked: dict[tuple[int, int], list[UUID]] = defaultdict(list)
    for subscription_id, first, after in keys:
        asked[(first, after)].append(subscription_id)
    found: dict[tuple[UUID, int, int], Any] = {}
    for (first, after), ids in asked.items():
        # One version more than the page: whether another page follows.
        pages = subscription_history.versions_pages(session, ids, Page(after, after + first + 1))
        found |= {(sid, first, after): answer for sid, answer in pages.items()}
    return found


async def versions(
    info: OrchestratorInfo, subscription_id: UUID, first: int, after: int
) -> Connection[SubscriptionVersionSummary]:
    from orchestrion.graphql.resolvers.helpers import page_size  # the resolvers import the schemas

    if after < 0:
        raise InvalidInputError("after must not be negative")
    size = page_size(info, first)
    items, total = await load(info, versions_of, (subscription_id, size, after))
    summaries = [SubscriptionVersionSummary(**item) for item in items]
    return to_graphql_result_page(summaries, size, after, total)


async def at_version(info: OrchestratorInfo, subscription_id: UUID, number: int) -> SubscriptionVersion | None:
    try:
        return SubscriptionVersion(**await in_scope(info, subscription_history.version, subscription_id, number))
    except VersionNotFoundError:
        return None


async def at_time(info: OrchestratorInfo, subscription_id: UUID, at: datetime) -> SubscriptionVersion | None:
    moment = at if at.tzinfo else at.replace(tzinfo=UTC)
    try:
        return SubscriptionVersion(**await in_scope(info, subscription_history.version_at, subscription_id, moment))
    except VersionNotFoundError:
        return None


async def versions_diff(info: OrchestratorInfo, subscription_id: UUID, old: int, new: int) -> JSON:
    if old < 0 or new < 1:
        raise InvalidInputError("fromVersion must be 0 or more and toVersion 1 or more")
    return await in_scope(info, subscription_history.versions_diff, subscription_id, old, new)
