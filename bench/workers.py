"""Worker benchmark on PostgreSQL: throughput of short processes, and how soon a killed worker's process runs again.

* ``threadpool``: ``--n`` processes of a 3-step workflow (``init >> work >> done``) started through
  ``start_process`` from 4 threads of this Python process, run by the thread-pool executor (8 threads).
* ``celery``: the same, started here and run by 2 ``orchestrion worker`` subprocesses
  (``--concurrency 8`` each) through the broker (Redis by default).

Throughput is processes completed per second, from the first start until the last one completed.

* ``takeover``: a worker runs a process that blocks in a step; the worker is killed with SIGKILL;
  measured is the time from the kill until another worker (with default settings:
  ``PROCESS_LEASE_SECONDS``, ``RECOVERY_GRACE_SECONDS``) is running that step. "same host": the
  survivor sees that the dead worker's pid is gone and takes over at its next heartbeat; "other
  host": the killed worker ran under another hostname (``unshare --uts``, as root), so the
  survivor has to wait for the lease to lapse, as with a worker on another machine.

    .venv/bin/python bench/workers.py --n 1000
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from orchestrion.db import get_database, init_database
from orchestrion.db.models import ProcessTable
from orchestrion.executors import set_executor
from orchestrion.executors.celery import CeleryExecutor, create_celery_app
from orchestrion.executors.threadpool import ThreadPoolExecutor
from orchestrion.logs import configure_logging
from orchestrion.runtime import current
from orchestrion.services.processes import start_process
from orchestrion.settings import app_settings
from orchestrion.targets import Target
from orchestrion.types import State, UUIDstr
from orchestrion.workflow import StepList, done, init, step, workflow
from orchestrion.workflows import register_workflow

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES_URI = "postgresql://postgres@127.0.0.1/orchestrion_bench_workers"
DEFAULT_BROKER = "redis://127.0.0.1:6379/14"
THREADS = 8
STARTERS = 4
HOLD_FILE_ENV = "BENCH_HOLD_FILE"  # a worker whose pid is in this file blocks in "Held"
MARK_DIR_ENV = "BENCH_MARK_DIR"  # "Held" writes <dir>/<pid> with the time it started, when it starts
TIMEOUT = 120.0


# --- the workflows (the worker subprocesses import this module: ``-i bench.workers``) -------------


@step("Work")
def work() -> State:
    return {"worked": True}


@workflow("Benchmark: one short step", target=Target.CREATE)
def bench_short() -> StepList:
    return init >> work >> done


@step("Held")
def held(process_id: UUIDstr) -> State:
    (Path(os.environ[MARK_DIR_ENV]) / str(os.getpid())).write_text(repr(time.time()))
    hold = Path(os.environ[HOLD_FILE_ENV])
    deadline = time.monotonic() + TIMEOUT
    while hold.exists() and hold.read_text() == str(os.getpid()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return {}


@workflow("Benchmark: a step that blocks in the worker named by the hold file", target=Target.CREATE)
def bench_held() -> StepList:
    return init >> held >> done


register_workflow(bench_short, "bench_short")
register_workflow(bench_held, "bench_held")


# --- helpers -------------------------------------------------------------------------------------


def wait_until(predicate: Callable[[], object], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def completed(process_ids: list[uuid.UUID]) -> int:
    with get_database().read() as session:
        return int(
            session.execute(
                select(func.count())
                .select_from(ProcessTable)
                .where(ProcessTable.process_id.in_(process_ids), ProcessTable.last_status == "completed")
            ).scalar_one()
        )


def prepare_postgres(uri: str) -> None:
    """Create the benchmark database if needed and give it an empty ``public`` schema."""
    url = make_url(uri).set(drivername="postgresql")
    if not url.database:
        raise SystemExit("--postgres-uri must name a database (it is emptied: use a dedicated one)")
    with psycopg.connect(url.set(database="postgres").render_as_string(hide_password=False), autocommit=True) as c:
        if c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone() is None:
            c.execute(f'CREATE DATABASE "{url.database}"')
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as c:
        c.execute("DROP SCHEMA IF EXISTS public CASCADE")
        c.execute("CREATE SCHEMA public")


class Workers:
    """``orchestrion worker`` subprocesses on the benchmark's database and broker, with default settings."""

    def __init__(self, uri: str, broker: str, work_dir: Path) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
            "DATABASE_URI": uri,
            "CELERY_BROKER_URL": broker,
            "CELERY_QUEUE_PREFIX": app_settings.CELERY_QUEUE_PREFIX,
            "LOG_LEVEL": "WARNING",
            HOLD_FILE_ENV: str(work_dir / "hold"),
            MARK_DIR_ENV: str(work_dir),
        }
        self.work_dir = work_dir
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, kinds: str, concurrency: int = THREADS, hostname: str | None = None) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "orchestrion.cli", "worker", "-i", "bench.workers"]
        command += ["--concurrency", str(concurrency), "--queues", kinds]
        if hostname is not None:  # a UTS namespace of its own: the worker ids name another host
            command = ["unshare", "--uts", "sh", "-c", f'hostname {hostname} && exec "$@"', "sh", *command]
        log = (self.work_dir / f"worker-{len(self.started)}.log").open("wb")
        proc = subprocess.Popen(command, env=self.env, cwd=self.work_dir, stdout=log, stderr=subprocess.STDOUT)
        self.started.append(proc)
        return proc

    def wait_ready(self, executor: CeleryExecutor, count: int) -> None:
        wait_until(lambda: len(executor.app.control.ping(timeout=0.5)) >= count, f"{count} workers to start")

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


# --- the measurements ----------------------------------------------------------------------------


def throughput(n: int) -> tuple[float, float]:
    """Start ``n`` processes with the installed executor from 4 threads (as an API server serves several
    requests at once); (seconds to start them all, processes/s from the first start to the last completion).
    """
    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(STARTERS) as starters:
        process_ids = list(starters.map(lambda _: start_process("bench_short"), range(n)))
    started = time.perf_counter() - began
    wait_until(lambda: completed(process_ids) == n, f"{n} processes to complete")
    return started, n / (time.perf_counter() - began)


def takeover(workers: Workers, executor: CeleryExecutor, other_host: bool) -> float:
    """Seconds from SIGKILL of the worker running a blocked step until another worker runs that step."""
    doomed = workers.start("new_workflows", hostname="bench-elsewhere" if other_host else None)
    workers.wait_ready(executor, 2)
    (workers.work_dir / "hold").write_text(str(doomed.pid))
    start_process("bench_held")
    mark = workers.work_dir / str(doomed.pid)
    wait_until(mark.exists, "the step to start")
    killed_at = time.time()
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    mark.unlink()
    wait_until(lambda: _marks(workers.work_dir), "another worker to run the step")
    (again,) = _marks(workers.work_dir)
    again_at = float(again.read_text())
    again.unlink()
    return again_at - killed_at


def _marks(work_dir: Path) -> list[Path]:
    return [p for p in work_dir.iterdir() if p.name.isdigit()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="processes per throughput run (default 1000)")
    parser.add_argument("--takeovers", type=int, default=3, help="kills per takeover variant (default 3)")
    parser.add_argument("--broker", default=DEFAULT_BROKER, help=f"Celery broker URL (default {DEFAULT_BROKER})")
    parser.add_argument(
        "--postgres-uri",
        default=DEFAULT_POSTGRES_URI,
        help=f"a dedicated database; its public schema is dropped and recreated (default {DEFAULT_POSTGRES_URI})",
    )
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    prepare_postgres(args.postgres_uri)
    init_database(args.postgres_uri)
    app_settings.CELERY_QUEUE_PREFIX = f"bench-{uuid.uuid4().hex[:8]}-"
    print(f"{os.cpu_count()} CPUs; PostgreSQL; lease {app_settings.PROCESS_LEASE_SECONDS:g} s (default settings)")

    pool = ThreadPoolExecutor(current(), max_workers=THREADS)
    set_executor(pool)
    started, rate = throughput(args.n)
    pool.shutdown()
    print(f"threadpool ({THREADS} threads): {args.n} processes, {rate:.0f} processes/s")

    work_dir = Path(tempfile.mkdtemp(prefix="orchestrion-bench-workers-"))
    workers = Workers(args.postgres_uri, args.broker, work_dir)
    executor = CeleryExecutor(current(), create_celery_app(app_settings, args.broker))
    set_executor(executor)
    try:
        for _ in range(2):
            workers.start("new_workflows,new_tasks,resumes")
        workers.wait_ready(executor, 2)
        started, rate = throughput(args.n)
        print(f"celery (2 workers x {THREADS} threads): {args.n} processes, {rate:.0f} processes/s")
        print(f"  (of which starting them here: {started:.2f} s, {args.n / started:.0f} processes/s)")
        workers.stop_all()
        workers.started.clear()

        workers.start("resumes")  # the survivor: it gets no message for the blocked process, it takes it over
        variants = [("same host", False)]
        if shutil.which("unshare") and os.geteuid() == 0:
            variants.append(("other host", True))
        for name, other_host in variants if args.takeovers else []:
            times = [takeover(workers, executor, other_host) for _ in range(args.takeovers)]
            print(
                f"takeover after kill -9, {name}: median {statistics.median(times):.1f} s, max {max(times):.1f} s "
                f"({', '.join(f'{t:.1f}' for t in times)})"
            )
    finally:
        workers.stop_all()
        executor.shutdown()
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
