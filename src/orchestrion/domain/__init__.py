"""The domain layer: products, product blocks and subscriptions as lifecycle-typed pydantic models.

Importing it registers the step integration: step parameters annotated with a subscription model
are loaded from the database, and models a step returns are saved in the step's transaction.
"""

from orchestrion.domain.base import ProductBlockModel, ProductModel, SubscriptionModel
from orchestrion.domain.dump import domain_model_json
from orchestrion.domain.loading import ProductNotFoundError, SubscriptionNotFoundError
from orchestrion.domain.registry import SUBSCRIPTION_MODEL_REGISTRY
from orchestrion.domain.relations import (
    depends_on_subscription_ids,
    in_use_by_instance_ids,
    in_use_by_subscription_ids,
)
from orchestrion.domain.saving import BlockInUseError, StaleSubscriptionError
from orchestrion.domain.step_integration import save_returned_models, subscription_loader
from orchestrion.engine.injection import register_loader, register_result_hook

__all__ = [
    "SUBSCRIPTION_MODEL_REGISTRY",
    "BlockInUseError",
    "ProductBlockModel",
    "ProductModel",
    "ProductNotFoundError",
    "StaleSubscriptionError",
    "SubscriptionModel",
    "SubscriptionNotFoundError",
    "depends_on_subscription_ids",
    "domain_model_json",
    "in_use_by_instance_ids",
    "in_use_by_subscription_ids",
]

register_loader(subscription_loader)
register_result_hook(save_returned_models)
