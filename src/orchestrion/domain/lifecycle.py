"""Which lifecycle moves are safe while other subscriptions use this one's blocks.

A subscription must stay at least as alive as the subscriptions that use it: it may not be
terminated, disabled or sent back to initial while a user is still in a status that needs it.
Moves towards provisioning, active or migrating never break a user.
"""

from __future__ import annotations

from uuid import UUID

from orchestrion.domain.relations import in_use_by_subscription_ids
from orchestrion.types import SubscriptionLifecycle as L
from orchestrion.types import strEnum


class ProductLifecycle(strEnum):
    """Where a product is in its own life (not a subscription's)."""

    ACTIVE = "active"
    PRE_PRODUCTION = "pre production"
    PHASE_OUT = "phase out"
    END_OF_LIFE = "end of life"


__all__ = ["ProductLifecycle", "check_lifecycle_change"]

# target status -> the statuses users may be in for the move to be safe (absent: always safe)
_ALLOWED_USER_STATUSES: dict[L, frozenset[L]] = {
    L.TERMINATED: frozenset({L.INITIAL, L.TERMINATED}),
    L.INITIAL: frozenset({L.INITIAL, L.TERMINATED}),
    L.DISABLED: frozenset({L.INITIAL, L.DISABLED, L.TERMINATED}),
}


def check_lifecycle_change(subscription_id: UUID, status: L) -> None:
    """Raise ValueError naming the users that a move of ``subscription_id`` to ``status`` would break."""
    allowed = _ALLOWED_USER_STATUSES.get(status)
    if allowed is None:
        return
    blocking = in_use_by_subscription_ids(subscription_id, exclude_statuses=allowed)
    if blocking:
        raise ValueError(
            f"Subscription {subscription_id} cannot become {status.value}: it is in use by subscription(s) "
            f"{', '.join(map(str, blocking))}, which are not {' or '.join(sorted(s.value for s in allowed))}"
        )
