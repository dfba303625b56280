"""Starting child processes from a step: any workflow, its form checked as a start through the API would be.

``start_child`` is called inside a step. The child's row, its initial input and the subscriptions
its workflow locks are written in the step's transaction, so they commit with the step's
checkpoint, or not at all; the executor runs the child once the step committed. A later
``await_children`` step waits for them (``orchestrion.engine.children``).
"""

from __future__ import annotations

import uuid

from orchestrion.db.sessions import session as step_session
from orchestrion.engine.children import children
from orchestrion.engine.context import current_step
from orchestrion.engine.registry import get_workflow
from orchestrion.errors import WorkflowNotFoundError
from orchestrion.runtime import current
from orchestrion.services.processes import prepare_start
from orchestrion.types import State

DEFAULT_GROUP = "children"


def start_child(
    workflow_key: str, user_input: State | list[State] | None = None, *, group: str = DEFAULT_GROUP
) -> uuid.UUID:
    """Start ``workflow_key`` as a child of the running step's process, in ``group``; returns its id.

    ``user_input``: the child's form input, one page (a dict) or several (a list). A form that
    refuses it, a workflow that does not exist, or a subscription another process holds fails the
    step, and nothing of it is kept.
    """
    kids = children()
    wf = get_workflow(workflow_key)
    if wf is None:
        raise WorkflowNotFoundError(f"Workflow {workflow_key!r} does not exist")
    pages = [user_input] if isinstance(user_input, dict) else user_input
    user = current_step().user or "SYSTEM"  # children are started for whoever caused the parent's run
    new = prepare_start(current(), wf, workflow_key, pages, user)
    child = kids.spawn(wf, new.state, new.user_input, group=group)
    new.reserve(step_session())  # its subscriptions, linked to the row just written
    return child
