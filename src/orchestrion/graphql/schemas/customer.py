"""Customers. orchestrion keeps no customer table: every subscription's customer is the configured
default (``DEFAULT_CUSTOMER_*``), as in orchestrator-core; applications resolve their own
(``override_class`` on ``SubscriptionInterface`` and ``ProcessType``)."""

from __future__ import annotations

import strawberry

from orchestrion.graphql.types import OrchestratorInfo


@strawberry.federation.type(keys=["customerId"])
class CustomerType:
    customer_id: str
    fullname: str
    shortcode: str


def default_customer(info: OrchestratorInfo) -> CustomerType:
    """The customer of every subscription, unless the application resolves its own."""
    settings = info.context.runtime.settings
    return CustomerType(
        customer_id=settings.DEFAULT_CUSTOMER_IDENTIFIER,
        fullname=settings.DEFAULT_CUSTOMER_FULLNAME,
        shortcode=settings.DEFAULT_CUSTOMER_SHORTCODE,
    )
