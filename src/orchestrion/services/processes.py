"""Start, resume, abort, delete and wait for processes: the same operations as the REST API.

Forms are validated here, before anything is written; a process row exists only once its input is
complete and valid. Work is then handed to the configured executor.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import timedelta
from typing import Any

from orchestrion.auth import Action, authorize
from orchestrion.db import get_database
from orchestrion.db.models import ProcessTable
from orchestrion.db.sessions import database_scope
from orchestrion.engine.outcomes import Success
from orchestrion.engine.runner import make_record, utcnow
from orchestrion.engine.serialization import StateSerializationError, roundtrip
from orchestrion.engine.status import IN_FLIGHT_STATUSES, RESUMABLE_STATUSES, ProcessStatus
from orchestrion.engine.steps import AwaitCallbackStep, LensStep, Step
from orchestrion.engine.workflow import PredicateContext, RunPredicateFail, Workflow
from orchestrion.errors import (
    EnginePausedError,
    FormGeneratorError,
    InvalidCallbackTokenError,
    InvalidInputError,
    NotAwaitingCallbackError,
    OrchestrionError,
    ProcessConflictError,
    ProcessNotResumableError,
    StartPredicateError,
    WorkflowChangedError,
    WorkflowNotFoundError,
)
from orchestrion.executors import get_executor
from orchestrion.executors.execution import watch_process
from orchestrion.forms import FormException, post_form
from orchestrion.settings import app_settings
from orchestrion.storage import process_queries, process_store
from orchestrion.types import State
from orchestrion.workflows import get_workflow, loaded_workflow

__all__ = [
    "abort_process",
    "delete_process",
    "deliver_callback",
    "recover",
    "report_callback_progress",
    "resume_process",
    "start_process",
    "wait_for_process",
]


def _workflow(name: str) -> Workflow:
    wf = get_workflow(name)
    if wf is None:
        raise WorkflowNotFoundError(f"Workflow {name!r} does not exist")
    return wf


def _check_not_paused() -> None:
    if process_store.is_paused(get_database()):
        raise EnginePausedError("The engine is paused; processes cannot be started or resumed")


def _check_predicate(wf: Workflow, key: str) -> None:
    """Ask the workflow's ``run_predicate``; a ``RunPredicateFail`` (or a falsy answer) refuses the start."""
    if wf.run_predicate is None:
        return
    verdict = wf.run_predicate(PredicateContext(wf, key))
    if isinstance(verdict, RunPredicateFail):
        raise StartPredicateError(verdict.message, workflow_key=key)
    if not verdict:
        raise StartPredicateError(f"Workflow {key!r} cannot be started now", workflow_key=key)


def _local_claim() -> tuple[str | None, timedelta]:
    """Executors in this Python process take the new claim at once, saving a transaction per start."""
    executor = get_executor()
    lease = getattr(executor, "lease", None)
    return (executor.worker_id, lease) if lease is not None else (None, timedelta(0))


def start_process(
    workflow_key: str, user_inputs: list[State] | None = None, user: str = "SYSTEM", user_model: Any = None
) -> uuid.UUID:
    """Validate the initial form against ``user_inputs`` and start the workflow; returns the process id.

    Raises ``FormNotCompleteError`` (more pages needed) or ``FormValidationError`` before anything
    is stored. ``user_inputs=None`` submits one empty page.
    """
    wf = _workflow(workflow_key)
    authorize(wf, "start_workflow", user, user_model=user_model)
    _check_not_paused()
    _check_predicate(wf, workflow_key)
    process_id = uuid.uuid4()
    system = {
        "process_id": process_id,
        "reporter": user,
        "workflow_name": workflow_key,
        "workflow_target": wf.target,
    }
    with database_scope(get_database()):  # the form's db.session, and its computed fields' while stored
        pages = [{}] if user_inputs is None else user_inputs
        user_input = _run_form(wf.initial_input_form, dict(system), pages, f"workflow {workflow_key!r}")
        state, _ = _storable({**user_input, **system})
        user_input, _ = _storable(user_input)
    worker_id, lease = _local_claim()
    claim = process_store.create_process(get_database(), wf, state, user_input, user, worker_id=worker_id, lease=lease)
    get_executor().submit(process_id, claim if worker_id else None, is_task=claim.is_task)
    return process_id


def _run_form(form: Any, state: State, pages: list[State], what: str) -> State:
    """Replay the form over the pages; the form code's own failure is reported as such, with its reason."""
    try:
        return post_form(form, state, pages)
    except (FormException, OrchestrionError):
        raise
    except Exception as e:
        raise FormGeneratorError(f"The form of {what} failed: {type(e).__name__}: {e}") from e


def _load(process_id: uuid.UUID) -> ProcessTable:
    with get_database().read() as session:
        return process_queries.get_process(session, process_id)


def _storable(data: State) -> tuple[State, bytes]:
    """Input from outside as the state will hold it; what JSON cannot store is refused as bad input."""
    try:
        stored = roundtrip(data)
    except StateSerializationError as e:
        raise InvalidInputError(f"The input cannot be stored: {e}") from e
    if b"\\u0000" in stored[1]:  # PostgreSQL cannot store NUL characters in JSON text
        raise InvalidInputError("The input cannot be stored: it contains a NUL character (\\u0000)")
    return stored


def _deep_merge(base: State, extra: State) -> State:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _step_at(wf: Workflow, cursor: tuple[str, ...]) -> Step:
    """The step a process continues with; refused (not a bare KeyError) when its workflow no longer has it."""
    try:
        return wf.step_at(cursor)
    except KeyError:
        raise WorkflowChangedError(
            f"Workflow {wf.name!r} no longer has step {' / '.join(cursor)!r}; abort this process"
        ) from None


def resume_process(
    process_id: uuid.UUID, user_inputs: list[State] | None = None, user: str = "SYSTEM", user_model: Any = None
) -> None:
    """Continue a suspended process with form input, or retry a failed/waiting one from before its failed step.

    Resuming a process awaiting a callback pushes it on without one (an operator's decision).
    """
    p = _load(process_id)
    status = ProcessStatus(p.last_status)
    if status not in RESUMABLE_STATUSES:
        raise ProcessNotResumableError(f"Process {process_id} is {status.value}; it cannot be resumed")
    wf = _workflow(p.workflow.name)
    cursor = tuple(p.cursor or ())
    step = _step_at(wf, cursor)
    action: Action = "resume_workflow" if status == ProcessStatus.SUSPENDED else "retry_workflow"
    authorize(wf, action, user, step, user_model)
    _check_not_paused()
    record = None
    user_input: State = {}
    if status == ProcessStatus.SUSPENDED:
        view = step.get(p.state) if isinstance(step, LensStep) else p.state  # a focussed step sees its part
        with database_scope(get_database()):
            user_input, _ = _storable(_run_form(step.form, view, user_inputs or [{}], f"step {step.name!r}"))
    if status in (ProcessStatus.SUSPENDED, ProcessStatus.AWAITING_CALLBACK):
        if isinstance(step, LensStep):
            merged = step.set(p.state, _deep_merge(step.get(p.state), user_input))
        else:
            merged = _deep_merge(p.state, user_input)
        record, _, _ = make_record(wf, cursor, step, Success(merged), utcnow(), is_task=p.is_task)
    worker_id, lease = _local_claim()
    with process_store.locked_process(get_database(), process_id) as (session, locked):
        if locked.last_status != p.last_status or locked.seq != p.seq:
            raise ProcessConflictError(f"Process {process_id} changed while resuming it; try again")
        claim = process_store.write_resumed(
            session, locked, record, user_input, user, worker_id=worker_id, lease=lease, fingerprint=wf.fingerprint
        )
    get_executor().submit(process_id, claim if worker_id else None, is_task=p.is_task, resume=True)


def deliver_callback(process_id: uuid.UUID, token: str, data: Any) -> None:
    """Hand an external system's answer to a process awaiting it; the token is single-use."""
    _check_not_paused()
    p = _load(process_id)
    early = ProcessStatus(p.last_status) in IN_FLIGHT_STATUSES and p.callback_token
    if early and secrets.compare_digest(p.callback_token or "", token):
        # The external system answered while the action step was still running (before the process
        # reached "Await callback"): give that step a moment to finish rather than lose the answer.
        wait_for_process(process_id, app_settings.CALLBACK_EARLY_WAIT_SECONDS)
        p = _load(process_id)
    if p.last_status != ProcessStatus.AWAITING_CALLBACK:
        raise NotAwaitingCallbackError(f"Process {process_id} is not awaiting a callback")
    if not p.callback_token or not secrets.compare_digest(p.callback_token, token):
        raise InvalidCallbackTokenError("Invalid token")
    wf = _workflow(p.workflow.name)
    cursor = tuple(p.cursor or ())
    step = _step_at(wf, cursor)
    if not isinstance(step, AwaitCallbackStep):
        raise NotAwaitingCallbackError(f"Process {process_id} is not awaiting a callback")
    result, _ = _storable({step.result_key: data})
    record, _, _ = make_record(wf, cursor, step, Success({**p.state, **result}), utcnow(), is_task=p.is_task)
    worker_id, lease = _local_claim()
    with process_store.locked_process(get_database(), process_id) as (session, locked):
        if locked.last_status != ProcessStatus.AWAITING_CALLBACK or locked.callback_token != token:
            raise NotAwaitingCallbackError(f"Process {process_id} is not awaiting a callback")
        claim = process_store.write_resumed(
            session, locked, record, result, "callback", worker_id=worker_id, lease=lease, fingerprint=wf.fingerprint
        )
    get_executor().submit(process_id, claim if worker_id else None, is_task=p.is_task, resume=True)


def report_callback_progress(process_id: uuid.UUID, token: str, data: Any) -> None:
    """Record what the external system reports while the process awaits its callback (shown, not acted on)."""
    stored, _ = _storable({"progress": data})
    with process_store.locked_process(get_database(), process_id) as (_session, p):
        if p.last_status != ProcessStatus.AWAITING_CALLBACK:
            raise NotAwaitingCallbackError(f"Process {process_id} is not awaiting a callback")
        if not p.callback_token or not secrets.compare_digest(p.callback_token, token):
            raise InvalidCallbackTokenError("Invalid token")
        p.callback_progress = stored["progress"]
        p.last_modified_at = utcnow()


def abort_process(process_id: uuid.UUID, user: str = "SYSTEM", user_model: Any = None) -> ProcessStatus:
    """Abort a process. A running one stops at its next step boundary; a completed one stays completed."""
    wf = loaded_workflow(_load(process_id).workflow.name)
    if wf is not None:  # a process of a removed (or unloadable) workflow can always be aborted
        authorize(wf, "abort_workflow", user, user_model=user_model)
    return process_store.abort(get_database(), process_id, user)


def delete_process(process_id: uuid.UUID) -> None:
    """Delete a process and its history; refused while a worker is running it."""
    process_store.delete_process(get_database(), process_id)


def wait_for_process(process_id: uuid.UUID, timeout: float = 30.0) -> ProcessStatus:
    """Block until the process stops (is not created/running/resumed) or ``timeout`` seconds pass; its status."""
    deadline = time.monotonic() + timeout
    database = get_database()
    while True:
        with watch_process(process_id) as stopped:  # woken by this Python process's workers; polls for others
            status = process_store.last_status(database, process_id)
            remaining = deadline - time.monotonic()
            if status not in IN_FLIGHT_STATUSES or remaining <= 0:
                return status
            stopped.wait(min(remaining, 0.05))


def recover() -> list[uuid.UUID]:
    """Hand every process left in flight by a crash (and owned by no live worker) to the executor."""
    executor = get_executor()
    if (start_heartbeat := getattr(executor, "start_heartbeat", None)) is not None:
        start_heartbeat()  # from now on this worker also takes over what other workers leave behind
    found = process_store.recoverable(get_database())
    for process_id in found:
        executor.submit(process_id, resume=True)
    return found
