"""A product's fixed inputs."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import strawberry


@strawberry.type
class FixedInput:
    fixed_input_id: UUID
    name: str
    value: str
    product_id: UUID
    created_at: datetime
