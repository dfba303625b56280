"""Registers the example workflows with the code registry; they are imported on first use."""

from orchestrion.workflows import LazyWorkflowInstance

LazyWorkflowInstance("examples.workflows.create_product_subscription", "create_product_subscription")
for _name in (
    "create_node",
    "create_port",
    "modify_port",
    "terminate_port",
    "validate_port",
    "create_circuit",
    "terminate_circuit",
):
    LazyWorkflowInstance("examples.workflows.network", _name)
