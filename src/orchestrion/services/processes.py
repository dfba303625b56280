"""Start, resume, abort, annotate, delete and wait for processes: the same operations as the REST API.

Forms are validated here, before anything is written; a process row exists only once its input is
complete and valid. The process store then records what changed, and the work goes to the
runtime's executor.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import orjson
import structlog
from sqlalchemy.orm import Session

from orchestrion import metrics
from orchestrion.auth import Action, authorize
from orchestrion.db.database import Database
from orchestrion.db.sessions import database_scope
from orchestrion.db.types import as_uuid, texts_storable
from orchestrion.engine.answers import answer_callback, answer_input, form_view
from orchestrion.engine.clock import utcnow
from orchestrion.engine.registry import get_workflow, loaded_workflow
from orchestrion.engine.runner import StepRecord, opening_records
from orchestrion.engine.serialization import StateSerializationError, roundtrip
from orchestrion.engine.status import IN_FLIGHT_STATUSES, RESUMABLE_STATUSES, ProcessStatus
from orchestrion.engine.steps import AwaitCallbackStep, Step
from orchestrion.engine.workflow import PredicateContext, RunPredicateFail, Workflow
from orchestrion.errors import (
    EnginePausedError,
    InvalidCallbackTokenError,
    InvalidInputError,
    NotAwaitingCallbackError,
    OrchestrionError,
    ProcessConflictError,
    ProcessNotResumableError,
    ResumeAllRunningError,
    StaleSubscriptionError,
    StartPredicateError,
    StateTooLargeError,
    SubscriptionLockedError,
    SubscriptionNotFoundError,
    WorkflowChangedError,
    WorkflowNotFoundError,
)
from orchestrion.executors.execution import watch_process
from orchestrion.forms import FormException
from orchestrion.runtime import Runtime, current
from orchestrion.services import subscriptions
from orchestrion.services.audit import audited
from orchestrion.services.forms import refused_field, run_form
from orchestrion.storage import idempotency
from orchestrion.storage.steering import ProcessSnapshot
from orchestrion.types import State

__all__ = [
    "NOTE_LENGTH",
    "RESUME_ALL_STATUSES",
    "abort_process",
    "delete_process",
    "deliver_callback",
    "prepare_start",
    "recover",
    "report_callback_progress",
    "resume_all_tasks",
    "resume_process",
    "set_process_note",
    "start_process",
    "wait_for_process",
]

logger = structlog.get_logger(__name__)

IDEMPOTENCY_KEY_LENGTH = 255
NOTE_LENGTH = 5000  # the longest note a process (or a subscription, ``modify_note``) takes, as in orchestrator-core
# The task statuses "retry all" picks up: ended by a failure, not by a person or a form.
RESUME_ALL_STATUSES = frozenset(
    {ProcessStatus.FAILED, ProcessStatus.WAITING, ProcessStatus.API_UNAVAILABLE, ProcessStatus.INCONSISTENT_DATA}
)


def _workflow(name: str) -> Workflow:
    wf = get_workflow(name)
    if wf is None:
        raise WorkflowNotFoundError(f"Workflow {name!r} does not exist")
    return wf


def _check_not_paused(runtime: Runtime) -> None:
    if runtime.store.is_paused():
        raise EnginePausedError


def _check_predicate(wf: Workflow, key: str) -> None:
    """Ask the workflow's ``run_predicate``; a ``RunPredicateFail`` (or a falsy answer) refuses the start."""
    if wf.run_predicate is None:
        return
    verdict = wf.run_predicate(PredicateContext(wf, key))
    if isinstance(verdict, RunPredicateFail):
        raise StartPredicateError(verdict.message, workflow_key=key)
    if not verdict:
        raise StartPredicateError(f"Workflow {key!r} cannot be started now", workflow_key=key)


def _local_claim(runtime: Runtime) -> tuple[str | None, timedelta]:
    """Executors in this Python process take the new claim at once, saving a transaction per start."""
    executor = runtime.executor
    return (executor.worker_id, executor.lease) if executor.lease is not None else (None, timedelta(0))


def start_process(
    workflow_key: str,
    user_inputs: list[State] | None = None,
    user: str = "SYSTEM",
    user_model: Any = None,
    *,
    idempotency_key: str | None = None,
) -> uuid.UUID:
    """Validate the initial form against ``user_inputs`` and start the workflow; returns the process id.

    Raises ``FormNotCompleteError`` (more pages needed) or ``FormValidationError`` before anything
    is stored, also while the engine is paused (the form opens); a complete form is then refused
    with ``EnginePausedError``. ``user_inputs=None`` submits one empty page. ``idempotency_key``: the
    same key again (within ``IDEMPOTENCY_KEY_RETENTION_HOURS``) returns the process the first start created, and
    starts nothing; used with a different request it is refused (``ProcessConflictError``).
    """
    runtime = current()
    wf = _workflow(workflow_key)
    authorize(wf, "start_workflow", user, user_model=user_model)
    keyed = _Keyed.of(runtime, idempotency_key, workflow_key, user_inputs, user)
    if keyed is not None and (earlier := keyed.earlier()) is not None:
        return earlier
    # after the form: its pages open while paused, only starting is refused (by create_process, in its statement)
    new = prepare_start(runtime, wf, workflow_key, user_inputs, user)
    process_id = new.process_id
    worker_id, lease = _local_claim(runtime)
    within = partial(_commit_with_process, process_id, keyed, new.reservations) if keyed or new.reservations else None
    # its opening pure steps (init) done with it: created running when a worker here is free, or, for
    # workers elsewhere (Celery), created waiting for one, which then saves their checkpoint
    at_once = worker_id and runtime.executor.runs_at_once()
    opening = opening_records(wf, new.state) if at_once or worker_id is None else ()
    try:
        claim = runtime.store.create_process(
            wf, new.state, new.user_input, user, worker_id=worker_id, lease=lease, within=within, opening=opening
        )
    except _KeyTakenError as taken:
        return taken.process_id
    for record in opening[: claim.seq]:  # the steps written with the process ran here, as a worker's do
        metrics.observe_step(wf.name, record)
    runtime.executor.submit(process_id, claim if worker_id else None, is_task=claim.is_task)
    return process_id


@dataclass(frozen=True)
class NewProcess:
    """A start that passed its checks and its form: the state and input to store, the subscriptions to reserve."""

    process_id: uuid.UUID
    state: State
    user_input: State
    reservations: list[tuple[str, subscriptions.Reservation]]

    def reserve(self, session: Session) -> None:
        """Reserve its subscriptions in ``session``'s transaction (the one that creates the process)."""
        _reserve(self.process_id, self.reservations, session)

    def check_reservations(self, session: Session) -> None:
        """Refuse, as ``reserve`` would, without reserving anything (a dry run)."""
        for key, reservation in self.reservations:
            if (refusal := subscriptions.reservation_refusal(session, reservation)) is not None:
                raise _refused(key, reservation, refusal)


def prepare_start(
    runtime: Runtime, wf: Workflow, workflow_key: str, user_inputs: list[State] | None, user: str
) -> NewProcess:
    """Ask the workflow's ``run_predicate`` and validate its initial form, before anything is stored.

    Raises ``FormNotCompleteError`` (more pages needed) or ``FormValidationError``.
    """
    _check_predicate(wf, workflow_key)
    process_id = uuid.uuid4()
    system = {
        "process_id": process_id,
        "reporter": user,
        "workflow_name": workflow_key,
        "workflow_target": wf.target,
    }
    with database_scope(runtime.database):  # the form's db.session, and its computed fields' while stored
        pages = [{}] if user_inputs is None else user_inputs
        user_input = run_form(wf.initial_input_form, dict(system), pages, f"workflow {workflow_key!r}")
        state, raw = _storable({**user_input, **system})
        _check_state_size(runtime, "The initial state", raw)
        user_input, _ = _storable(user_input)
    reservations = _reservations(wf, state)
    if reservations:
        state[subscriptions.RESERVED_KEY] = [str(r.subscription_id) for _, r in reservations]
    return NewProcess(process_id, state, user_input, reservations)


class _KeyTakenError(Exception):
    """A concurrent start with the same idempotency key committed first: its process is the answer."""

    def __init__(self, process_id: uuid.UUID) -> None:
        self.process_id = process_id


@dataclass(frozen=True)
class _Keyed:
    """A start with an idempotency key: the key, a digest of what was asked, the retention window."""

    database: Database
    key: str
    request_hash: str
    retention: timedelta

    @classmethod
    def of(
        cls, runtime: Runtime, key: str | None, workflow_key: str, user_inputs: list[State] | None, user: str
    ) -> _Keyed | None:
        if key is None:
            return None
        if not 0 < len(key) <= IDEMPOTENCY_KEY_LENGTH or not key.isprintable():
            raise InvalidInputError(f"An idempotency key is 1 to {IDEMPOTENCY_KEY_LENGTH} printable characters")
        asked = orjson.dumps([workflow_key, user_inputs, user], default=str, option=orjson.OPT_SORT_KEYS)
        retention = timedelta(hours=runtime.settings.IDEMPOTENCY_KEY_RETENTION_HOURS)
        return cls(runtime.database, key, hashlib.sha256(asked).hexdigest(), retention)

    def earlier(self) -> uuid.UUID | None:
        """The process an earlier start with this key created; None when the key is new."""
        return self._answer(idempotency.find(self.database, self.key, utcnow() - self.retention))

    def remember(self, session: Session, process_id: uuid.UUID) -> None:
        holder = idempotency.remember(session, self.key, self.request_hash, process_id, utcnow(), self.retention)
        if (earlier := self._answer(holder)) is not None:
            raise _KeyTakenError(earlier)

    def _answer(self, start: idempotency.KeyedStart | None) -> uuid.UUID | None:
        if start is None:
            return None
        if start.request_hash != self.request_hash:
            raise ProcessConflictError(
                f"Idempotency-Key {self.key!r} was used for a different start (another workflow, input or user)"
            )
        return start.process_id


def _commit_with_process(
    process_id: uuid.UUID,
    keyed: _Keyed | None,
    reservations: list[tuple[str, subscriptions.Reservation]],
    session: Session,
    created_at: datetime,
) -> None:
    """What commits with the new process: its idempotency key first (a retry of a start in progress
    waits for that start and answers its process), then its subscriptions' reservations, linked as of
    the process's creation."""
    if keyed is not None:
        keyed.remember(session, process_id)
    _reserve(process_id, reservations, session, created_at)


def _reservations(wf: Workflow, state: State) -> list[tuple[str, subscriptions.Reservation]]:
    """The subscriptions a new process of ``wf`` locks (by the state key naming each), with the version its form saw."""
    versions = state.get(subscriptions.FORM_VERSIONS_KEY) or {}
    found = []
    for key in wf.reserved_keys:
        if (value := state.get(key)) is None:
            continue
        try:
            subscription_id = as_uuid(value)
        except ValueError:
            continue  # not a subscription id: the locking step reports it
        found.append((key, subscriptions.Reservation(subscription_id, versions.get(str(subscription_id)))))
    return found


def _reserve(
    process_id: uuid.UUID,
    reservations: list[tuple[str, subscriptions.Reservation]],
    session: Session,
    linked_at: datetime | None = None,
) -> None:
    """Reserve the subscriptions in the new process's transaction; a refusal is the form's, on the naming field."""
    for key, reservation in reservations:
        try:
            subscriptions.reserve(session, process_id, reservation, linked_at)
        except (SubscriptionLockedError, StaleSubscriptionError, SubscriptionNotFoundError) as e:
            raise _refused(key, reservation, e) from e


def _refused(key: str, reservation: subscriptions.Reservation, error: Exception) -> Exception:
    """A refused reservation as the form's error, on the field naming the subscription."""
    message = (
        str(error) if isinstance(error, SubscriptionNotFoundError) else f"This workflow cannot be started: {error}"
    )
    return refused_field(key, message, str(reservation.subscription_id))


def _storable(data: State) -> tuple[State, bytes]:
    """Input from outside as the state will hold it; what JSON cannot store is refused as bad input."""
    try:
        stored = roundtrip(data)
    except StateSerializationError as e:
        raise InvalidInputError(f"The input cannot be stored: {e}") from e
    if not texts_storable(stored[0]):
        raise InvalidInputError("The input cannot be stored: it contains a NUL character or a lone surrogate")
    return stored


def _check_state_size(runtime: Runtime, what: str, raw: bytes) -> None:
    """Refuse input that would make a state over ``MAX_PROCESS_STATE_BYTES``, before anything is stored.

    (A step returning such a state fails instead: the runner is given the same limit.)
    """
    limit = runtime.settings.MAX_PROCESS_STATE_BYTES
    if len(raw) > limit:
        raise StateTooLargeError(what, len(raw), limit)


def _step_at(wf: Workflow, cursor: tuple[str, ...]) -> Step:
    """The step a process continues with; refused (not a bare KeyError) when its workflow no longer has it."""
    try:
        return wf.step_at(cursor)
    except KeyError:
        raise WorkflowChangedError(
            f"Workflow {wf.name!r} no longer has step {' / '.join(cursor)!r}; abort this process"
        ) from None


def _continue(
    runtime: Runtime,
    seen: ProcessSnapshot,
    wf: Workflow,
    record: StepRecord | None,
    given: State,
    user: str,
    callback_token: str | None = None,
    automatic: bool = False,
) -> None:
    """Resume the process in the store (refused if it changed meanwhile) and hand it to the executor."""
    worker_id, lease = _local_claim(runtime)
    claim = runtime.store.resume(
        seen,
        record,
        given,
        user,
        worker_id=worker_id,
        lease=lease,
        fingerprint=wf.fingerprint,
        callback_token=callback_token,
        automatic=automatic,
    )
    runtime.executor.submit(seen.process_id, claim if worker_id else None, is_task=seen.is_task, resume=True)


def resume_process(
    process_id: uuid.UUID,
    user_inputs: list[State] | None = None,
    user: str = "SYSTEM",
    user_model: Any = None,
    *,
    automatic: bool = False,
) -> None:
    """Continue a suspended process with form input, or retry a failed/waiting one from before its failed step.

    Resuming a process awaiting a callback pushes it on without one (an operator's decision).
    ``automatic``: the retry policy's own retry of a waiting process (``task_resume_workflows``); its
    history rows say "automatic retry" rather than naming a person's retry.
    """
    runtime = current()
    seen = runtime.store.get(process_id)
    if seen.status not in RESUMABLE_STATUSES:
        raise ProcessNotResumableError(f"Process {process_id} is {seen.status.value}; it cannot be resumed")
    wf = _workflow(seen.workflow_name)
    cursor = seen.cursor or ()
    step = _step_at(wf, cursor)
    action: Action = "resume_workflow" if seen.status == ProcessStatus.SUSPENDED else "retry_workflow"
    authorize(wf, action, user, step, user_model)
    _check_not_paused(runtime)
    record = None
    answer: State = {}
    if seen.status == ProcessStatus.SUSPENDED:
        with database_scope(runtime.database):
            pages = [{}] if user_inputs is None else user_inputs  # [] asks for the form: FormNotCompleteError
            form_input = run_form(step.form, form_view(step, seen.state), pages, f"step {step.name!r}")
            answer, _ = _storable(form_input)
    if seen.status in (ProcessStatus.SUSPENDED, ProcessStatus.AWAITING_CALLBACK):
        record = answer_input(wf, cursor, step, seen.state, answer, is_task=seen.is_task)
        _check_state_size(runtime, "The state with this input", record.row_json)
    _continue(runtime, seen, wf, record, answer, user, automatic=automatic)


def deliver_callback(process_id: uuid.UUID, token: str, data: Any) -> None:
    """Hand an external system's answer to a process awaiting it; the token is single-use."""
    runtime = current()
    _check_not_paused(runtime)
    seen = runtime.store.get(process_id)
    early = seen.status in IN_FLIGHT_STATUSES and seen.callback_token
    if early and secrets.compare_digest(seen.callback_token or "", token):
        # The external system answered while the action step was still running (before the process
        # reached "Await callback"): give that step a moment to finish rather than lose the answer.
        wait_for_process(process_id, runtime.settings.CALLBACK_EARLY_WAIT_SECONDS)
        seen = runtime.store.get(process_id)
    if seen.status != ProcessStatus.AWAITING_CALLBACK:
        raise NotAwaitingCallbackError(f"Process {process_id} is not awaiting a callback")
    if not seen.callback_token or not secrets.compare_digest(seen.callback_token, token):
        raise InvalidCallbackTokenError("Invalid token")
    wf = _workflow(seen.workflow_name)
    cursor = seen.cursor or ()
    step = _step_at(wf, cursor)
    if not isinstance(step, AwaitCallbackStep):
        raise NotAwaitingCallbackError(f"Process {process_id} is not awaiting a callback")
    result, _ = _storable({step.result_key: data})
    record = answer_callback(wf, cursor, step, seen.state, result, is_task=seen.is_task)
    _check_state_size(runtime, "The state with this callback", record.row_json)
    _continue(runtime, seen, wf, record, result, "callback", callback_token=token)


def report_callback_progress(process_id: uuid.UUID, token: str, data: Any) -> None:
    """Record what the external system reports while the process awaits its callback (shown, not acted on)."""
    stored, _ = _storable({"progress": data})
    current().store.report_progress(process_id, token, stored["progress"])


def abort_process(process_id: uuid.UUID, user: str = "SYSTEM", user_model: Any = None) -> ProcessStatus:
    """Abort a process and its children. A running one stops at its next step boundary; a completed one
    stays completed. A parent waiting for this child may go on: it is handed to the executor (it runs
    only if the abort woke it)."""
    runtime = current()
    seen = runtime.store.get(process_id)
    wf = loaded_workflow(seen.workflow_name)
    if wf is not None:  # a process of a removed (or unloadable) workflow can always be aborted
        authorize(wf, "abort_workflow", user, user_model=user_model)
    status = runtime.store.abort(process_id, user)
    if seen.parent_process_id is not None and status == ProcessStatus.ABORTED:
        runtime.executor.submit(seen.parent_process_id, resume=True)
    return status


_resume_all_locks: weakref.WeakKeyDictionary[Runtime, threading.Lock] = weakref.WeakKeyDictionary()
_resume_all_locks_lock = threading.Lock()


def _resume_all_lock(runtime: Runtime) -> threading.Lock:
    with _resume_all_locks_lock:
        return _resume_all_locks.setdefault(runtime, threading.Lock())


def resume_all_tasks(user: str = "SYSTEM", user_model: Any = None) -> int:
    """Retry every task process that ended in ``RESUME_ALL_STATUSES``; how many there were.

    One at a time per application: a second call while one goes through the tasks is refused
    (``ResumeAllRunningError``) rather than retrying the same tasks twice. A task that cannot be
    retried (it moved on meanwhile, an authorization callback refuses or fails, its workflow no
    longer loads) is logged and skipped: the others are still retried, as in orchestrator-core.
    """
    runtime = current()
    _check_not_paused(runtime)
    lock = _resume_all_lock(runtime)
    if not lock.acquire(blocking=False):
        raise ResumeAllRunningError("Another request to retry all tasks is still running")
    try:
        found = runtime.store.tasks_in(RESUME_ALL_STATUSES)
        for process_id in found:
            try:
                resume_process(process_id, user=user, user_model=user_model)
            except (OrchestrionError, FormException) as e:
                logger.info("Task not retried", process_id=str(process_id), reason=str(e))
            except Exception:  # the application's code (an authorizer, say) failing stops only this task
                logger.exception("Task not retried", process_id=str(process_id))
        logger.info("Retried all failed tasks", count=len(found))
        return len(found)
    finally:
        lock.release()


def set_process_note(process_id: uuid.UUID, note: str | None) -> None:
    """Keep a person's note on the process; an empty note clears it."""
    if note is not None and len(note) > NOTE_LENGTH:
        raise InvalidInputError(f"A note has at most {NOTE_LENGTH} characters, not {len(note)}")
    current().store.set_note(process_id, note or None)


def delete_process(process_id: uuid.UUID) -> None:
    """Delete a process and its history (its hash chain with it: the audit log keeps that it went); refused while
    a worker is running it."""
    store = current().store
    with audited("process.delete", "process", process_id) as note:
        seen = store.get(process_id)
        note.details.update(workflow=seen.workflow_name, status=seen.status.value, history_rows=seen.seq)
        store.delete(process_id, within=note.append)


def wait_for_process(process_id: uuid.UUID, timeout: float = 30.0) -> ProcessStatus:
    """Block until the process stops (is not created/running/resumed) or ``timeout`` seconds pass; its status."""
    deadline = time.monotonic() + timeout
    store = current().store
    while True:
        with watch_process(process_id) as stopped:  # woken by this Python process's workers; polls for others
            remaining = deadline - time.monotonic()
            if not stopped.held or remaining <= 0:
                status = store.last_status(process_id)
                if status not in IN_FLIGHT_STATUSES or remaining <= 0:
                    return status
            if stopped.wait(min(remaining, 0.05)) and stopped.status is not None:
                return stopped.status  # the worker here ended it: final, nothing to read


def recover() -> list[uuid.UUID]:
    """Hand every process left in flight by a crash (and owned by no live worker) to the executor."""
    runtime = current()
    runtime.executor.start_heartbeat()  # from now on this worker also takes over what other workers leave behind
    found = runtime.store.recoverable()
    for process_id in found:
        runtime.executor.submit(process_id, resume=True)
    return found
