"""Products and subscriptions for the API tests that need a subscription but no domain model of it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from orchestrion.catalogue import ensure_catalogue
from orchestrion.db import Database
from orchestrion.db.domain_models import ProductTable, SubscriptionTable


def load_product(database: Database, name: str, workflows: dict[str, str] | None = None) -> uuid.UUID:
    """A product of type ``name`` (no blocks), with ``workflows`` (name: target) linked to it; its id."""
    ensure_catalogue(
        {
            "products": {name: {"product_type": name, "description": f"{name} product", "tag": name.upper()}},
            "workflows": {
                wf: {"name": wf, "target": target, "description": wf, "product_type": name}
                for wf, target in (workflows or {}).items()
            },
        },
        database,
    )
    with database.read() as session:
        return session.execute(select(ProductTable.product_id).where(ProductTable.name == name)).scalar_one()


def add_subscription(database: Database, product_id: uuid.UUID, **values: Any) -> uuid.UUID:
    """An active, in-sync subscription row of the product (``values`` override the columns)."""
    subscription_id = uuid.uuid4()
    columns: dict[str, Any] = {
        "customer_id": "customer-1",
        "description": "A subscription",
        "status": "active",
        "insync": True,
        "version": 1,
        **values,
    }
    with database.write() as session:
        session.add(SubscriptionTable(subscription_id=subscription_id, product_id=product_id, **columns))
    return subscription_id


def subscription_row(database: Database, subscription_id: uuid.UUID) -> dict[str, Any]:
    with database.read() as session:
        row = session.get(SubscriptionTable, subscription_id)
        assert row is not None
        return {"note": row.note, "version": row.version, "insync": row.insync, "description": row.description}
