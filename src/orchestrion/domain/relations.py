"""Who uses whom: relations between blocks of different subscriptions, queried both ways.

A subscription *is in use by* another when one of the other's blocks holds one of its blocks
(a circuit using a port, say); the other *depends on* it. These read from the database, inside the
running step's transaction when there is one.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, aliased

from orchestrion.db import get_database
from orchestrion.db.domain_models import SubscriptionInstanceRelationTable, SubscriptionInstanceTable, SubscriptionTable
from orchestrion.db.sessions import connection_of, reading
from orchestrion.db.types import as_uuid
from orchestrion.types import SubscriptionLifecycle

_R = SubscriptionInstanceRelationTable
_USER = aliased(SubscriptionInstanceTable, name="user_instance")
_USED = aliased(SubscriptionInstanceTable, name="used_instance")


_SUBSCRIPTION_ID = bindparam("subscription_id", type_=SubscriptionTable.subscription_id.type)


@cache
def _query(used_by: bool, excluded: tuple[str, ...]) -> Select[Any]:
    """The other subscriptions related to ``:subscription_id`` one way, built once per way and exclusion (building a
    select and its cache key costs more than running it, and the start of every modify asks both ways)."""
    ours, theirs = (_USED, _USER) if used_by else (_USER, _USED)
    query = (
        select(theirs.subscription_id)
        .distinct()
        .select_from(_R)
        .join(_USER, _USER.subscription_instance_id == _R.in_use_by_id)
        .join(_USED, _USED.subscription_instance_id == _R.depends_on_id)
        .where(ours.subscription_id == _SUBSCRIPTION_ID, theirs.subscription_id != ours.subscription_id)
    )
    if excluded:
        query = query.join(SubscriptionTable, SubscriptionTable.subscription_id == theirs.subscription_id).where(
            SubscriptionTable.status.not_in(excluded)
        )
    return query


def related_subscription_ids(
    session: Session,
    subscription_id: UUID | str,
    *,
    used_by: bool,
    exclude_statuses: Iterable[SubscriptionLifecycle | str] = (),
) -> list[UUID]:
    """``in_use_by_subscription_ids`` (``used_by``) or ``depends_on_subscription_ids`` read in ``session``: a
    caller reading more keeps to one transaction (a modify's start form asks both ways)."""
    query = _query(used_by, tuple(sorted({SubscriptionLifecycle(s).value for s in exclude_statuses})))
    return sorted(connection_of(session).execute(query, {"subscription_id": as_uuid(subscription_id)}).scalars())


def _subscription_ids(
    subscription_id: UUID | str, *, used_by: bool, exclude_statuses: Iterable[SubscriptionLifecycle | str]
) -> list[UUID]:
    with reading(get_database()) as session:
        return related_subscription_ids(session, subscription_id, used_by=used_by, exclude_statuses=exclude_statuses)


def in_use_by_subscription_ids(
    subscription_id: UUID | str, *, exclude_statuses: Iterable[SubscriptionLifecycle | str] = ()
) -> list[UUID]:
    """Subscriptions whose blocks hold a block of this one (optionally ignoring some statuses)."""
    return _subscription_ids(subscription_id, used_by=True, exclude_statuses=exclude_statuses)


def depends_on_subscription_ids(
    subscription_id: UUID | str, *, exclude_statuses: Iterable[SubscriptionLifecycle | str] = ()
) -> list[UUID]:
    """Subscriptions owning a block that a block of this one holds."""
    return _subscription_ids(subscription_id, used_by=False, exclude_statuses=exclude_statuses)


def in_use_by_instance_ids(subscription_id: UUID | str) -> list[UUID]:
    """Instance ids of other subscriptions' blocks that hold a block of this subscription."""
    query = (
        select(_R.in_use_by_id)
        .distinct()
        .join(_USER, _USER.subscription_instance_id == _R.in_use_by_id)
        .join(_USED, _USED.subscription_instance_id == _R.depends_on_id)
        .where(_USED.subscription_id == as_uuid(subscription_id), _USER.subscription_id != _USED.subscription_id)
    )
    with reading(get_database()) as session:
        return sorted(session.execute(query).scalars())


def block_in_use_by_ids(instance_id: UUID) -> list[UUID]:
    query = select(_R.in_use_by_id).distinct().where(_R.depends_on_id == instance_id)
    with reading(get_database()) as session:
        return sorted(session.execute(query).scalars())


def block_depends_on_ids(instance_id: UUID) -> list[UUID]:
    query = select(_R.depends_on_id).distinct().where(_R.in_use_by_id == instance_id)
    with reading(get_database()) as session:
        return sorted(session.execute(query).scalars())
