"""Registers the example workflows with the code registry; they are imported on first use."""

from orchestrion.workflows import LazyWorkflowInstance

LazyWorkflowInstance("examples.workflows.create_product_subscription", "create_product_subscription")
