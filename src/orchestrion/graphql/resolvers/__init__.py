"""Resolvers of the root fields."""

from orchestrion.graphql.resolvers.catalogue import resolve_product_blocks, resolve_products, resolve_resource_types
from orchestrion.graphql.resolvers.customer import resolve_customer
from orchestrion.graphql.resolvers.process import resolve_process, resolve_processes
from orchestrion.graphql.resolvers.scheduled_tasks import resolve_scheduled_tasks
from orchestrion.graphql.resolvers.settings import resolve_settings
from orchestrion.graphql.resolvers.subscription import resolve_subscription, resolve_subscriptions
from orchestrion.graphql.resolvers.version import resolve_version
from orchestrion.graphql.resolvers.workflow import resolve_workflows

__all__ = [
    "resolve_customer",
    "resolve_process",
    "resolve_processes",
    "resolve_product_blocks",
    "resolve_products",
    "resolve_resource_types",
    "resolve_scheduled_tasks",
    "resolve_settings",
    "resolve_subscription",
    "resolve_subscriptions",
    "resolve_version",
    "resolve_workflows",
]
