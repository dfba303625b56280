"""Customers' own descriptions of subscriptions (``subscription_customer_descriptions``): one per customer.

orchestrator-ui shows and edits them on a subscription's page. An edit names the version it was
made on (when the client knows it) and is refused when the description changed since, so two
people editing at once cannot silently overwrite each other.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from orchestrion.db import get_database
from orchestrion.db.domain_models import SubscriptionCustomerDescriptionTable, SubscriptionTable
from orchestrion.engine.clock import utcnow
from orchestrion.errors import ConflictError, InvalidInputError, NotFoundError, SubscriptionNotFoundError

_D = SubscriptionCustomerDescriptionTable


class CustomerDescriptionNotFoundError(NotFoundError):
    pass


class CustomerDescriptionExistsError(ConflictError):
    """The customer has a description of this subscription already: change that one."""


class StaleCustomerDescriptionError(InvalidInputError):
    """The edit was made on an older version of the description (a 400, as in orchestrator-core)."""


def _plain(row: SubscriptionCustomerDescriptionTable) -> dict[str, Any]:
    return {
        "id": row.id,
        "subscription_id": row.subscription_id,
        "customer_id": row.customer_id,
        "description": row.description,
        "created_at": row.created_at,
        "version": row.version,
    }


def create_description(customer_id: str, subscription_id: uuid.UUID, description: str) -> dict[str, Any]:
    try:
        with get_database().write() as session:
            if session.get(SubscriptionTable, subscription_id) is None:
                raise SubscriptionNotFoundError(subscription_id)
            row = _D(customer_id=customer_id, subscription_id=subscription_id, description=description)
            session.add(row)
            session.flush()
            return _plain(row)
    except IntegrityError:
        raise CustomerDescriptionExistsError(
            f"Customer {customer_id!r} has a description of subscription {subscription_id} already"
        ) from None


def update_description(
    customer_id: str,
    subscription_id: uuid.UUID,
    description: str,
    *,
    created_at: datetime | None = None,
    version: int | None = None,
) -> dict[str, Any]:
    """Change the customer's description of the subscription; ``version``: the one the edit was made on."""
    with get_database().write() as session:
        row = session.execute(
            select(_D).where(_D.customer_id == customer_id, _D.subscription_id == subscription_id).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            raise CustomerDescriptionNotFoundError(
                f"Customer {customer_id!r} has no description of subscription {subscription_id}"
            )
        if version is not None and version != row.version:
            raise StaleCustomerDescriptionError(
                f"The description changed meanwhile: it is at version {row.version}, the edit was made on {version}"
            )
        row.description = description
        row.created_at = created_at or utcnow()
        row.version += 1
        session.flush()
        return _plain(row)


def get_description(description_id: uuid.UUID) -> dict[str, Any]:
    with get_database().read() as session:
        row = session.get(_D, description_id)
        if row is None:
            raise CustomerDescriptionNotFoundError(f"Customer description {description_id} not found")
        return _plain(row)


def description_of(customer_id: str, subscription_id: uuid.UUID) -> dict[str, Any]:
    """The customer's description of the subscription."""
    with get_database().read() as session:
        row = session.execute(
            select(_D).where(_D.customer_id == customer_id, _D.subscription_id == subscription_id)
        ).scalar_one_or_none()
        if row is None:
            raise CustomerDescriptionNotFoundError(
                f"Customer {customer_id!r} has no description of subscription {subscription_id}"
            )
        return _plain(row)


def delete_description(description_id: uuid.UUID) -> None:
    """Delete it; deleting one that does not exist (any more) is no error, as in orchestrator-core."""
    with get_database().write() as session:
        row = session.get(_D, description_id)
        if row is not None:
            session.delete(row)
