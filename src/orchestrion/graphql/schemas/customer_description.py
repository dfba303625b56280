"""A customer's own description of a subscription."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import strawberry


@strawberry.type
class CustomerDescription:
    id: UUID
    subscription_id: UUID
    customer_id: str
    description: str
    created_at: datetime | None = None
    version: int = 1
