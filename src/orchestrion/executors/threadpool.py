"""The embedded executor: a pool of worker threads in this Python process.

A heartbeat thread renews the leases of the processes it runs, and every beat takes over what no
live worker owns, so a crash elsewhere is healed without a person. A Celery worker uses the same
class for its heartbeat and for the processes it takes over; its own tasks run through ``run`` in
Celery's threads.

Takeovers have threads of their own, as many as the worker threads: a process a dead worker
abandoned mid-way runs again at the next beat after its lease lapsed, however long this worker's
queue is and however long its running steps take. Queued work would otherwise come first (a
queue of new processes can take minutes to drain), and the dead worker's share of the load is
taken on only while the takeovers last. A process whose message seems lost (unclaimed past the
grace period) is taken over only while a worker thread is idle: behind a long queue its message
is most likely still in that queue.
"""

from __future__ import annotations

import concurrent.futures
import threading
import uuid
from datetime import timedelta

import structlog

from orchestrion.db.failures import is_transient
from orchestrion.executors import WorkerStatus
from orchestrion.executors.execution import execute_process, hold, let_go
from orchestrion.runtime import Runtime, activate
from orchestrion.storage.claims import Claim
from orchestrion.storage.tables import new_worker_id

logger = structlog.get_logger(__name__)


class ThreadPoolExecutor:
    """Worker threads for ``runtime``: each run works for it (its store, database, clock)."""

    def __init__(self, runtime: Runtime, max_workers: int = 5, lease_seconds: float | None = None) -> None:
        self.runtime = runtime
        self.worker_id = new_worker_id()
        self.lease: timedelta | None = timedelta(seconds=lease_seconds or runtime.settings.PROCESS_LEASE_SECONDS)
        self.grace = timedelta(seconds=runtime.settings.RECOVERY_GRACE_SECONDS)
        self.max_workers = max_workers
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="orchestrion-worker")
        self._takeovers = concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="orchestrion-takeover")
        self._owned: set[uuid.UUID] = set()  # submitted and not finished: queued or running here
        self._running: set[uuid.UUID] = set()  # of those, the ones a thread is running (under ``_owned_lock``)
        self._taken: set[uuid.UUID] = set()  # of the owned, those taken over (in ``_takeovers``)
        self._owned_lock = threading.Lock()
        self._again: dict[uuid.UUID, Claim | None] = {}  # submitted while running here: run once more
        self._stopping = threading.Event()  # take no more work; runs hand their process back at the next boundary
        self._closed = threading.Event()  # the heartbeat ends: nothing runs here any more
        self._heartbeat: threading.Thread | None = None

    def submit(
        self, process_id: uuid.UUID, claim: Claim | None = None, *, is_task: bool = False, resume: bool = False
    ) -> None:
        if self._stopping.is_set():
            raise RuntimeError("executor is shutting down")
        if not self._own(process_id):
            with self._owned_lock:
                # Running here already: most likely a resume that landed as this run was ending. Run it
                # again when this run ends (with the claim the resume took for this worker).
                self._again[process_id] = claim
            return
        self.start_heartbeat()
        self._pool.submit(self._run, process_id, claim)

    def runs_at_once(self) -> bool:
        """A worker thread is free: nothing submitted waits for one (takeovers have threads of their own)."""
        with self._owned_lock:
            return not self._stopping.is_set() and len(self._owned) - len(self._taken) < self.max_workers

    def run(self, process_id: uuid.UUID) -> None:
        """Claim and run a process in the calling thread (a Celery task's) as one of this worker's."""
        if self._stopping.is_set() or not self._own(process_id):
            return  # shutting down (a live worker takes it over), or running here already
        self.start_heartbeat()
        self._run(process_id, None)

    def _own(self, process_id: uuid.UUID, *, taken: bool = False) -> bool:
        with self._owned_lock:
            if process_id in self._owned:
                return False
            self._owned.add(process_id)
            if taken:
                self._taken.add(process_id)
        hold(process_id)
        return True

    def _run(self, process_id: uuid.UUID, claim: Claim | None) -> None:
        assert self.lease is not None
        with self._owned_lock:
            self._running.add(process_id)
        try:
            with activate(self.runtime):
                if claim is None and (claim := self._claim(process_id)) is None:
                    return
                execute_process(process_id, self.worker_id, self.lease, claim, should_stop=self._stopping.is_set)
        except Exception:
            logger.exception("process run ended with an error", process_id=str(process_id))
        finally:
            let_go(process_id)  # when it ran, its stop let it go already
            with self._owned_lock:
                self._owned.discard(process_id)
                self._running.discard(process_id)
                self._taken.discard(process_id)
                again = process_id in self._again
                claim = self._again.pop(process_id, None)
            if again and not self._stopping.is_set():
                self.submit(process_id, claim)

    def _claim(self, process_id: uuid.UUID) -> Claim | None:
        """Claim the process; while the database is unreachable, try again (backing off) until it answers or we stop.

        A Celery message is held meanwhile, not dropped: a database outage neither eats the queue
        (a refused connection fails at once) nor leaves its processes to the grace period.
        """
        assert self.lease is not None
        pause = 0.1
        while True:
            try:
                return self.runtime.store.claim(process_id, self.worker_id, self.lease)
            except Exception as e:
                if not is_transient(e):
                    raise
                logger.warning(
                    "Cannot claim a process, the database is unreachable", process_id=str(process_id), error=str(e)
                )
            if self._stopping.wait(pause):
                return None  # unclaimed: another worker runs it after the grace period
            pause = min(2 * pause, self.lease.total_seconds() / 3)

    def owned(self) -> list[uuid.UUID]:
        with self._owned_lock:
            return list(self._owned)

    def _take_over_orphans(self) -> None:
        """Take over what no live worker owns, as many as there are idle takeover threads (the rest go to others).

        Abandoned processes always (see the module docstring); ones whose message seems lost only
        while a worker thread is idle.
        """
        with self._owned_lock:
            room = self.max_workers - len(self._taken)
            idle = self.max_workers - (len(self._owned) - len(self._taken))
        if room <= 0:
            return
        for process_id in self.runtime.store.recoverable(self.grace, abandoned_only=idle <= 0)[:room]:
            if self._own(process_id, taken=True):  # not what runs here already
                logger.info(
                    "Taking over a process no live worker owns", process_id=str(process_id), worker=self.worker_id
                )
                self._takeovers.submit(self._run, process_id, None)

    def start_heartbeat(self) -> None:
        if self._heartbeat is None:
            self._heartbeat = threading.Thread(target=self._beat, name="orchestrion-heartbeat", daemon=True)
            self._heartbeat.start()

    def _beat(self) -> None:
        assert self.lease is not None
        with activate(self.runtime):
            while not self._closed.wait(self.lease.total_seconds() / 3):
                try:
                    self.runtime.store.renew_leases(self.worker_id, self.owned(), self.lease)
                    if not self._stopping.is_set():
                        self._take_over_orphans()
                except Exception:
                    logger.exception("heartbeat failed; retrying at the next beat")

    def dependencies(self) -> dict[str, str | None]:
        return {}  # only the database, which the runtime's health check covers

    def queue_depths(self) -> dict[str, int]:
        return {}

    def status(self) -> WorkerStatus:
        """Its threads are the workers; what it owns and no thread runs yet is queued."""
        with self._owned_lock:
            running = len(self._running)
            queued = len(self._owned) - running
        online = 0 if self._stopping.is_set() else self.max_workers
        return WorkerStatus("threadpool", online, queued, running)

    def stop(self) -> None:
        """Stop taking work: running processes stop at their next step boundary and are handed back.

        Their leases are still renewed until ``shutdown``, so a long last step is not taken over meanwhile.
        """
        self._stopping.set()

    def shutdown(self, wait: bool = True) -> None:
        """``stop``, then wait (``wait``) for the running processes to reach their boundary."""
        self.stop()
        for pool in (self._pool, self._takeovers):
            pool.shutdown(wait=wait, cancel_futures=True)
        self._closed.set()
