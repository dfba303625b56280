"""Workflows for authors: the registry's names (``LazyWorkflowInstance``, ``get_workflow``, ...).

The registry itself is ``orchestrion.engine.registry``; the target decorators are in
``orchestrion.workflows.utils`` and the subscription steps in ``orchestrion.workflows.steps``.
"""

from orchestrion.engine.registry import (
    ALL_WORKFLOWS,
    LazyWorkflowInstance,
    get_workflow,
    loaded_workflow,
    register_workflow,
    unregister_workflow,
)

__all__ = [
    "ALL_WORKFLOWS",
    "LazyWorkflowInstance",
    "get_workflow",
    "loaded_workflow",
    "register_workflow",
    "unregister_workflow",
]
