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
from typing import Any

import structlog
from celery import Celery, signals
from kombu.exceptions import KombuError

from orchestrion.executors.threadpool import ThreadPoolExecutor
from orchestrion.storage.process_store import Claim, new_worker_id

logger = structlog.get_logger(__name__)

TASK_NAME = "orchestrion.run_process"
# Kinds of work, each a queue (named with ``CELERY_QUEUE_PREFIX`` before it), so workers can be given some only.
NEW_WORKFLOWS, NEW_TASKS, RESUMES = "new_workflows", "new_tasks", "resumes"
KINDS = (NEW_WORKFLOWS, NEW_TASKS, RESUMES)
_BROKER_TIMEOUT = 5.0  # seconds; a broker that does not answer must not hang a request or the health check


def create_celery_app(broker_url: str | None = None) -> Celery:
    """A Celery app for orchestrion's one task, on ``broker_url`` (default ``CELERY_BROKER_URL``: Redis or RabbitMQ)."""
    from orchestrion.settings import app_settings

    url = broker_url or app_settings.CELERY_BROKER_URL
    app = Celery("orchestrion", broker=url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_default_queue=queue_name(NEW_WORKFLOWS),
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=_BROKER_TIMEOUT,
        broker_transport_options={"socket_connect_timeout": _BROKER_TIMEOUT} if url.startswith("redis") else {},
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
    )
    app.task(name=TASK_NAME)(run_process)
    return app


def queue_name(kind: str) -> str:
    from orchestrion.settings import app_settings

    return app_settings.CELERY_QUEUE_PREFIX + kind


def queue_for(*, is_task: bool, resume: bool) -> str:
    return queue_name(RESUMES if resume else NEW_TASKS if is_task else NEW_WORKFLOWS)


class CeleryExecutor:
    """Sends work to Celery workers. It has no ``lease``: processes are created unclaimed for the workers."""

    def __init__(self, app: Celery | None = None) -> None:
        self.app = app or create_celery_app()
        self.worker_id = new_worker_id()

    def submit(
        self, process_id: uuid.UUID, claim: Claim | None = None, *, is_task: bool = False, resume: bool = False
    ) -> None:
        if claim is not None:
            raise ValueError("a claim cannot be handed to a Celery worker; submit the process unclaimed")
        queue = queue_for(is_task=is_task, resume=resume)
        try:
            self.app.send_task(TASK_NAME, args=[str(process_id)], queue=queue)
        except (KombuError, OSError) as e:
            # The process is in the database: a worker's heartbeat runs it once the grace period passed.
            logger.warning("Could not send a process to the broker", process_id=str(process_id), error=str(e))

    def broker_reachable(self) -> str | None:
        """None when the broker answers, else why not."""
        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, interval_start=0, timeout=_BROKER_TIMEOUT)
        except Exception as e:  # any failure to connect means "unreachable", with the reason
            return str(e) or type(e).__name__
        return None

    def queue_depths(self) -> dict[str, int]:
        """Messages waiting per queue, by queue name (a queue nothing was ever sent to counts 0)."""
        depths: dict[str, int] = {}
        with self.app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=_BROKER_TIMEOUT)
            for queue in map(queue_name, KINDS):
                channel = connection.channel()
                try:
                    depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
                except connection.channel_errors:  # not declared yet (RabbitMQ then closes the channel)
                    depths[queue] = 0
                finally:
                    with suppress(Exception):
                        channel.close()
        return depths

    def shutdown(self, wait: bool = True) -> None:
        self.app.close()


# --- the worker side ---------------------------------------------------------------------------

_runtime: ThreadPoolExecutor | None = None
_runtime_lock = threading.Lock()


def worker_runtime(concurrency: int | None = None) -> ThreadPoolExecutor:
    """This worker's heartbeat and its threads for processes it takes over; its Celery threads share it."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            from orchestrion.settings import app_settings

            _runtime = ThreadPoolExecutor(max_workers=concurrency or app_settings.MAX_WORKERS)
        return _runtime


def run_process(process_id: str) -> None:
    """The task: claim the process and run it until it stops; nothing happens when another worker has it."""
    worker_runtime().run(uuid.UUID(process_id))


def run_worker(concurrency: int, kinds: Sequence[str] = KINDS, loglevel: str = "INFO") -> None:
    """Run a Celery worker taking work of ``kinds`` until SIGTERM/SIGINT (the database must be initialised).

    Celery's thread pool runs the tasks, so the heartbeat, the database pool and the set of processes
    running here are shared by all of them. On SIGTERM each running process stops at its next step
    boundary and is handed back (its claim released) for another worker to continue.
    """
    from orchestrion.executors import set_executor

    app = create_celery_app()
    runtime = worker_runtime(concurrency)
    set_executor(CeleryExecutor(app))  # processes that steps start or resume go through the broker too
    queues = ",".join(map(queue_name, kinds))

    def ready(**_: Any) -> None:
        runtime.start_heartbeat()
        logger.info("Worker ready", worker=runtime.worker_id, queues=queues, concurrency=concurrency)

    signals.worker_ready.connect(ready, weak=False)
    signals.worker_shutting_down.connect(lambda **_: runtime.stop(), weak=False)
    signals.worker_shutdown.connect(lambda **_: runtime.shutdown(wait=True), weak=False)
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
