"""Runs each process in the caller's thread until it stops: for tests, scripts and the CLI."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

from orchestrion.executors import WorkerStatus
from orchestrion.executors.execution import execute_process
from orchestrion.storage.claims import Claim
from orchestrion.storage.tables import new_worker_id


class InlineExecutor:
    """Runs for whichever runtime is current in the calling thread."""

    def __init__(self, lease_seconds: float = 300.0) -> None:
        self.worker_id = new_worker_id()
        self.lease: timedelta | None = timedelta(seconds=lease_seconds)
        self._running = 0  # callers' threads inside ``submit`` right now
        self._running_lock = threading.Lock()

    def submit(
        self, process_id: uuid.UUID, claim: Claim | None = None, *, is_task: bool = False, resume: bool = False
    ) -> None:
        assert self.lease is not None
        with self._running_lock:
            self._running += 1
        try:
            execute_process(process_id, self.worker_id, self.lease, claim)
        finally:
            with self._running_lock:
                self._running -= 1

    def runs_at_once(self) -> bool:
        return True  # in the caller's thread

    def start_heartbeat(self) -> None:
        pass  # it runs processes only while a caller waits: nothing to renew or take over

    def dependencies(self) -> dict[str, str | None]:
        return {}

    def queue_depths(self) -> dict[str, int]:
        return {}

    def status(self) -> WorkerStatus:
        """No workers of its own: the callers' threads run processes, none waits."""
        with self._running_lock:
            return WorkerStatus("inline", running_jobs=self._running)

    def shutdown(self, wait: bool = True) -> None:
        pass
