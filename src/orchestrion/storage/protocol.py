"""The process store: the one door to the rows of processes, their steps and their inputs.

Everything that creates, runs, steers or sweeps processes goes through a ``ProcessStore``; what it
returns are plain values (``Claim``, ``ProcessSnapshot``, ids, statuses), never ORM rows. The SQL
implementation (``orchestrion.storage.sql_store``) is the one orchestrion runs on, on SQLite and
PostgreSQL; ``orchestrion.storage.memory_store`` keeps the same promises in memory, for unit tests
and workflow tests that need no database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from orchestrion.engine.runner import Journal, StepRecord
from orchestrion.engine.status import ProcessStatus
from orchestrion.engine.workflow import Path, Workflow
from orchestrion.storage.claims import Claim
from orchestrion.storage.steering import ProcessSnapshot
from orchestrion.storage.switch import Switched
from orchestrion.types import State

__all__ = ["Claim", "ProcessSnapshot", "ProcessStore", "StoreJournal"]


class StoreJournal(Journal, Protocol):
    def started(self) -> list[uuid.UUID]:
        """The processes the step just committed made runnable (children it started or retried, a parent
        its end woke), for the executor to run; each is returned once."""

    def close(self) -> None:
        """The run ended: let go of what the journal kept from step to step."""


class ProcessStore(Protocol):
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
        """Store a new process with its initial input: ``created``, claimed for ``worker_id`` when given (or
        created running: see ``opening``).

        A paused engine starts nothing: ``EnginePausedError`` (checked with the insert, not before it).
        ``within``: database work that commits with the new process or not at all (a store without a
        database refuses it), given the instant the process is created at, so what it writes is dated so.
        ``opening``: the records of the pure steps it begins with, for a process
        ``worker_id`` runs at once (``runner.opening_records``); a store may write them with it (the process
        is then created running, the claim's cursor after them) or leave them to the run.
        """

    def claim(self, process_id: uuid.UUID, worker_id: str, lease: timedelta) -> Claim | None:
        """Take a process in flight that no live worker owns; None when that is not possible now (or paused)."""

    def journal(self, claim: Claim, should_stop: Callable[[], bool] | None = None) -> StoreJournal:
        """The runner's journal for a claimed process: one transaction per step."""

    def release(self, claim: Claim) -> None:
        """Give a claim back without changing the process."""

    def renew_leases(self, worker_id: str, process_ids: list[uuid.UUID], lease: timedelta) -> None: ...

    def recoverable(self, grace: timedelta | None = None, *, abandoned_only: bool = False) -> list[uuid.UUID]:
        """Processes in flight that no live worker owns, abandoned ones first (see ``claims.recoverable``).

        ``grace``: leave fresh unclaimed ones to their message; ``abandoned_only``: only those a worker held.
        """

    def mark_workflow_changed(self, claim: Claim, fingerprint: str) -> None:
        """Record a new workflow fingerprint: the claimed process continues in the changed workflow."""

    def fail_unrunnable(self, claim: Claim, reason: str, traceback: str | None = None) -> None:
        """Fail a claimed process that cannot continue, with ``reason``; it is not claimed again."""

    # --- reading ------------------------------------------------------------------------------

    def get(self, process_id: uuid.UUID) -> ProcessSnapshot: ...

    def last_status(self, process_id: uuid.UUID) -> ProcessStatus: ...

    def history(self, process_id: uuid.UUID) -> list[tuple[str, str, State]]:
        """The process's history rows as ``(name, status, state)``, in order."""

    # --- steering -----------------------------------------------------------------------------

    def abort(self, process_id: uuid.UUID, user: str, *, by_owner: bool = False) -> ProcessStatus:
        """Abort now, or at the next step boundary while a live worker runs it."""

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
        """Mark the process resumed (refused when it changed since ``seen``, or no longer awaits the callback).

        ``automatic``: the retry policy's own retry of a waiting process, not a person's.
        """

    def report_progress(self, process_id: uuid.UUID, token: str, progress: Any) -> None: ...

    def set_note(self, process_id: uuid.UUID, note: str | None) -> None:
        """A person's note on the process (None clears it); nothing else about the process changes."""

    def delete(self, process_id: uuid.UUID, *, within: Callable[[Session], None] | None = None) -> None:
        """Delete a process and its history; ``within``: database work that commits with the deletion (its audit
        entry; a store without a database refuses it with ``TypeError``)."""

    # --- the engine switch --------------------------------------------------------------------

    def is_paused(self) -> bool: ...

    def set_paused(self, paused: bool, *, within: Switched | None = None) -> list[uuid.UUID]:
        """Pause or continue; continuing returns the processes the pause had stopped. ``within(session,
        stopped)``: database work that commits with the switch (its audit entry; as for ``delete``)."""

    # --- sweeps (built-in tasks, run predicates) ----------------------------------------------

    def due_retries(self, now: datetime) -> list[uuid.UUID]: ...

    def expired_callbacks(self, now: datetime) -> list[uuid.UUID]: ...

    def fail_timed_out_callback(
        self, process_id: uuid.UUID, now: datetime, restart: Callable[[str, Path], Path], actor: str
    ) -> bool: ...

    def delete_completed_tasks(self, before: datetime) -> int: ...

    def tasks_in(self, statuses: Collection[ProcessStatus]) -> list[uuid.UUID]:
        """Task processes in one of ``statuses``, the oldest first."""

    def has_completed_tasks_before(self, before: datetime) -> bool: ...

    def instance_in_flight(self, workflow_name: str) -> bool: ...

    def uncompleted_instances(self, workflow_name: str) -> int: ...

    def awaiting_callbacks_with_deadline(self) -> int: ...
