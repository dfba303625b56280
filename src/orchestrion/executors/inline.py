"""Runs each process in the caller's thread until it stops: for tests, scripts and the CLI."""

from __future__ import annotations

import uuid
from datetime import timedelta

from orchestrion.executors.execution import execute_process
from orchestrion.storage.process_store import Claim, new_worker_id


class InlineExecutor:
    def __init__(self, lease_seconds: float = 300.0) -> None:
        self.worker_id = new_worker_id()
        self.lease = timedelta(seconds=lease_seconds)

    def submit(
        self, process_id: uuid.UUID, claim: Claim | None = None, *, is_task: bool = False, resume: bool = False
    ) -> None:
        execute_process(process_id, self.worker_id, self.lease, claim)

    def shutdown(self, wait: bool = True) -> None:
        pass
