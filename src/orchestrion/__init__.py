"""orchestrion: a workflow engine for the lifecycle of customer subscriptions.

The names orchestrator-core applications import from the top-level package (``from orchestrion
import OrchestratorCore, app_settings, step``) are loaded on first use, so ``import orchestrion``
stays cheap and importing a submodule never pulls in the web application.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "OrchestratorCore": "orchestrion.app",
    "app_settings": "orchestrion.settings",
    **{
        name: "orchestrion.workflow"
        for name in ("begin", "conditional", "done", "focussteps", "init", "inputstep", "retrystep", "step", "steplens")
    },
    "workflow": "orchestrion.workflow",
}

__all__ = [
    "OrchestratorCore",
    "__version__",
    "app_settings",
    "begin",
    "conditional",
    "done",
    "focussteps",
    "init",
    "inputstep",
    "retrystep",
    "step",
    "steplens",
    "workflow",
]

if TYPE_CHECKING:
    from orchestrion.app import OrchestratorCore
    from orchestrion.settings import app_settings
    from orchestrion.workflow import (
        begin,
        conditional,
        done,
        focussteps,
        init,
        inputstep,
        retrystep,
        step,
        steplens,
        workflow,
    )


class _Package(types.ModuleType):
    """``orchestrion.workflow`` is the decorator, as in orchestrator-core, not the submodule of that name.

    Importing a submodule sets it as an attribute of its package; for ``workflow`` that would hide the
    decorator, so that one assignment is skipped (``from orchestrion.workflow import ...`` still works).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "workflow" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'orchestrion' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
