"""Executors run processes: in this Python process (threadpool, inline) or on distributed workers.

The database is the source of truth. Submitting says only "work on process X"; the worker then
claims it with a lease in the database, so a duplicated submission can never run it twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from orchestrion.storage.claims import Claim

if TYPE_CHECKING:
    from orchestrion.runtime import Runtime


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """What an executor's workers are doing now, as orchestrator-core's settings page shows it."""

    executor_type: str  # "threadpool", "celery" or "inline"
    workers_online: int = 0
    queued_jobs: int = 0  # processes handed to workers that none has started yet
    running_jobs: int = 0


class Executor(Protocol):
    worker_id: str
    # How long a claim taken for this executor lasts; None when its workers are elsewhere (processes
    # are then created unclaimed, for whichever worker gets the message).
    lease: timedelta | None

    def submit(
        self, process_id: uuid.UUID, claim: Claim | None = None, *, is_task: bool = False, resume: bool = False
    ) -> None:
        """Run the process; ``claim`` is given when the caller already claimed it for this executor.

        ``is_task``/``resume`` say what kind of work it is, for executors that route kinds to queues.
        """

    def runs_at_once(self) -> bool:
        """Whether a process submitted now starts at once (a worker here is free): it may be created running."""

    def start_heartbeat(self) -> None:
        """Renew this executor's leases and take over what dead workers left, from now on (if it runs any)."""

    def dependencies(self) -> dict[str, str | None]:
        """The services it needs besides the database (a broker), each with why it is unreachable, or None."""

    def queue_depths(self) -> dict[str, int]:
        """Messages waiting per broker queue (none without a broker)."""

    def status(self) -> WorkerStatus:
        """How many workers there are and how much work is queued and running; zeros when nobody answers."""

    def shutdown(self, wait: bool = True) -> None: ...


def executor_from_settings(runtime: Runtime) -> Executor:
    """The executor the runtime's settings ask for (``EXECUTOR``), working for that runtime."""
    if runtime.settings.EXECUTOR == "celery":
        from orchestrion.executors.celery import CeleryExecutor

        return CeleryExecutor(runtime)
    from orchestrion.executors.threadpool import ThreadPoolExecutor

    return ThreadPoolExecutor(runtime, max_workers=runtime.settings.MAX_WORKERS)


def get_executor() -> Executor:
    """The current runtime's executor, created from its settings on first use."""
    from orchestrion.runtime import current

    return current().executor


def set_executor(executor: Executor | None) -> Executor | None:
    """Install an executor in the current runtime (tests, the CLI); returns the one it replaces."""
    from orchestrion.runtime import current

    return current().set_executor(executor)
