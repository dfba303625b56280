"""Distributed workers on Celery: a message says only "work on process X"; the database decides who does.

The API side (``CeleryExecutor``) creates processes unclaimed and sends their id to a queue chosen
by kind. A worker (``orchestrion worker``) claims the process in the database before it runs it,
so a duplicated message finds nothing to claim. Messages are acknowledged after the run
(``acks_late``) and each worker thread takes one at a time (prefetch 1), so a dying worker strands
no backlog. Whatever is stranded anyway (a lost message, a killed worker's claims) is found by the
heartbeat every worker runs (the thread-pool executor's, see ``executors.threadpool``) once its
grace period or lease has passed.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Sequence
from contextlib import suppress
from datetime import timedelta
from typing import Any

import structlog
from celery import Celery, signals
from kombu.exceptions import KombuError

from orchestrion.executors import WorkerStatus
from orchestrion.executors.threadpool import ThreadPoolExecutor
from orchestrion.runtime import Runtime, current
from orchestrion.settings import AppSettings
from orchestrion.storage.claims import Claim
from orchestrion.storage.tables import new_worker_id

logger = structlog.get_logger(__name__)

TASK_NAME = "orchestrion.run_process"
# Kinds of work, each a queue (named with ``CELERY_QUEUE_PREFIX`` before it), so workers can be given some only.
NEW_WORKFLOWS, NEW_TASKS, RESUMES = "new_workflows", "new_tasks", "resumes"
KINDS = (NEW_WORKFLOWS, NEW_TASKS, RESUMES)
_BROKER_TIMEOUT = 5.0  # seconds; a broker that does not answer must not hang a request or the health check
_INSPECT_TIMEOUT = 0.5  # seconds the workers have to answer a status question (each question waits this long)


def create_celery_app(settings: AppSettings, broker_url: str | None = None) -> Celery:
    """A Celery app for orchestrion's one task, on ``broker_url`` (default ``CELERY_BROKER_URL``: Redis or RabbitMQ)."""
    url = broker_url or settings.CELERY_BROKER_URL
    app = Celery("orchestrion", broker=url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_default_queue=queue_name(settings, NEW_WORKFLOWS),
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=_BROKER_TIMEOUT,
        broker_transport_options={"socket_connect_timeout": _BROKER_TIMEOUT} if url.startswith("redis") else {},
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
    )
    app.task(name=TASK_NAME)(run_process)
    return app


def queue_name(settings: AppSettings, kind: str) -> str:
    return settings.CELERY_QUEUE_PREFIX + kind


def queue_for(settings: AppSettings, *, is_task: bool, resume: bool) -> str:
    return queue_name(settings, RESUMES if resume else NEW_TASKS if is_task else NEW_WORKFLOWS)


class CeleryExecutor:
    """Sends work to Celery workers. It has no ``lease``: processes are created unclaimed for the workers."""

    lease: timedelta | None = None

    def __init__(self, runtime: Runtime, app: Celery | None = None) -> None:
        self.settings = runtime.settings
        self.app = app or create_celery_app(self.settings)
        self.worker_id = new_worker_id()

    def submit(
        self, process_id: uuid.UUID, claim: Claim | None = None, *, is_task: bool = False, resume: bool = False
    ) -> None:
        if claim is not None:
            raise ValueError("a claim cannot be handed to a Celery worker; submit the process unclaimed")
        queue = queue_for(self.settings, is_task=is_task, resume=resume)
        try:
            self.app.send_task(TASK_NAME, args=[str(process_id)], queue=queue)
        except (KombuError, OSError) as e:
            # The process is in the database: a worker's heartbeat runs it once the grace period passed.
            logger.warning("Could not send a process to the broker", process_id=str(process_id), error=str(e))

    def runs_at_once(self) -> bool:
        return False  # a worker elsewhere takes it from a queue

    def start_heartbeat(self) -> None:
        pass  # the workers beat, each in its own process

    def dependencies(self) -> dict[str, str | None]:
        """The broker: None when it answers, else why not."""
        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, interval_start=0, timeout=_BROKER_TIMEOUT)
        except Exception as e:  # any failure to connect means "unreachable", with the reason
            return {"broker": str(e) or type(e).__name__}
        return {"broker": None}

    def queue_depths(self) -> dict[str, int]:
        """Messages waiting per queue, by queue name (a queue nothing was ever sent to counts 0)."""
        depths: dict[str, int] = {}
        with self.app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=_BROKER_TIMEOUT)
            for queue in (queue_name(self.settings, kind) for kind in KINDS):
                channel = connection.channel()
                try:
                    depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
                except connection.channel_errors:  # not declared yet (RabbitMQ then closes the channel)
                    depths[queue] = 0
                finally:
                    with suppress(Exception):
                        channel.close()
        return depths

    def status(self) -> WorkerStatus:
        """Every worker that answers is online; queued: messages in the queues and those workers hold unstarted."""
        try:
            inspect = self.app.control.inspect(timeout=_INSPECT_TIMEOUT)
            active = inspect.active() or {}  # each worker answers, with an empty list when idle
            reserved = inspect.reserved() or {}
            waiting = sum(self.queue_depths().values())
        except Exception as e:  # a broker that cannot be reached: nobody is known to be working
            logger.warning("Could not ask the workers how they are", error=str(e) or type(e).__name__)
            return WorkerStatus("celery")
        held = sum(len(tasks) for tasks in reserved.values())
        running = sum(len(tasks) for tasks in active.values())
        return WorkerStatus("celery", len(active.keys() | reserved.keys()), waiting + held, running)

    def shutdown(self, wait: bool = True) -> None:
        self.app.close()


# --- the worker side ---------------------------------------------------------------------------

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def worker_pool(concurrency: int | None = None) -> ThreadPoolExecutor:
    """This worker's heartbeat and its threads for processes it takes over; its Celery threads share it."""
    global _pool
    with _pool_lock:
        if _pool is None:
            runtime = current()
            _pool = ThreadPoolExecutor(runtime, max_workers=concurrency or runtime.settings.MAX_WORKERS)
        return _pool


def run_process(process_id: str) -> None:
    """The task: claim the process and run it until it stops; nothing happens when another worker has it."""
    worker_pool().run(uuid.UUID(process_id))


def run_worker(concurrency: int, kinds: Sequence[str] = KINDS, loglevel: str = "INFO") -> None:
    """Run a Celery worker taking work of ``kinds`` until SIGTERM/SIGINT (the database must be initialised).

    Celery's thread pool runs the tasks, so the heartbeat, the database pool and the set of processes
    running here are shared by all of them. On SIGTERM each running process stops at its next step
    boundary and is handed back (its claim released) for another worker to continue.
    """
    runtime = current()
    app = create_celery_app(runtime.settings)
    pool = worker_pool(concurrency)
    runtime.set_executor(CeleryExecutor(runtime, app))  # processes that steps start or resume go through the broker
    queues = ",".join(queue_name(runtime.settings, kind) for kind in kinds)

    def ready(**_: Any) -> None:
        pool.start_heartbeat()
        logger.info("Worker ready", worker=pool.worker_id, queues=queues, concurrency=concurrency)

    signals.worker_ready.connect(ready, weak=False)
    signals.worker_shutting_down.connect(lambda **_: pool.stop(), weak=False)
    signals.worker_shutdown.connect(lambda **_: pool.shutdown(wait=True), weak=False)
    app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency}",
            f"--queues={queues}",
            f"--loglevel={loglevel}",
            f"--hostname=orchestrion-{os.getpid()}@%h",  # unique per worker process, also on one host
            "--without-mingle",
            "--without-gossip",
        ]
    )
