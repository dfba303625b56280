"""The registry of workflows: names to lazily imported workflow objects.

Code registers workflows (``LazyWorkflowInstance``, at import, as orchestrator-core applications
do); the engine's callers look them up by name. It lives beside the engine, below everything that
runs workflows, so the executors, services and scheduler find workflows without importing the
packages that define them. ``orchestrion.workflows`` offers the same names to authors.
"""

from __future__ import annotations

import importlib
import threading

import structlog

from orchestrion.engine.workflow import Workflow
from orchestrion.errors import WorkflowImportError

logger = structlog.get_logger(__name__)

ALL_WORKFLOWS: dict[str, LazyWorkflowInstance] = {}
_lock = threading.Lock()


class LazyWorkflowInstance:
    """Registers ``function`` in module ``package`` under the function's name; imported on first use.

    A relative ``package`` (starting with ``.``) resolves against ``orchestrion.workflows``.
    """

    def __init__(self, package: str, function: str, is_callable: bool = False) -> None:
        self.package = package
        self.function = function
        self.is_callable = is_callable
        self._workflow: Workflow | None = None
        with _lock:
            existing = ALL_WORKFLOWS.get(function)
            if existing is not None and (existing.package, existing.function) != (package, function):
                raise ValueError(
                    f"workflow name {function!r} is already registered from {existing.package!r}; names must be unique"
                )
            ALL_WORKFLOWS[function] = self

    def instantiate(self) -> Workflow:
        """The workflow object; ``WorkflowImportError`` (naming the cause) when its module cannot provide it."""
        if self._workflow is None:
            try:
                module = importlib.import_module(self.package, "orchestrion.workflows")
                wf = getattr(module, self.function)
                if self.is_callable:
                    wf = wf()
            except Exception as e:
                logger.error("Workflow cannot be loaded", workflow=self.function, module=self.package, exc_info=e)
                raise WorkflowImportError(
                    f"Workflow {self.function!r} cannot be loaded from {self.package!r}: {type(e).__name__}: {e}"
                ) from e
            if not isinstance(wf, Workflow):
                raise WorkflowImportError(
                    f"{self.package}.{self.function} is not a workflow (use the @workflow decorator)"
                )
            wf.name = self.function
            self._workflow = wf
        return self._workflow

    def __repr__(self) -> str:
        return f"LazyWorkflowInstance({self.package!r}, {self.function!r})"


def get_workflow(name: str) -> Workflow | None:
    """The workflow registered under ``name``, or None."""
    lazy = ALL_WORKFLOWS.get(name)
    return lazy.instantiate() if lazy is not None else None


def loaded_workflow(name: str) -> Workflow | None:
    """The workflow, or None when it is not registered or its module cannot be loaded (already logged).

    For what must work whatever a workflow's code does: showing and aborting its processes.
    """
    try:
        return get_workflow(name)
    except WorkflowImportError:
        return None


def register_workflow(wf: Workflow, name: str | None = None) -> Workflow:
    """Register an already-built workflow object (tests, scripts); same uniqueness rule as the lazy form."""
    name = name or wf.name
    with _lock:
        existing = ALL_WORKFLOWS.get(name)
        if existing is not None and existing._workflow is not wf:
            raise ValueError(f"workflow name {name!r} is already registered; names must be unique")
        lazy = object.__new__(LazyWorkflowInstance)
        lazy.package, lazy.function, lazy.is_callable = wf.__module__, name, False
        wf.name = name
        lazy._workflow = wf
        ALL_WORKFLOWS[name] = lazy
    return wf


def unregister_workflow(name: str) -> None:
    ALL_WORKFLOWS.pop(name, None)
