"""Subscriptions as rows: which workflows may run on one and why not, the in-sync lock, and look-ups.

The in-sync flag is the subscription's lock. Taking it is one conditional ``UPDATE ... WHERE
insync`` in the step's transaction, so of two processes that try at the same moment exactly one
succeeds (on PostgreSQL the second waits for the first's row lock and then finds it taken).

The functions after the lock are orchestrator-core's helpers for application code
(``get_subscription``, ``find_values_for_resource_types``, ...); they work through ``db.session``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Update, bindparam, delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from orchestrion.db import db
from orchestrion.db.domain_models import (
    ProcessSubscriptionTable,
    ResourceTypeTable,
    SubscriptionInstanceTable,
    SubscriptionInstanceValueTable,
    SubscriptionTable,
)
from orchestrion.db.sessions import connection_of
from orchestrion.domain import history
from orchestrion.domain.relations import in_use_by_subscription_ids, related_subscription_ids
from orchestrion.errors import (
    OrchestrionError,
    ProcessConflictError,
    StaleSubscriptionError,
    SubscriptionLockedError,
    SubscriptionNotFoundError,
)
from orchestrion.services.audit import audited
from orchestrion.storage import process_queries
from orchestrion.storage.workflow_rows import WorkflowRow, workflows_of_product
from orchestrion.targets import Target
from orchestrion.types import SubscriptionLifecycle

ACTIVE = SubscriptionLifecycle.ACTIVE
# Lifecycle statuses a target may run on, unless WF_USABLE_MAP says otherwise for a workflow.
TARGET_DEFAULT_USABLE_MAP: dict[Target, list[SubscriptionLifecycle]] = {
    Target.CREATE: [],
    Target.MODIFY: [ACTIVE],
    Target.TERMINATE: [ACTIVE, SubscriptionLifecycle.PROVISIONING],
    Target.SYSTEM: [ACTIVE],
    Target.VALIDATE: [ACTIVE],
    Target.RECONCILE: [ACTIVE],
}
WF_USABLE_MAP: dict[str, list[SubscriptionLifecycle]] = {}
WF_USABLE_WHILE_OUT_OF_SYNC: list[str] = ["modify_note"]
WF_BLOCKED_BY_IN_USE_BY_SUBSCRIPTIONS: dict[str, bool] = {}

NOT_IN_SYNC = "subscription.not_in_sync"
RELATIONS_NOT_IN_SYNC = "subscription.relations_not_in_sync"
INVALID_STATUS = "subscription.no_modify_invalid_status"
IN_USE_BY_OTHERS = "subscription.no_modify_subscription_in_use_by_others"

REASON_TEXT = {
    NOT_IN_SYNC: "Subscription already has a running process or task",
    RELATIONS_NOT_IN_SYNC: "related subscriptions are not insync",  # after "cannot be started: ", as in core
    INVALID_STATUS: "This subscription can not be modified because of the status it has",
    IN_USE_BY_OTHERS: "This subscription can not be modified as it is used in other subscriptions",
}


@dataclass
class UsableWorkflow:
    name: str
    description: str
    target: Target
    is_task: bool
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"name": self.name, "description": self.description}
        if self.reason:
            found["reason"] = self.reason
        return found


# built once: every start of a subscription's workflow reads it (its form, then its reservation if refused)
_STORED = select(
    SubscriptionTable.subscription_id,
    SubscriptionTable.product_id,
    SubscriptionTable.customer_id,
    SubscriptionTable.status,
    SubscriptionTable.insync,
    SubscriptionTable.version,
).where(SubscriptionTable.subscription_id == bindparam("stored_id", type_=SubscriptionTable.subscription_id.type))


def stored(session: Session, subscription_id: uuid.UUID) -> Any:
    """The subscription's columns a start checks, as the session's transaction sees them now (not a row object
    the session may hold from before: a row of its columns), or None when there is no such subscription."""
    return connection_of(session).execute(_STORED, {"stored_id": subscription_id}).one_or_none()


def _reason(wf: WorkflowRow, subscription: Any, relations_in_sync: bool, used_by_others: bool) -> str | None:
    target = Target(wf.target)
    exempt = wf.is_task or target == Target.RECONCILE or wf.name in WF_USABLE_WHILE_OUT_OF_SYNC
    if not exempt and not subscription.insync:
        return NOT_IN_SYNC
    if not exempt and not relations_in_sync:
        return RELATIONS_NOT_IN_SYNC
    usable = WF_USABLE_MAP.get(wf.name, TARGET_DEFAULT_USABLE_MAP.get(target, []))
    if SubscriptionLifecycle(subscription.status) not in usable:
        return INVALID_STATUS
    blocked_by_use = target == Target.TERMINATE or WF_BLOCKED_BY_IN_USE_BY_SUBSCRIPTIONS.get(wf.name, False)
    if blocked_by_use and used_by_others:
        return IN_USE_BY_OTHERS
    return None


def subscription_workflows(session: Session, subscription_id: uuid.UUID) -> dict[Target, list[UsableWorkflow]] | None:
    """The workflows linked to the subscription's product, per target, each with the reason it is blocked (if so).

    None when the subscription does not exist.
    """
    subscription = stored(session, subscription_id)
    if subscription is None:
        return None
    terminated = [SubscriptionLifecycle.TERMINATED]
    used_by = related_subscription_ids(session, subscription_id, used_by=True, exclude_statuses=terminated)
    related = set(used_by) | set(related_subscription_ids(session, subscription_id, used_by=False))
    relations_in_sync = not related or all(
        session.execute(
            select(SubscriptionTable.insync).where(SubscriptionTable.subscription_id.in_(related))
        ).scalars()
    )
    used_by_others = bool(used_by)
    found: dict[Target, list[UsableWorkflow]] = {t: [] for t in Target}
    for wf in workflows_of_product(session, subscription.product_id):
        target = Target(wf.target)
        reason = _reason(wf, subscription, relations_in_sync, used_by_others)
        found[target].append(UsableWorkflow(wf.name, wf.description, target, wf.is_task, reason))
    return found


_S = SubscriptionTable
# the lock's updates, built once (building a statement costs more than running it): any holder, the
# lock free, the lock free at the version a start form saw
_TAKE_LOCK = (
    update(_S)
    .where(_S.subscription_id == bindparam("lock_id", type_=_S.subscription_id.type))
    .values(insync=False, version=_S.version + 1)
    .returning(_S.subscription_id)
)
_TAKE_FREE_LOCK = _TAKE_LOCK.where(_S.insync.is_(True))
_TAKE_FREE_LOCK_AT = _TAKE_FREE_LOCK.where(_S.version == bindparam("lock_version", type_=_S.version.type))


def _take(session: Session, query: Update, params: dict[str, Any]) -> bool:
    """Run a lock's update (a statement built once) through the session; whether it took the lock.

    ``fetch``: a row object of the subscription that the session holds is updated from the row the
    statement returns (the default, ``evaluate``, cannot evaluate the statement's bound parameters).
    """
    result = session.execute(query, params, execution_options={"synchronize_session": "fetch"})
    return result.first() is not None


def lock(session: Session, subscription_id: uuid.UUID, *, checked: bool = True) -> None:
    """Take the in-sync lock in the current transaction; refuses when another process holds it (``checked``)."""
    if not _take(session, _TAKE_FREE_LOCK if checked else _TAKE_LOCK, {"lock_id": subscription_id}):
        if session.get(SubscriptionTable, subscription_id) is None:
            raise SubscriptionNotFoundError(subscription_id)
        raise SubscriptionLockedError("Subscription is already out of sync, cannot continue!")
    history.record(session, subscription_id)


# State keys of the reservation: the subscriptions a process locked when it was created (its
# locking step then finds them its own), and the versions its start form validated against.
RESERVED_KEY = "__reserved_subscriptions__"
FORM_VERSIONS_KEY = "__subscription_versions__"


@dataclass(frozen=True)
class Reservation:
    """A subscription a new process will lock, and the version its start form was validated against."""

    subscription_id: uuid.UUID
    version: int | None = None  # None: whatever the version (the form did not read one)


def reserve(
    session: Session, process_id: uuid.UUID, reservation: Reservation, linked_at: datetime | None = None
) -> None:
    """Lock the subscriptions of a process being created, in the transaction that creates it.

    The same conditional update as ``lock``, and only while the subscription is still the version
    the start form saw: a start on a subscription another process holds, or one that changed after
    its form was validated, is refused before anything runs. The process is linked to the
    subscription at once, so ``set_in_sync`` sees it as the holder from the start (``linked_at``: the
    process's creation instant; now when not given).
    """
    r = reservation
    query = _TAKE_FREE_LOCK if r.version is None else _TAKE_FREE_LOCK_AT
    if not _take(session, query, {"lock_id": r.subscription_id, "lock_version": r.version}):
        refusal = reservation_refusal(session, r)
        assert refusal is not None  # the update found no row it may lock: one of the reasons holds
        raise refusal
    history.record(session, r.subscription_id, process_id=process_id)
    link = ProcessSubscriptionTable(process_id=process_id, subscription_id=r.subscription_id)
    if linked_at is not None:
        link.created_at = linked_at
    session.add(link)
    session.flush()


def reservation_refusal(session: Session, reservation: Reservation) -> OrchestrionError | None:
    """Why ``reserve`` would refuse this reservation now (None: it would not); writes nothing (a dry run)."""
    found = stored(session, reservation.subscription_id)
    if found is None:
        return SubscriptionNotFoundError(reservation.subscription_id)
    if not found.insync:
        return SubscriptionLockedError(REASON_TEXT[NOT_IN_SYNC])
    if reservation.version is not None and found.version != reservation.version:
        return StaleSubscriptionError(
            f"The subscription changed after the form was filled in (version {found.version} now, "
            f"the form saw {reservation.version}); fill in the form again"
        )
    return None


def set_in_sync(subscription_id: uuid.UUID) -> None:
    """Release a lock left by a process that ended without releasing it; refused while one is still open."""
    with audited("subscription.set_in_sync", "subscription", subscription_id) as note, note.write() as session:
        subscription = session.get(SubscriptionTable, subscription_id)
        if subscription is None:
            raise SubscriptionNotFoundError(subscription_id)
        if unfinished := process_queries.unfinished_processes_of_subscription(session, subscription_id):
            raise ProcessConflictError(
                f"Subscription {subscription_id} is used by unfinished processes {', '.join(map(str, unfinished))}; "
                "finish or abort them first"
            )
        note.details["was_in_sync"] = subscription.insync
        if not subscription.insync:
            subscription.insync = True
            subscription.version += 1
            session.flush()
            history.record(session, subscription_id)


def delete_subscription(subscription_id: uuid.UUID) -> None:
    """Delete a subscription no process refers to and no other subscription uses."""
    with audited("subscription.delete", "subscription", subscription_id) as note, note.write() as session:
        if (found := session.get(SubscriptionTable, subscription_id)) is None:
            raise SubscriptionNotFoundError(subscription_id)
        note.details.update(description=found.description, status=found.status, product_id=str(found.product_id))
        if process_queries.subscription_has_processes(session, subscription_id):
            raise ProcessConflictError(
                f"Subscription {subscription_id} is referenced by processes; it cannot be deleted"
            )
        if in_use_by_subscription_ids(subscription_id):
            raise ProcessConflictError(f"Subscription {subscription_id} is used by other subscriptions")
        session.execute(delete(SubscriptionTable).where(SubscriptionTable.subscription_id == subscription_id))


# --- orchestrator-core's helpers for application code -----------------------------------------

T = TypeVar("T", bound=SubscriptionTable)


def get_subscription(
    subscription_id: uuid.UUID | str,
    for_update: bool = False,
    model: type[T] = SubscriptionTable,  # type: ignore[assignment]
) -> T:
    """The subscription's row; ``ValueError`` when there is none (or the id is not one)."""
    try:
        found = db.session.get(model, uuid.UUID(str(subscription_id)), with_for_update=for_update)
    except (SQLAlchemyError, ValueError) as e:
        raise ValueError(f"Invalid subscription id {subscription_id!r}") from e
    if found is None:
        raise ValueError(f"Subscription with {subscription_id} does not exist in the database")
    return found


def update_subscription(subscription_id: uuid.UUID | str, **attrs: Any) -> SubscriptionTable:
    """Set columns of the subscription's row (in the current session; its owner commits), keeping the version."""
    subscription: SubscriptionTable = get_subscription(subscription_id, for_update=True)
    for key, value in attrs.items():
        setattr(subscription, key, value)
    db.session.flush()
    history.record(db.session, subscription.subscription_id)
    return subscription


def update_subscription_status(subscription_id: uuid.UUID | str, status: str) -> SubscriptionTable:
    return update_subscription(subscription_id, status=SubscriptionLifecycle(status).value)


def update_subscription_description(subscription_id: uuid.UUID | str, description: str) -> SubscriptionTable:
    return update_subscription(subscription_id, description=description)


def activate_subscription(subscription_id: uuid.UUID | str) -> SubscriptionTable:
    return update_subscription(subscription_id, status=ACTIVE.value, start_date=datetime.now(UTC), insync=True)


def provision_subscription(subscription_id: uuid.UUID | str) -> SubscriptionTable:
    return update_subscription(subscription_id, status=SubscriptionLifecycle.PROVISIONING.value, insync=True)


def migrate_subscription(subscription_id: uuid.UUID | str) -> SubscriptionTable:
    return update_subscription(subscription_id, status=SubscriptionLifecycle.MIGRATING.value, insync=False)


def terminate_subscription(subscription_id: uuid.UUID | str) -> SubscriptionTable:
    terminated = SubscriptionLifecycle.TERMINATED.value
    return update_subscription(subscription_id, status=terminated, end_date=datetime.now(UTC))


def retrieve_subscription_by_subscription_instance_value(
    resource_type: str, value: str, sub_status: Sequence[str] = ("provisioning", "active")
) -> SubscriptionTable | None:
    """The one subscription (in ``sub_status``) with a block whose ``resource_type`` holds ``value``."""
    query = (
        select(SubscriptionTable)
        .join(SubscriptionInstanceTable, SubscriptionInstanceTable.subscription_id == SubscriptionTable.subscription_id)
        .join(SubscriptionInstanceValueTable)
        .join(ResourceTypeTable)
        .where(
            SubscriptionInstanceValueTable.value == value,
            ResourceTypeTable.resource_type == resource_type,
            SubscriptionTable.status.in_(list(sub_status)),
        )
        .distinct()
    )
    return db.session.scalars(query).one_or_none()


def find_values_for_resource_types(
    subscription_id: uuid.UUID | str, resource_types: Sequence[str], strict: bool = True
) -> dict[str, list[str | None]]:
    """The subscription's values per resource type, in one query; lists line up across types by block.

    ``strict``: a requested resource type the subscription has no value for raises ``ValueError``.
    """
    query = (
        select(ResourceTypeTable.resource_type, SubscriptionInstanceValueTable.value)
        .select_from(SubscriptionInstanceValueTable)
        .join(ResourceTypeTable)
        .join(SubscriptionInstanceTable)
        .where(
            SubscriptionInstanceTable.subscription_id == uuid.UUID(str(subscription_id)),
            ResourceTypeTable.resource_type.in_(list(resource_types)),
        )
        .order_by(SubscriptionInstanceTable.subscription_instance_id, SubscriptionInstanceValueTable.order_id)
    )
    found: dict[str, list[str | None]] = defaultdict(list)
    for resource_type, value in db.session.execute(query):
        found[resource_type].append(value)
    if strict and (missing := set(resource_types) - set(found)):
        raise ValueError(f"Could not find requested resource types: {', '.join(sorted(missing))}")
    return found
