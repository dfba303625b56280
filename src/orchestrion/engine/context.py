"""What a running step may ask about where it runs: its process, its name, and the route an external system answers on.

The runner sets it for each run and names each step as it runs it; steps (and the step DSL's
callback step, and the subscription history) read it with ``current_step()`` instead of keeping
engine facts in the user's state.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrion.engine.children import Children


def rest_callback_route(process_id: uuid.UUID, token: str) -> str:
    """The REST API's callback route (``POST`` answers the step that waits for it)."""
    return f"/api/processes/{process_id}/callback/{token}"


@dataclass(frozen=True, slots=True)
class StepContext:
    process_id: uuid.UUID
    workflow_name: str
    callback_route_for: Callable[[uuid.UUID, str], str] = rest_callback_route
    children: Children | None = None  # starting and awaiting child processes (a store that keeps them)
    user: str | None = None  # who caused this run
    action: str = "start"  # what caused this run (``start``, ``retry``, ``children``, ...)
    branch: str | None = None  # the parallel branch this process runs (``engine.workflow.encode_branch``)

    def callback_route(self, token: str) -> str:
        """Where the external system posts its answer, for a callback step's ``token``."""
        return self.callback_route_for(self.process_id, token)


_current: ContextVar[StepContext | None] = ContextVar("orchestrion_step_context", default=None)


def current_step() -> StepContext:
    """The context of the step running in this thread; ``LookupError`` outside a step."""
    context = _current.get()
    if context is None:
        raise LookupError("no step is running here")
    return context


def enter_step_context(context: StepContext | None) -> Token[StepContext | None]:
    """Make ``context`` the running step's (the runner's, for a run); ``leave_step_context`` undoes it."""
    return _current.set(context)


def leave_step_context(token: Token[StepContext | None]) -> None:
    _current.reset(token)


_step_name: ContextVar[str | None] = ContextVar("orchestrion_step_name", default=None)


def current_step_name() -> str | None:
    """The name of the step running in this thread (None between steps and outside a run)."""
    return _step_name.get()


def enter_named_step(name: str) -> Token[str | None]:
    """Name the step that runs now (a variable of its own: the run's context stays as it is, no copy per
    step); ``leave_named_step`` undoes it."""
    return _step_name.set(name)


def leave_named_step(token: Token[str | None]) -> None:
    _step_name.reset(token)
