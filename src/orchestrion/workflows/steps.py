"""Steps that every subscription workflow needs: link, lock, unlock and change lifecycle."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select, update

from orchestrion import db
from orchestrion.db.domain_models import ProcessSubscriptionTable, SubscriptionTable
from orchestrion.domain import history
from orchestrion.domain.base import SubscriptionModel
from orchestrion.engine.steps import Step, step
from orchestrion.services import subscriptions
from orchestrion.targets import Target
from orchestrion.types import State, SubscriptionLifecycle, UUIDstr


def _model(subscription_id: UUIDstr) -> SubscriptionModel | None:
    """The subscription as its domain model, or None when no model is registered for its product."""
    try:
        return SubscriptionModel.from_subscription(subscription_id)
    except LookupError:
        return None


def _locked(
    subscription_id: UUIDstr, old: dict[str, Any] | None, reserved: list[str] | None, *, checked: bool
) -> State:
    if str(subscription_id) not in (reserved or ()):  # reserved: this process locked it when it was created
        subscriptions.lock(db.session(), UUID(str(subscription_id)), checked=checked)
    model = _model(subscription_id)
    if model is None:
        return {}
    backups = dict(old or {})
    backups.setdefault(str(subscription_id), model.model_dump(mode="json"))
    return {"subscription": model, "__old_subscriptions__": backups}


@step("Lock subscription")
def unsync(
    subscription_id: UUIDstr,
    __old_subscriptions__: dict[str, Any] | None = None,
    __reserved_subscriptions__: list[str] | None = None,
) -> State:
    """Take the subscription's lock (refused when another process holds it); keep a backup of it in the state.

    A process of a workflow with this step reserved the subscription when it was created
    (``Step.reserves``): a second start on it was refused then, so here the lock is already its own.
    """
    return _locked(subscription_id, __old_subscriptions__, __reserved_subscriptions__, checked=True)


unsync.reserves = "subscription_id"


@step("Lock subscription")
def unsync_unchecked(
    subscription_id: UUIDstr,
    __old_subscriptions__: dict[str, Any] | None = None,
    __reserved_subscriptions__: list[str] | None = None,
) -> State:
    """Take the lock even when another process holds it (validate and reconcile workflows)."""
    return _locked(subscription_id, __old_subscriptions__, __reserved_subscriptions__, checked=False)


@step("Unlock subscription")
def resync(subscription_id: UUIDstr) -> State:
    """Release the lock: the subscription is in sync again."""
    model = _model(subscription_id)
    if model is None:
        session, sid = db.session(), UUID(str(subscription_id))
        released = session.execute(
            update(SubscriptionTable)
            .where(SubscriptionTable.subscription_id == sid)
            .values(insync=True, version=SubscriptionTable.version + 1)
        )
        if released.rowcount:  # type: ignore[attr-defined]
            history.record(session, sid)
        return {}
    model.insync = True
    return {"subscription": model}


def set_status(status: SubscriptionLifecycle) -> Step:
    """A step that moves ``subscription`` to ``status`` (validated against that lifecycle's class)."""

    @step(f"Set subscription to '{SubscriptionLifecycle(status).value}'")
    def _set_status(subscription: SubscriptionModel) -> State:
        return {"subscription": SubscriptionModel.from_other_lifecycle(subscription, status)}

    return _set_status


def store_process_subscription(workflow_target: Target | None = None) -> Step:
    """A step that links the process to ``subscription_id`` (the subscription's audit trail).

    ``workflow_target`` is accepted for compatibility and not needed: the process knows its workflow.
    """

    @step("Create Process Subscription relation")
    def _store_process_subscription(
        process_id: UUIDstr, subscription_id: UUIDstr, __reserved_subscriptions__: list[str] | None = None
    ) -> None:
        if str(subscription_id) in (__reserved_subscriptions__ or ()):
            return  # reserved when the process was created, and linked then: the step needs no transaction
        session = db.session()
        pid, sid = UUID(str(process_id)), UUID(str(subscription_id))
        exists = session.execute(
            select(ProcessSubscriptionTable.id).where(
                ProcessSubscriptionTable.process_id == pid, ProcessSubscriptionTable.subscription_id == sid
            )
        ).first()
        if exists is None:
            session.add(ProcessSubscriptionTable(process_id=pid, subscription_id=sid))
            session.flush()

    return _store_process_subscription
