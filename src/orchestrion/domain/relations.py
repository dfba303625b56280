"""Who uses whom: relations between blocks of different subscriptions, queried both ways.

A subscription *is in use by* another when one of the other's blocks holds one of its blocks
(a circuit using a port, say); the other *depends on* it. These read from the database, inside the
running step's transaction when there is one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import aliased

from orchestrion.db import get_database
from orchestrion.db.domain_models import SubscriptionInstanceRelationTable, SubscriptionInstanceTable, SubscriptionTable
from orchestrion.db.sessions import reading
from orchestrion.db.types import as_uuid
from orchestrion.types import SubscriptionLifecycle

_R = SubscriptionInstanceRelationTable
_USER = aliased(SubscriptionInstanceTable, name="user_instance")
_USED = aliased(SubscriptionInstanceTable, name="used_instance")


def _subscription_ids(
    subscription_id: UUID | str, *, ours: Any, theirs: Any, exclude_statuses: Iterable[SubscriptionLifecycle | str]
) -> list[UUID]:
    query = (
        select(theirs.subscription_id)
        .distinct()
        .select_from(_R)
        .join(_USER, _USER.subscription_instance_id == _R.in_use_by_id)
        .join(_USED, _USED.subscription_instance_id == _R.depends_on_id)
        .where(ours.subscription_id == as_uuid(subscription_id), theirs.subscription_id != ours.subscription_id)
    )
    if excluded := [SubscriptionLifecycle(s).value for s in exclude_statuses]:
        query = query.join(SubscriptionTable, SubscriptionTable.subscription_id == theirs.subscription_id).where(
            SubscriptionTable.status.not_in(excluded)
        )
    with reading(get_database()) as session:
        return sorted(session.execute(query).scalars())


def in_use_by_subscription_ids(
    subscription_id: UUID | str, *, exclude_statuses: Iterable[SubscriptionLifecycle | str] = ()
) -> list[UUID]:
    """Subscriptions whose blocks hold a block of this one (optionally ignoring some statuses)."""
    return _subscription_ids(subscription_id, ours=_USED, theirs=_USER, exclude_statuses=exclude_statuses)


def depends_on_subscription_ids(
    subscription_id: UUID | str, *, exclude_statuses: Iterable[SubscriptionLifecycle | str] = ()
) -> list[UUID]:
    """Subscriptions owning a block that a block of this one holds."""
    return _subscription_ids(subscription_id, ours=_USER, theirs=_USED, exclude_statuses=exclude_statuses)


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
