"""The process store on SQL (SQLite and PostgreSQL): ``ProcessStore`` over the modules that own each concern.

``claims`` (creating, claiming, leases, recovery), ``checkpoints`` (the per-step hot path),
``steering`` (abort, resume, callbacks, notes, deletion), ``switch`` (the engine pause) and ``sweeps``
(what the built-in tasks look for). The sweeps that change processes run in the current step's
transaction when a task's step calls them, so they commit with its checkpoint.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from orchestrion.db.database import Database
from orchestrion.db.sessions import session as step_session
from orchestrion.db.sessions import transaction_session
from orchestrion.engine.context import StepContext, rest_callback_route
from orchestrion.engine.runner import StepRecord
from orchestrion.engine.status import ProcessStatus
from orchestrion.engine.workflow import Path, Workflow
from orchestrion.storage import checkpoints, claims, process_queries, steering, sweeps, switch
from orchestrion.storage.checkpoints import DbJournal
from orchestrion.storage.children import SqlChildren, abort_descendants
from orchestrion.storage.claims import Claim
from orchestrion.storage.steering import ProcessSnapshot
from orchestrion.types import State


class SqlProcessStore:
    def __init__(self, db: Database, callback_route: Callable[[uuid.UUID, str], str] = rest_callback_route) -> None:
        self.db = db
        self.callback_route = callback_route

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        """A read session of its own, also in a step (whose write transaction other writers would wait on)."""
        with self.db.read() as session:
            yield session

    @contextmanager
    def _in_step(self, write: bool) -> Iterator[Session]:
        """The running step's transaction when a (task's) step calls, else a session of its own."""
        if (current := transaction_session()) is not None:
            yield current
            return
        with self.db.write() if write else self.db.read() as session:
            yield session

    # --- creating and running ---------------------------------------------------------------

    def create_process(
        self,
        wf: Workflow,
        state: State,
        initial_input: State,
        user: str,
        *,
        worker_id: str | None,
        lease: timedelta,
        within: Callable[[Session, datetime], None] | None = None,
        opening: tuple[StepRecord, ...] = (),
    ) -> Claim:
        return claims.create_process(
            self.db,
            wf,
            state,
            initial_input,
            user,
            worker_id=worker_id,
            lease=lease,
            within=within,
            opening=partial(checkpoints.opening, opening) if opening else None,
        )

    def claim(self, process_id: uuid.UUID, worker_id: str, lease: timedelta) -> Claim | None:
        return claims.claim(self.db, process_id, worker_id, lease)

    def journal(self, claim: Claim, should_stop: Callable[[], bool] | None = None) -> DbJournal:
        pending: list[uuid.UUID] = []
        kids = SqlChildren(claim, pending)
        context = StepContext(
            claim.process_id,
            claim.workflow_name,
            self.callback_route,
            children=kids,
            user=claim.user,
            action=claim.action,
            branch=claim.branch,
        )
        return DbJournal(
            self.db,
            claim,
            should_stop=should_stop,
            context=context,
            pending=pending,
            abort_children=partial(_abort_children, claim.process_id),
        )

    def release(self, claim: Claim) -> None:
        claims.release(self.db, claim)

    def renew_leases(self, worker_id: str, process_ids: list[uuid.UUID], lease: timedelta) -> None:
        claims.renew_leases(self.db, worker_id, process_ids, lease)

    def recoverable(self, grace: timedelta | None = None, *, abandoned_only: bool = False) -> list[uuid.UUID]:
        return claims.recoverable(self.db, grace, abandoned_only=abandoned_only)

    def mark_workflow_changed(self, claim: Claim, fingerprint: str) -> None:
        claims.mark_workflow_changed(self.db, claim, fingerprint)

    def fail_unrunnable(self, claim: Claim, reason: str, traceback: str | None = None) -> None:
        claims.fail_unrunnable(self.db, claim, reason, traceback)

    # --- reading ------------------------------------------------------------------------------

    def get(self, process_id: uuid.UUID) -> ProcessSnapshot:
        return steering.get(self.db, process_id)

    def last_status(self, process_id: uuid.UUID) -> ProcessStatus:
        return switch.last_status(self.db, process_id)

    def history(self, process_id: uuid.UUID) -> list[tuple[str, str, State]]:
        with self._reading() as session:
            return [(r["name"], r["status"], r["state"]) for r in process_queries.process_steps(session, process_id)]

    # --- steering -----------------------------------------------------------------------------

    def abort(self, process_id: uuid.UUID, user: str, *, by_owner: bool = False) -> ProcessStatus:
        return steering.abort(self.db, process_id, user, by_owner=by_owner)

    def resume(
        self,
        seen: ProcessSnapshot,
        record: StepRecord | None,
        user_input: State,
        user: str,
        *,
        worker_id: str | None,
        lease: timedelta,
        fingerprint: str | None = None,
        callback_token: str | None = None,
        automatic: bool = False,
    ) -> Claim:
        return steering.resume(
            self.db,
            seen,
            record,
            user_input,
            user,
            worker_id=worker_id,
            lease=lease,
            fingerprint=fingerprint,
            callback_token=callback_token,
            automatic=automatic,
        )

    def report_progress(self, process_id: uuid.UUID, token: str, progress: Any) -> None:
        steering.report_progress(self.db, process_id, token, progress)

    def set_note(self, process_id: uuid.UUID, note: str | None) -> None:
        steering.set_note(self.db, process_id, note)

    def delete(self, process_id: uuid.UUID, *, within: Callable[[Session], None] | None = None) -> None:
        steering.delete_process(self.db, process_id, within)

    # --- the engine switch --------------------------------------------------------------------

    def is_paused(self) -> bool:
        return switch.is_paused(self.db)

    def set_paused(self, paused: bool, *, within: switch.Switched | None = None) -> list[uuid.UUID]:
        return switch.set_paused(self.db, paused, within)

    # --- sweeps -------------------------------------------------------------------------------

    def due_retries(self, now: datetime) -> list[uuid.UUID]:
        with self._reading() as session:
            return sweeps.due_retries(session, now)

    def expired_callbacks(self, now: datetime) -> list[uuid.UUID]:
        with self._in_step(write=False) as session:
            return sweeps.expired_callbacks(session, now)

    def fail_timed_out_callback(
        self, process_id: uuid.UUID, now: datetime, restart: Callable[[str, Path], Path], actor: str
    ) -> bool:
        with self._in_step(write=True) as session:
            return sweeps.fail_timed_out_callback(session, process_id, now, restart, actor)

    def delete_completed_tasks(self, before: datetime) -> int:
        with self._in_step(write=True) as session:
            return sweeps.delete_completed_tasks(session, before)

    def has_completed_tasks_before(self, before: datetime) -> bool:
        with self._reading() as session:
            return sweeps.has_completed_tasks_before(session, before)

    def tasks_in(self, statuses: Collection[ProcessStatus]) -> list[uuid.UUID]:
        with self._reading() as session:
            return sweeps.tasks_in(session, statuses)

    def instance_in_flight(self, workflow_name: str) -> bool:
        with self._reading() as session:
            return sweeps.instance_in_flight(session, workflow_name)

    def uncompleted_instances(self, workflow_name: str) -> int:
        with self._reading() as session:
            return sweeps.uncompleted_instances(session, workflow_name)

    def awaiting_callbacks_with_deadline(self) -> int:
        with self._reading() as session:
            return sweeps.awaiting_callbacks_with_deadline(session)


def _abort_children(parent: uuid.UUID, user: str) -> None:
    """Abort the children of ``parent`` in the running step's transaction (the step that started them)."""
    abort_descendants(step_session(), parent, user)
