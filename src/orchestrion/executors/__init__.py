"""Executors run processes: in this Python process (threadpool, inline) or on distributed workers.

The database is the source of truth. Submitting says only "work on process X"; the worker then
claims it with a lease in the database, so a duplicated submission can never run it twice.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from orchestrion.storage.process_store import Claim


class Executor(Protocol):
    worker_id: str

    def submit(
        self, process_id: uuid.UUID, claim: Claim | None = None, *, is_task: bool = False, resume: bool = False
    ) -> None:
        """Run the process; ``claim`` is given when the caller already claimed it for this executor.

        ``is_task``/``resume`` say what kind of work it is, for executors that route kinds to queues.
        """

    def shutdown(self, wait: bool = True) -> None: ...


_executor: Executor | None = None


def get_executor() -> Executor:
    """The configured executor, created from settings on first use."""
    global _executor
    if _executor is None:
        from orchestrion.settings import app_settings

        if app_settings.EXECUTOR == "celery":
            from orchestrion.executors.celery import CeleryExecutor

            _executor = CeleryExecutor()
        else:
            from orchestrion.executors.threadpool import ThreadPoolExecutor

            _executor = ThreadPoolExecutor(max_workers=app_settings.MAX_WORKERS)
    return _executor


def set_executor(executor: Executor | None) -> Executor | None:
    """Install an executor (tests, the CLI); returns the one it replaces, which the caller shuts down."""
    global _executor
    previous, _executor = _executor, executor
    return previous
