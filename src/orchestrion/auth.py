"""Who may do what: workflow-level authorization callbacks, checked on every path (REST and Python).

A workflow's ``authorize_callback`` decides who may start (and abort) it; ``retry_auth_callback``
who may retry it; an input step's ``resume_auth_callback`` who may answer its form (a step's own
``retry_auth_callback`` overrides the workflow's for that step). A callback receives an
``AuthContext`` and returns a bool, or an awaitable of one (orchestrator-core's callbacks are
async). Refusal raises ``NotAuthorizedError`` (HTTP 403) before anything is written.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from orchestrion.engine.steps import Step
from orchestrion.engine.workflow import Workflow
from orchestrion.errors import NotAuthorizedError

Action = Literal["start_workflow", "resume_workflow", "retry_workflow", "abort_workflow"]
Authorizer = Callable[["AuthContext"], Any]


@dataclass(frozen=True)
class AuthContext:
    """What an authorization callback is asked about."""

    user: str
    action: Action
    workflow: Workflow
    step: Step | None = None
    user_model: Any = None  # the authenticated principal (claims of a token), when the API has one


def _verdict(callback: Authorizer, context: AuthContext) -> bool:
    result = callback(context)
    if inspect.isawaitable(result):

        async def wait() -> Any:
            return await result

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return bool(asyncio.run(wait()))
        raise RuntimeError("async authorization callbacks cannot be awaited from inside an event loop thread")
    return bool(result)


def authorize(workflow: Workflow, action: Action, user: str, step: Step | None = None, user_model: Any = None) -> None:
    """Raise ``NotAuthorizedError`` unless the callback for this action allows it (no callback: allowed)."""
    callback: Authorizer | None
    if action == "resume_workflow":
        callback = (step.resume_auth_callback if step else None) or workflow.authorize_callback
    elif action == "retry_workflow":
        callback = (step.retry_auth_callback if step else None) or workflow.retry_auth_callback
    else:
        callback = workflow.authorize_callback
    if callback is None:
        return
    if not _verdict(callback, AuthContext(user, action, workflow, step, user_model)):
        verb = action.removesuffix("_workflow")
        raise NotAuthorizedError(f"User {user!r} may not {verb} workflow {workflow.name!r}")
