"""Reading a subscription's history: its versions, one version by number or by time, and diffs.

Only these reads touch ``subscription_versions``; loading the current subscription never does. A
version's summary and changes are computed here, against the version before it, so writing a
version stays one statement.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from orchestrion.db import get_database
from orchestrion.db.domain_models import SubscriptionTable, SubscriptionVersionTable
from orchestrion.db.listing import Page
from orchestrion.domain.history_diff import diff, summary
from orchestrion.errors import NotFoundError, SubscriptionNotFoundError

_V = SubscriptionVersionTable


class VersionNotFoundError(NotFoundError):
    """The subscription exists but has no such version (or none yet at that time)."""


def _head(row: _V) -> dict[str, Any]:
    return {
        "version": row.version,
        "created_at": row.created_at,
        "process_id": row.process_id,
        "step_name": row.step_name,
    }


def _versions(session: Session, subscription_id: uuid.UUID) -> Select[Any]:
    if session.get(SubscriptionTable, subscription_id) is None:
        raise SubscriptionNotFoundError(subscription_id)
    return select(_V).where(_V.subscription_id == subscription_id)


def versions_page(subscription_id: uuid.UUID, page: Page) -> tuple[list[dict[str, Any]], int]:
    """The newest versions first, each with its changes against the one before and a one-line summary."""
    with get_database().read() as session:
        _versions(session, subscription_id)  # an unknown subscription is an error, not an empty page
        return versions_pages(session, [subscription_id], page)[subscription_id]


def versions_pages(
    session: Session, subscription_ids: list[uuid.UUID], page: Page
) -> dict[uuid.UUID, tuple[list[dict[str, Any]], int]]:
    """``versions_page`` of several subscriptions in two queries (GraphQL's lists ask for a page's worth)."""
    counted = select(_V.subscription_id, func.count()).where(_V.subscription_id.in_(subscription_ids))
    totals: dict[uuid.UUID, int] = dict(session.execute(counted.group_by(_V.subscription_id)).all())
    newest = func.row_number().over(partition_by=_V.subscription_id, order_by=_V.version.desc()).label("place")
    numbered = select(_V.id, newest).where(_V.subscription_id.in_(subscription_ids)).subquery()
    # One row past the page: the version before the page's oldest, to diff it against.
    rows = session.scalars(
        select(_V)
        .join(numbered, numbered.c.id == _V.id)
        .where(numbered.c.place > page.first, numbered.c.place <= page.end + 1)
        .order_by(_V.subscription_id, _V.version.desc())
    ).all()
    found: dict[uuid.UUID, list[_V]] = {sid: [] for sid in subscription_ids}
    for row in rows:
        found[row.subscription_id].append(row)
    return {sid: (_page(found[sid], page.size), totals.get(sid, 0)) for sid in subscription_ids}


def _page(rows: list[_V], size: int) -> list[dict[str, Any]]:
    items = []
    for row, before in zip(rows[:size], [*rows[1:], None], strict=False):
        changes = diff(before.snapshot if before is not None else None, row.snapshot)
        items.append(_head(row) | {"summary": summary(changes, first=row.version == 1), "changes": changes})
    return items


def version(subscription_id: uuid.UUID, number: int) -> dict[str, Any]:
    """Version ``number`` with the subscription as it was then (``subscription``)."""
    with get_database().read() as session:
        row = session.scalar(_versions(session, subscription_id).where(_V.version == number))
        if row is None:
            raise VersionNotFoundError(f"Subscription {subscription_id} has no version {number}")
        return _head(row) | {"subscription": row.snapshot}


def version_at(subscription_id: uuid.UUID, at: datetime) -> dict[str, Any]:
    """The version that was current at ``at``: the newest one made at or before it."""
    with get_database().read() as session:
        row = session.scalar(
            _versions(session, subscription_id).where(_V.created_at <= at).order_by(_V.version.desc()).limit(1)
        )
        if row is None:
            raise VersionNotFoundError(f"Subscription {subscription_id} has no version at or before {at.isoformat()}")
        return _head(row) | {"subscription": row.snapshot}


def versions_diff(subscription_id: uuid.UUID, old: int, new: int) -> dict[str, Any]:
    """What changed from version ``old`` to version ``new`` (either order; ``old`` 0: from nothing)."""
    with get_database().read() as session:
        wanted = {old, new} - {0}
        rows = {
            row.version: row.snapshot
            for row in session.scalars(_versions(session, subscription_id).where(_V.version.in_(wanted)))
        }
    if missing := sorted(wanted - rows.keys()):
        raise VersionNotFoundError(f"Subscription {subscription_id} has no version {missing[0]}")
    return {"from": old, "to": new} | diff(rows.get(old), rows[new])
