"""Processes as people and clients see them: one with its steps (done and still to come), a page of many, counts.

One read model for the REST API, the CLI and the web UI (and the GraphQL API to come): the store's
rows put together with what the workflow's code knows, the steps still to run and the form of a
suspended step.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic_forms.core import generate_form
from sqlalchemy.orm import Session

from orchestrion.db import get_database
from orchestrion.db.listing import ListQuery
from orchestrion.engine.registry import loaded_workflow
from orchestrion.engine.status import ProcessStatus
from orchestrion.engine.steps import StepGroup
from orchestrion.engine.workflow import Workflow, decode_branch
from orchestrion.storage import process_queries
from orchestrion.types import State

_CLEARED = {"success", "skipped", "complete"}  # steps whose state is what the next step started from


def _delta(before: State | None, after: State) -> State:
    if before is None:
        return after
    return {k: v for k, v in after.items() if k not in before or before[k] != v}


def _steps(rows: list[dict[str, Any]], wf: Workflow | None, cursor: list[str] | None) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    previous: State | None = None
    for r in rows:
        cleared = r["status"] in _CLEARED
        steps.append(
            {
                "step_id": r["step_id"],
                "name": r["name"],
                "status": r["status"],
                "created_by": r["created_by"],  # who caused the run that wrote the row
                "action": r["action"],  # how the run came about (docs/concepts.md lists the actions)
                "started": r["started_at"],
                "completed": r["completed_at"],
                "executed": r["completed_at"],
                "state": r["state"],
                "state_delta": _delta(previous, r["state"]) if cleared else None,
            }
        )
        if cleared:
            previous = r["state"]
    if wf is not None and cursor:
        keys = wf.steps.keys()
        start = keys.index(cursor[0]) if cursor[0] in keys else len(keys)
        if rows and rows[-1]["step_key"] == cursor[0]:
            start += 1  # the current step (or group) already has its row
        steps.extend({"name": s.name, "status": "pending"} for s in wf.steps[start:])
    return steps


def _form(process: dict[str, Any], wf: Workflow | None) -> dict[str, Any] | None:
    """The JSON schema of a suspended process's form, which resuming it answers."""
    if process["last_status"] != ProcessStatus.SUSPENDED or wf is None or not process["cursor"]:
        return None
    try:
        step = wf.step_at(tuple(process["cursor"]))
    except KeyError:
        return None
    if step.form is None or isinstance(step, StepGroup):
        return None
    return generate_form(step.form, process["state"], [])


def process_detail(process_id: uuid.UUID) -> dict[str, Any]:
    """A process with its steps (executed ones with state and state change, then the pending ones)."""
    with get_database().read() as session:
        p = process_queries.get_process(session, process_id)
        rows = process_queries.process_steps(session, process_id)
        branches = [c["process_id"] for c in p.get("children", []) if c["branch"]]
        branch_rows = process_queries.steps_of_processes(session, branches)
    return _detail(p, rows, branch_rows)


def process_details(session: Session, process_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """``process_detail`` for many processes at once (those that exist), in two queries."""
    found = process_queries.get_processes(session, process_ids)
    steps = process_queries.steps_of_processes(session, list(found))
    return {process_id: _detail(p, steps[process_id], {}) for process_id, p in found.items()}


def _detail(
    p: dict[str, Any], rows: list[dict[str, Any]], branch_rows: dict[uuid.UUID, list[dict[str, Any]]]
) -> dict[str, Any]:
    wf = _workflow(p)
    progress = p["callback_progress"]
    detail = {key: p[key] for key in p if key not in ("state",)}
    children = [_listed(c) for c in p.get("children", [])]
    return {
        **_listed(detail),
        "children": children,
        "branch_steps": [
            {**_steps([row], None, None)[0], "branch": c["branch"], "process_id": c["process_id"]}
            for c in children
            for row in branch_rows.get(c["process_id"], [])
        ],
        "current_state": p["state"] if progress is None else {**p["state"], "callback_progress": progress},
        "steps": _steps(rows, wf, p["cursor"]),
        "form": _form(p, wf),
    }


def _workflow(p: dict[str, Any]) -> Workflow | None:
    """The workflow a process runs: its workflow's steps, or its parallel branch's."""
    wf = loaded_workflow(p["workflow_name"])
    return wf.branch_of(p.get("branch")) if wf is not None else None


def _listed(p: dict[str, Any]) -> dict[str, Any]:
    """A process as lists show it: a branch by its path (``[fork, branch, ...]``), not its stored text."""
    return {**p, "branch": decode_branch(p["branch"]) or None} if "branch" in p else p


def process_page(listing: ListQuery) -> tuple[list[dict[str, Any]], int]:
    """One page of processes, newest first unless sorted otherwise, and how many match the filters."""
    with get_database().read() as session:
        items, total = process_queries.list_processes(session, listing)
    return [_listed(item) for item in items], total


def status_counts() -> dict[str, dict[str, int]]:
    with get_database().read() as session:
        return process_queries.status_counts(session)
