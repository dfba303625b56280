"""The Celery executor with a real Redis broker, real worker subprocesses (``orchestrion worker``) and PostgreSQL.

Each step of the test workflows (tests/celery_workflows.py) commits one row into ``effects`` naming
the worker that ran it, so "exactly once" is counted in committed effects, and a takeover shows as
one process's steps committed by two workers. Workers run with a 2 s lease (3 s in the backlog test)
and a 1 s grace period.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from sqlalchemy import select, text
from tests import celery_workflows

from orchestrion.db import Database
from orchestrion.db.models import ProcessStepTable, ProcessTable
from orchestrion.executors import set_executor
from orchestrion.executors.celery import (
    KINDS,
    NEW_WORKFLOWS,
    RESUMES,
    TASK_NAME,
    CeleryExecutor,
    create_celery_app,
    queue_name,
)
from orchestrion.runtime import current
from orchestrion.services.processes import start_process
from orchestrion.settings import app_settings
from orchestrion.storage.claims import Claim

pytestmark = pytest.mark.postgres
RABBITMQ_URL = os.environ.get("ORCHESTRION_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")

ROOT = Path(__file__).resolve().parent.parent
WORKER = [sys.executable, "-m", "orchestrion.cli", "worker", "-i", "tests.celery_workflows"]
TIMEOUT = 30.0  # any wait here; on a quiet machine each takes a few seconds at most


def wait_until(predicate: Callable[[], object], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class Worker:
    """An ``orchestrion worker`` subprocess; its log is kept for the failure message."""

    def __init__(self, tmp_path: Path, name: str, env: dict[str, str], queues: str) -> None:
        self.log = tmp_path / f"{name}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*WORKER, "--concurrency", "4", "--queues", queues],
                env=env,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.claim_prefix = f"{socket.gethostname()}:{self.proc.pid}:"

    def wait_ready(self) -> None:
        wait_until(lambda: "Worker ready" in self.output() or self.proc.poll() is not None, "a worker to start")
        assert self.proc.poll() is None, f"the worker exited:\n{self.output()}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def effects(postgres_db: Database) -> Iterator[Database]:
    with postgres_db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS effects"))
        conn.execute(text("CREATE TABLE effects (step TEXT NOT NULL, process_id TEXT NOT NULL, pid INT NOT NULL)"))
    yield postgres_db
    with postgres_db.engine.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        conn.execute(text("DROP TABLE IF EXISTS effects"))


@pytest.fixture
def broker(redis_url: str, queue_prefix: str) -> str:
    """The broker the test's workers and executor use, with queues of the test's own."""
    return redis_url


@pytest.fixture
def start_worker(effects: Database, broker: str, postgres_uri: str, tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """Start workers on the test's database and broker (all killed at the end); ready when returned."""
    started: list[Worker] = []
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
        "DATABASE_URI": postgres_uri,
        "CELERY_BROKER_URL": broker,
        "CELERY_QUEUE_PREFIX": app_settings.CELERY_QUEUE_PREFIX,
        "PROCESS_LEASE_SECONDS": "2",
        "RECOVERY_GRACE_SECONDS": "1",
        "LOG_LEVEL": "INFO",
        celery_workflows.SIGNAL_DIR_ENV: str(tmp_path),
        celery_workflows.HOLD_FILE_ENV: str(tmp_path / "hold"),
    }

    def start(*names: str, queues: str = "new_workflows,new_tasks,resumes", **settings: str) -> list[Worker]:
        workers = [Worker(tmp_path, name, {**env, **settings}, queues) for name in names]
        started.extend(workers)
        for worker in workers:
            worker.wait_ready()
        return workers

    yield start  # type: ignore[misc]
    for worker in started:
        worker.stop()


@pytest.fixture
def celery(broker: str, effects: Database) -> Iterator[CeleryExecutor]:
    """The test process sends its processes to the workers through the broker."""
    executor = CeleryExecutor(current(), create_celery_app(app_settings, broker))
    previous = set_executor(executor)
    yield executor
    set_executor(previous)
    executor.shutdown()


class _Unsent:
    """An executor whose messages are lost: processes are created unclaimed, and nothing is sent."""

    worker_id = "nobody"
    lease = None

    def submit(self, process_id: uuid.UUID, claim: Claim | None = None, **kind: bool) -> None:
        pass

    def start_heartbeat(self) -> None:
        pass

    def dependencies(self) -> dict[str, str | None]:
        return {}

    def queue_depths(self) -> dict[str, int]:
        return {}

    def shutdown(self, wait: bool = True) -> None:
        pass


def effects_of(db: Database) -> list[tuple[str, str, int]]:
    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text("SELECT step, process_id, pid FROM effects"))]  # type: ignore[misc]


def statuses(db: Database, process_ids: list[uuid.UUID]) -> Counter[str]:
    with db.read() as session:
        found = session.execute(select(ProcessTable.last_status).where(ProcessTable.process_id.in_(process_ids)))
        return Counter(found.scalars())


def all_completed(db: Database, process_ids: list[uuid.UUID]) -> bool:
    return statuses(db, process_ids) == Counter({"completed": len(process_ids)})


def claimed_by(db: Database, worker: Worker) -> list[tuple[uuid.UUID, str, list[str] | None]]:
    with db.read() as session:
        rows = session.execute(
            select(ProcessTable.process_id, ProcessTable.last_status, ProcessTable.cursor).where(
                ProcessTable.claimed_by.startswith(worker.claim_prefix)
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def history(db: Database, process_id: uuid.UUID) -> list[tuple[str, str]]:
    with db.read() as session:
        rows = session.execute(
            select(ProcessStepTable.name, ProcessStepTable.status)
            .where(ProcessStepTable.process_id == process_id)
            .order_by(ProcessStepTable.seq)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


@pytest.mark.redis
def test_fifty_processes_on_two_workers_complete_exactly_once_when_one_is_killed_mid_step(
    effects: Database, start_worker: Callable[..., list[Worker]], celery: CeleryExecutor, tmp_path: Path
) -> None:
    db = effects
    doomed, survivor = start_worker("doomed", "survivor")
    (tmp_path / "hold").write_text(str(doomed.proc.pid))  # the doomed worker blocks inside step "Second"

    process_ids = [start_process("celery_two_steps") for _ in range(50)]
    wait_until(lambda: any(cursor == ["Second"] for _, _, cursor in claimed_by(db, doomed)), "a step to block")
    time.sleep(0.3)  # let the doomed worker's other threads reach the block too
    held = {process_id for process_id, status, _ in claimed_by(db, doomed) if status == "running"}
    os.kill(doomed.proc.pid, signal.SIGKILL)
    doomed.proc.wait(timeout=10)

    wait_until(lambda: all_completed(db, process_ids), "all 50 processes to complete")
    done = effects_of(db)
    assert Counter((step, process_id) for step, process_id, _ in done) == Counter(
        {(step, str(p)): 1 for p in process_ids for step in ("first", "second")}
    ), "every step's effect committed exactly once"
    assert held, "the killed worker held processes"
    by_step = {(step, process_id): pid for step, process_id, pid in done}
    for process_id in held:  # continued elsewhere from the checkpoint after "First"
        assert by_step[("second", str(process_id))] == survivor.proc.pid
        assert history(db, process_id) == [
            ("Start", "success"),
            ("First", "success"),
            ("Second", "success"),
            ("Done", "complete"),
        ]
    assert all(pid in (doomed.proc.pid, survivor.proc.pid) for _, _, pid in done)
    assert any(pid == doomed.proc.pid for _, _, pid in done), "the killed worker had run steps before"


LEASE = 3.0  # seconds, of the workers in the backlog test


@pytest.mark.redis
@pytest.mark.parametrize(
    "ending",
    [
        pytest.param(signal.SIGKILL, id="killed"),  # its pid is gone: taken over at the survivor's next beat
        pytest.param(signal.SIGSTOP, id="hung"),  # alive as far as anyone can tell (or on another host): leases lapse
    ],
)
def test_a_killed_or_hung_workers_processes_run_again_within_two_leases_while_the_survivor_has_a_full_queue(
    effects: Database, start_worker: Callable[..., list[Worker]], celery: CeleryExecutor, tmp_path: Path, ending: int
) -> None:
    """Takeovers do not wait for the survivor's queue: they have threads of their own."""
    db = effects
    settings = {"PROCESS_LEASE_SECONDS": str(LEASE)}
    victim, survivor = start_worker("victim", "survivor", **settings)
    (tmp_path / "hold").write_text(str(victim.proc.pid))  # the victim blocks inside step "Second"
    quick = [start_process("celery_two_steps") for _ in range(12)]

    def victims() -> list[uuid.UUID]:
        return [p for p, status, cursor in claimed_by(db, victim) if (status, cursor) == ("running", ["Second"])]

    # Every victim thread blocks in a process of its own; the survivor completes the rest.
    wait_until(lambda: len(victims()) + statuses(db, quick)["completed"] == len(quick), "the quick processes to settle")
    held = victims()
    assert held, "the victim holds processes"
    for _ in range(150):  # only the survivor takes them: ~20 s of work
        start_process("celery_busy")
    queue = queue_name(app_settings, NEW_WORKFLOWS)

    os.kill(victim.proc.pid, ending)
    ended = time.monotonic()
    if ending == signal.SIGKILL:
        victim.proc.wait(timeout=10)  # reaped, as a dead worker is: a zombie's pid still looks alive

    def second_by_survivor() -> set[str]:
        return {p for step, p, pid in effects_of(db) if step == "second" and pid == survivor.proc.pid}

    wait_until(lambda: {str(p) for p in held} <= second_by_survivor(), "the survivor to run the held processes")
    took = time.monotonic() - ended
    waiting = celery.queue_depths()[queue]

    assert waiting > 0, "the survivor's queue was still full"
    assert took <= 2 * LEASE, f"taken over after {took:.1f} s"
    done = Counter((step, p) for step, p, _ in effects_of(db) if step == "second")
    assert all(done[("second", str(p))] == 1 for p in held), "the victim's half-done step left nothing"


@pytest.mark.redis
def test_a_lost_message_is_recovered_and_a_duplicated_one_runs_nothing_twice(
    effects: Database, start_worker: Callable[..., list[Worker]], celery: CeleryExecutor
) -> None:
    db = effects
    start_worker("first", "second")
    previous = set_executor(_Unsent())
    try:
        lost = start_process("celery_two_steps")  # in the database, never sent
    finally:
        set_executor(previous)
    duplicated = start_process("celery_two_steps")
    for _ in range(3):  # the same message three more times, at once
        celery.submit(duplicated)

    wait_until(lambda: all_completed(db, [lost, duplicated]), "both processes to complete")
    celery.submit(duplicated)  # and once more after it completed
    celery.submit(lost, resume=True)
    celery.app.send_task(
        TASK_NAME, args=[str(uuid.uuid4())], queue=queue_name(app_settings, NEW_WORKFLOWS)
    )  # no such process
    marker = start_process("celery_two_steps")  # sent after the extra messages on the same queue
    wait_until(lambda: all_completed(db, [marker]), "a process sent after the extra messages")
    wait_until(
        lambda: celery.queue_depths()[queue_name(app_settings, RESUMES)] == 0, "the extra resume message to be consumed"
    )

    assert Counter((step, process_id) for step, process_id, _ in effects_of(db)) == Counter(
        {(step, str(p)): 1 for p in (lost, duplicated, marker) for step in ("first", "second")}
    )
    for process_id in (lost, duplicated):
        assert [name for name, _ in history(db, process_id)] == ["Start", "First", "Second", "Done"]


@pytest.mark.redis
def test_sigterm_finishes_the_current_step_and_hands_the_process_back(
    effects: Database, start_worker: Callable[..., list[Worker]], celery: CeleryExecutor, tmp_path: Path
) -> None:
    db = effects
    # A long grace period: the process reaches this worker by its message on the new-workflows queue.
    (stopping,) = start_worker("stopping", queues="new_workflows", RECOVERY_GRACE_SECONDS="60")
    process_id = start_process("celery_slow_step")
    signal_file = tmp_path / str(process_id)
    wait_until(signal_file.exists, "the slow step to start")
    assert signal_file.read_text() == str(stopping.proc.pid)

    stopping.proc.send_signal(signal.SIGTERM)
    assert stopping.proc.wait(timeout=TIMEOUT) == 0, stopping.output()

    with db.read() as session:
        p = session.execute(select(ProcessTable).where(ProcessTable.process_id == process_id)).scalar_one()
    assert (p.last_status, p.claimed_by, p.cursor) == ("running", None, ["After"])  # handed back after its step
    assert effects_of(db) == [("slow", str(process_id), stopping.proc.pid)]

    (successor,) = start_worker("successor", queues="resumes")  # receives no message: takes it over
    wait_until(lambda: all_completed(db, [process_id]), "another worker to continue the process")
    assert sorted(effects_of(db)) == [
        ("after", str(process_id), successor.proc.pid),
        ("slow", str(process_id), stopping.proc.pid),
    ]
    assert [name for name, _ in history(db, process_id)] == ["Start", "Slow", "After", "Done"]


class TestOnRabbitMQ:
    @pytest.fixture
    def broker(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
        """RabbitMQ instead of Redis; the test's queues are deleted afterwards."""
        app = create_celery_app(app_settings, RABBITMQ_URL)
        with app.connection_for_write() as connection:
            try:
                connection.ensure_connection(max_retries=1, interval_start=0, timeout=2)
            except Exception:
                pytest.skip(f"RabbitMQ is not reachable at {RABBITMQ_URL}")
        monkeypatch.setattr(app_settings, "CELERY_QUEUE_PREFIX", f"test-{uuid.uuid4().hex[:8]}-")
        yield RABBITMQ_URL
        with app.connection_for_write() as connection:
            for kind in KINDS:
                with suppress(Exception):
                    connection.channel().queue_delete(queue_name(app_settings, kind))
        app.close()

    def test_processes_run_on_workers_through_rabbitmq(
        self, effects: Database, start_worker: Callable[..., list[Worker]], celery: CeleryExecutor
    ) -> None:
        start_worker("rabbit")
        process_ids = [start_process("celery_two_steps") for _ in range(5)]

        wait_until(lambda: all_completed(effects, process_ids), "the processes to complete")
        assert len(effects_of(effects)) == 10
        assert celery.dependencies() == {"broker": None}
        assert celery.queue_depths() == dict.fromkeys((queue_name(app_settings, kind) for kind in KINDS), 0)
