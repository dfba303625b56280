"""The embedded executor: a pool of worker threads in this Python process.

A heartbeat thread renews the leases of the processes it runs, and now and then takes over
processes whose worker died (their lease lapsed), so a crash elsewhere is healed without a person.
"""

from __future__ import annotations

import concurrent.futures
import threading
import uuid
from datetime import timedelta

import structlog

from orchestrion.db import get_database, is_initialised
from orchestrion.executors.execution import execute_process
from orchestrion.storage import process_store
from orchestrion.storage.process_store import Claim, new_worker_id

logger = structlog.get_logger(__name__)


class ThreadPoolExecutor:
    def __init__(self, max_workers: int = 5, lease_seconds: float | None = None) -> None:
        from orchestrion.settings import app_settings

        self.worker_id = new_worker_id()
        self.lease = timedelta(seconds=lease_seconds or app_settings.PROCESS_LEASE_SECONDS)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="orchestrion-worker")
        self._owned: set[uuid.UUID] = set()  # submitted and not finished: queued or running here
        self._owned_lock = threading.Lock()
        self._stopping = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def submit(self, process_id: uuid.UUID, claim: Claim | None = None) -> None:
        if self._stopping.is_set():
            raise RuntimeError("executor is shutting down")
        with self._owned_lock:
            if process_id in self._owned:
                return  # already queued or running here; a duplicate submission changes nothing
            self._owned.add(process_id)
        self._ensure_heartbeat()
        self._pool.submit(self._run, process_id, claim)

    def _run(self, process_id: uuid.UUID, claim: Claim | None) -> None:
        try:
            execute_process(process_id, self.worker_id, self.lease, claim, should_stop=self._stopping.is_set)
        except Exception:
            logger.exception("process run ended with an error", process_id=str(process_id))
        finally:
            with self._owned_lock:
                self._owned.discard(process_id)

    def owned(self) -> list[uuid.UUID]:
        with self._owned_lock:
            return list(self._owned)

    def _take_over_orphans(self) -> None:
        for process_id in process_store.recoverable(get_database()):
            self.submit(process_id)  # duplicates of what runs here are ignored by submit

    def _ensure_heartbeat(self) -> None:
        if self._heartbeat is None:
            self._heartbeat = threading.Thread(target=self._beat, name="orchestrion-heartbeat", daemon=True)
            self._heartbeat.start()

    def _beat(self) -> None:
        interval = self.lease.total_seconds() / 3
        beats = 0
        while not self._stopping.wait(interval):
            if not is_initialised():
                continue
            beats += 1
            try:
                process_store.renew_leases(get_database(), self.worker_id, self.owned(), self.lease)
                if beats % 3 == 0:  # about once per lease: take over what dead workers left
                    self._take_over_orphans()
            except Exception:
                logger.exception("heartbeat failed; retrying at the next beat")

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking work; running processes stop at their next step boundary and are handed back."""
        self._stopping.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)
