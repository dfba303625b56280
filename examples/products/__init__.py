"""The example products' domain models, registered by product name."""

from examples.products.circuit import Circuit
from examples.products.node import Node
from examples.products.port import Port
from orchestrion.domain import SUBSCRIPTION_MODEL_REGISTRY

SUBSCRIPTION_MODEL_REGISTRY.update(
    {
        "Node": Node,
        "Port 10G": Port,
        "Port 100G": Port,
        "Circuit": Circuit,
    }
)
