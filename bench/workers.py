"""Worker benchmark on PostgreSQL: throughput of short processes, and how soon a killed worker's process runs again.

* ``throughput``: ``--n`` processes of a 3-step workflow (``init >> work >> done``) started through
  ``start_process`` from 4 threads of this Python process, run by the thread-pool executor (8
  threads), then by 1, 2 and 4 (``--workers``) ``orchestrion worker`` subprocesses (``--concurrency 8``
  each) through the broker (Redis by default), ``--repeat`` rounds. Processes completed per second, from
  the first start to the last completion: medians, and as a ratio to the thread pool in the same rounds.
* ``idle``: a worker runs a process that blocks in a step and is killed with SIGKILL; measured is
  the time from the kill until the other worker, idle, runs that step. "same host": the survivor
  sees that the dead worker's pid is gone; "other host": the killed worker ran under another
  hostname (``unshare --uts``, as root), so the survivor has to wait for the lease to lapse, as
  with a worker on another machine.
* ``backlog``: the takeover with a full queue. Two Celery workers share a queue of ``--backlog``
  processes of ``init >> busy >> done`` (``Busy`` sleeps 1 s) behind their 8 busy threads each; or
  two Python processes with the thread-pool executor (as two API servers) have ``--backlog`` each. One is
  killed while its 8 threads are in ``Busy``; measured, for each of those 8 processes, is the time
  from the kill until the survivor runs ``Busy`` again (it still has a full queue of its own).
* ``outage``: the database goes away for ``--outage`` seconds under the same load (connections
  refused, ``ALTER DATABASE ... ALLOW_CONNECTIONS false``, and every backend terminated); measured
  is the time from its end until each process that was in ``Busy`` when it began runs ``Busy`` again.

Workers run with default settings unless ``--lease`` is given (``PROCESS_LEASE_SECONDS``; the
grace period ``RECOVERY_GRACE_SECONDS`` stays at its default).

    .venv/bin/python bench/workers.py --n 1000
    .venv/bin/python bench/workers.py --scenarios backlog,outage --kills 3
"""

from __future__ import annotations

import argparse
import concurrent.futures
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path

import psycopg
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from orchestrion.db import get_database, init_database
from orchestrion.db.models import ProcessTable
from orchestrion.engine.status import IN_FLIGHT_STATUSES
from orchestrion.executors import set_executor
from orchestrion.executors.celery import KINDS, CeleryExecutor, create_celery_app
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
ALL_QUEUES = ",".join(KINDS)
HOLD_FILE_ENV = "BENCH_HOLD_FILE"  # a worker whose pid is in this file blocks in "Held"
MARK_DIR_ENV = "BENCH_MARK_DIR"  # "Held" writes <dir>/<pid>, "Busy" appends to <dir>/busy/<process id>
BUSY_SECONDS = 1.0
TIMEOUT = 180.0


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


@step("Busy")
def busy(process_id: UUIDstr) -> State:
    with (Path(os.environ[MARK_DIR_ENV]) / "busy" / str(process_id)).open("a") as marks:
        marks.write(f"{os.getpid()} {time.time()!r}\n")  # one small append: never interleaved
    time.sleep(BUSY_SECONDS)
    return {}


@workflow("Benchmark: a one-second step", target=Target.CREATE)
def bench_busy() -> StepList:
    return init >> busy >> done


register_workflow(bench_short, "bench_short")
register_workflow(bench_held, "bench_held")
register_workflow(bench_busy, "bench_busy")


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


def mid_busy(claim_prefix: str) -> list[uuid.UUID]:
    """Processes in ``Busy`` (or about to start it) under a claim of the worker whose ids start so."""
    with get_database().read() as session:
        rows = session.execute(
            select(ProcessTable.process_id, ProcessTable.cursor).where(
                ProcessTable.claimed_by.startswith(claim_prefix), ProcessTable.last_status == "running"
            )
        ).all()
    return [row.process_id for row in rows if row.cursor == ["Busy"]]


def total() -> int:
    with get_database().read() as session:
        return int(session.execute(select(func.count()).select_from(ProcessTable)).scalar_one())


def queued() -> int:
    """Processes not started yet (waiting in a queue)."""
    with get_database().read() as session:
        count = select(func.count()).select_from(ProcessTable).where(ProcessTable.last_status == "created")
        return int(session.execute(count).scalar_one())


def abort_all_in_flight() -> None:
    """End a round: nothing it left in flight may run in the next one."""
    with get_database().write() as session:
        session.execute(
            update(ProcessTable)
            .where(ProcessTable.last_status.in_([s.value for s in IN_FLIGHT_STATUSES]))
            .values(last_status="aborted", claimed_by=None, lease_until=None)
        )


def busy_starts(mark_dir: Path, process_id: uuid.UUID) -> list[tuple[int, float]]:
    """(pid, time) of every start of the process's ``Busy`` step."""
    path = mark_dir / "busy" / str(process_id)
    if not path.exists():
        return []
    lines = [line.split() for line in path.read_text().splitlines() if line.count(" ") == 1]
    return [(int(pid), float(at)) for pid, at in lines]


def next_start(mark_dir: Path, process_id: uuid.UUID, after: float) -> float | None:
    return min((at for _, at in busy_starts(mark_dir, process_id) if at > after), default=None)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def summary(times: Sequence[float], lease: float) -> str:
    worst = max(times)
    return (
        f"max {worst:.1f} s, p50 {statistics.median(times):.1f} s, p99 {percentile(times, 0.99):.1f} s "
        f"(n={len(times)}); lease {lease:g} s: max/lease {worst / lease:.2f}"
    )


def prepare_postgres(uri: str) -> None:
    """Create the benchmark database if needed and give it an empty ``public`` schema."""
    url = make_url(uri).set(drivername="postgresql")
    if not url.database:
        raise SystemExit("--postgres-uri must name a database (it is emptied: use a dedicated one)")
    with psycopg.connect(admin_uri(uri), autocommit=True) as c:
        if c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone() is None:
            c.execute(f'CREATE DATABASE "{url.database}"')
        c.execute(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS true')  # after an interrupted outage
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as c:
        c.execute("DROP SCHEMA IF EXISTS public CASCADE")
        c.execute("CREATE SCHEMA public")


def admin_uri(uri: str) -> str:
    """The same server's ``postgres`` database (the outage is done from there, as a superuser)."""
    url = make_url(uri).set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


def outage(uri: str, seconds: float) -> tuple[float, float]:
    """The database refuses connections and loses all of its backends for ``seconds``; (began, ended) as times."""
    name = make_url(uri).database
    with psycopg.connect(admin_uri(uri), autocommit=True) as admin:
        began = time.time()
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        while time.time() < began + seconds:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            time.sleep(0.2)
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        return began, time.time()


class Workers:
    """Worker subprocesses on the benchmark's database and broker, with default settings (but ``lease``)."""

    def __init__(
        self, uri: str, broker: str, work_dir: Path, lease: float | None, module: str = "bench.workers"
    ) -> None:
        self.module = module  # what the workers import: the benchmark's workflows
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
        if lease is not None:
            self.env["PROCESS_LEASE_SECONDS"] = str(lease)
        self.work_dir = work_dir
        (work_dir / "busy").mkdir(exist_ok=True)
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, kinds: str, concurrency: int = THREADS, hostname: str | None = None) -> subprocess.Popen[bytes]:
        """An ``orchestrion worker`` (Celery)."""
        command = [sys.executable, "-m", "orchestrion.cli", "worker", "-i", self.module]
        return self._start([*command, "--concurrency", str(concurrency), "--queues", kinds], hostname)

    def serve(self, n: int, hostname: str | None = None) -> subprocess.Popen[bytes]:
        """A Python process with the thread-pool executor (as an API server) that starts ``n`` busy processes."""
        return self._start([sys.executable, "-m", "bench.workers", "--serve", str(n)], hostname)

    def _start(self, command: list[str], hostname: str | None) -> subprocess.Popen[bytes]:
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
        self.started.clear()


def claim_prefix(proc: subprocess.Popen[bytes], hostname: str | None) -> str:
    return f"{hostname or socket.gethostname()}:{proc.pid}:"


# --- the measurements ----------------------------------------------------------------------------


def throughput(n: int) -> float:
    """Start ``n`` processes with the installed executor from 4 threads (as an API server serves several
    requests at once); processes/s from the first start to the last completion.
    """
    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(STARTERS) as starters:
        process_ids = list(starters.map(lambda _: start_process("bench_short"), range(n)))
    wait_until(lambda: completed(process_ids) == n, f"{n} processes to complete")
    return n / (time.perf_counter() - began)


def compare_throughput(
    workers: Workers, executor: CeleryExecutor, n: int, repeat: int, counts: list[int], database: str
) -> None:
    """The thread-pool executor, then Celery with each of ``counts`` workers, ``repeat`` rounds in turn (so a
    noisy neighbour slows all alike); medians, and each as a ratio to the thread pool's in the same rounds.

    With each, the CPU time a process costs here (starting it; with the thread pool also running it), in
    the workers, and in PostgreSQL's backends (read from ``/proc``: the server must be on this host):
    throughput times that sum is what the cores bound.
    """
    rates: dict[str, list[float]] = {}
    costs: dict[str, list[tuple[float, ...]]] = {}

    def measured(label: str, pids: list[int]) -> None:
        before = (cpu_seconds([os.getpid()]), cpu_seconds(pids), cpu_seconds(backends(database)))
        rates.setdefault(label, []).append(throughput(n))
        after = (cpu_seconds([os.getpid()]), cpu_seconds(pids), cpu_seconds(backends(database)))
        costs.setdefault(label, []).append(tuple(1000 * (a - b) / n for a, b in zip(after, before, strict=True)))

    for _ in range(repeat):
        pool = ThreadPoolExecutor(current(), max_workers=THREADS)
        set_executor(pool)
        measured(f"threadpool ({THREADS} threads)", [])
        pool.shutdown()
        set_executor(executor)
        for count in counts:
            started = [workers.start(ALL_QUEUES) for _ in range(count)]
            workers.wait_ready(executor, count)
            measured(f"celery ({count} workers x {THREADS} threads)", [p.pid for p in started])
            workers.stop_all()
            wait_until(lambda: not executor.app.control.ping(timeout=0.2), "the workers to be gone")
    baseline = statistics.median(next(iter(rates.values())))
    print(f"throughput, {n} processes per run, median of {repeat} rounds; CPU ms per process (medians):")
    print(f"  {'':34} {'processes/s':>11} {'ratio':>6} {'here':>5} {'workers':>7} {'pg':>5} {'sum':>5}  runs")
    for label, values in rates.items():
        median = statistics.median(values)
        here, away, pg = (statistics.median(c[i] for c in costs[label]) for i in range(3))
        runs = ", ".join(f"{v:.0f}" for v in values)
        print(
            f"  {label:34} {median:11.0f} {median / baseline:6.2f} {here:5.2f} {away:7.2f} {pg:5.2f} "
            f"{here + away + pg:5.2f}  ({runs})"
        )


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds the processes ``pids`` have used (those that still run)."""
    total = 0.0
    for pid in pids:
        with suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def backends(database: str) -> list[int]:
    """The pids of this host's PostgreSQL backends connected to ``database``."""
    found = []
    for entry in Path("/proc").iterdir():
        with suppress(OSError):
            if entry.name.isdigit() and f" {database} " in (entry / "cmdline").read_text():
                found.append(int(entry.name))
    return found


def idle_takeover(workers: Workers, executor: CeleryExecutor, other_host: bool) -> float:
    """Seconds from SIGKILL of the worker running a blocked step until another (idle) worker runs that step."""
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


def start_busy(n: int) -> list[uuid.UUID]:
    with concurrent.futures.ThreadPoolExecutor(STARTERS) as starters:
        return list(starters.map(lambda _: start_process("bench_busy"), range(n)))


def backlog_takeover(
    workers: Workers, executor: CeleryExecutor, kind: str, n: int, victim_host: str | None
) -> list[float]:
    """One kill with a full queue: for each process the victim had in ``Busy``, seconds until the survivor runs it."""
    if kind == "celery":
        survivor = workers.start(ALL_QUEUES)
        victim = workers.start(ALL_QUEUES, hostname=victim_host)
        workers.wait_ready(executor, 2)
        start_busy(n)
    else:
        before = total()
        survivor = workers.serve(n)
        victim = workers.serve(n, hostname=victim_host)
        wait_until(lambda: total() - before >= 2 * n, "both to have started their processes")
    prefix = claim_prefix(victim, victim_host)
    wait_until(lambda: len(mid_busy(prefix)) >= THREADS, "the victim's threads to be in Busy")
    killed_at = time.time()
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    waiting = queued()
    held = mid_busy(prefix)
    wait_until(lambda: all(next_start(workers.work_dir, p, killed_at) for p in held), "the survivor to run them again")
    left = queued()
    times = [next_start(workers.work_dir, p, killed_at) - killed_at for p in held]  # type: ignore[operator]
    print(
        f"    kill: {waiting} queued at the kill, {left} still queued when the last ran again: "
        + ", ".join(f"{t:.1f}" for t in sorted(times))
    )
    survivor.kill()
    survivor.wait()
    workers.stop_all()
    abort_all_in_flight()
    return times


def outage_recovery(workers: Workers, executor: CeleryExecutor, uri: str, n: int, seconds: float) -> list[float]:
    """Seconds from the end of an outage until each process that was in ``Busy`` when it began runs ``Busy`` again."""
    first, second = workers.start(ALL_QUEUES), workers.start(ALL_QUEUES)
    workers.wait_ready(executor, 2)
    process_ids = start_busy(n)
    prefixes = [claim_prefix(first, None), claim_prefix(second, None)]
    wait_until(lambda: sum(len(mid_busy(p)) for p in prefixes) >= 2 * THREADS, "every thread to be in Busy")
    held = [p for prefix in prefixes for p in mid_busy(prefix)]
    began, ended = outage(uri, seconds)
    wait_until(
        lambda: all(next_start(workers.work_dir, p, began) for p in held), "the interrupted processes to run again"
    )
    times = [next_start(workers.work_dir, p, began) - ended for p in held]  # type: ignore[operator]
    wait_until(lambda: completed(process_ids) == n, "every process to complete")
    print(f"    outage of {ended - began:.1f} s: all {n} processes completed {time.time() - ended:.1f} s after it")
    workers.stop_all()
    abort_all_in_flight()
    return times


def serve(n: int) -> int:
    """``--serve N``: a thread-pool executor (8 threads) here, N busy processes started on it; run until killed."""
    configure_logging("WARNING")
    init_database(os.environ["DATABASE_URI"], migrate=False)
    set_executor(ThreadPoolExecutor(current(), max_workers=THREADS))
    for _ in range(n):
        start_process("bench_busy")
    threading.Event().wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default="throughput,idle,backlog,outage", help="which to run (default: all)")
    parser.add_argument("--n", type=int, default=1000, help="processes per throughput run (default 1000)")
    parser.add_argument("--workers", default="1,2,4", help="Celery worker counts for throughput (default 1,2,4)")
    parser.add_argument("--repeat", type=int, default=3, help="throughput rounds; medians are shown (default 3)")
    parser.add_argument("--takeovers", type=int, default=3, help="kills per idle takeover variant (default 3)")
    parser.add_argument("--backlog", type=int, default=300, help="busy processes queued for a backlog kill (300)")
    parser.add_argument("--kills", type=int, default=3, help="kills per backlog variant (default 3)")
    parser.add_argument("--outage", type=float, default=5.0, help="seconds the database is gone (default 5)")
    parser.add_argument("--lease", type=float, default=None, help="PROCESS_LEASE_SECONDS of the workers")
    parser.add_argument("--broker", default=DEFAULT_BROKER, help=f"Celery broker URL (default {DEFAULT_BROKER})")
    parser.add_argument(
        "--postgres-uri",
        default=DEFAULT_POSTGRES_URI,
        help=f"a dedicated database; its public schema is dropped and recreated (default {DEFAULT_POSTGRES_URI})",
    )
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        return serve(args.serve)
    scenarios = set(args.scenarios.split(","))
    configure_logging("WARNING")
    prepare_postgres(args.postgres_uri)
    init_database(args.postgres_uri)
    app_settings.CELERY_QUEUE_PREFIX = f"bench-{uuid.uuid4().hex[:8]}-"
    lease = args.lease or app_settings.PROCESS_LEASE_SECONDS
    other_host = shutil.which("unshare") is not None and os.geteuid() == 0
    print(f"{os.cpu_count()} CPUs; PostgreSQL; lease {lease:g} s")

    work_dir = Path(tempfile.mkdtemp(prefix="orchestrion-bench-workers-"))
    workers = Workers(args.postgres_uri, args.broker, work_dir, args.lease)
    executor = CeleryExecutor(current(), create_celery_app(app_settings, args.broker))
    set_executor(executor)
    try:
        if "throughput" in scenarios:
            counts = [int(w) for w in args.workers.split(",")]
            database = make_url(args.postgres_uri).database or ""
            compare_throughput(workers, executor, args.n, args.repeat, counts, database)
            set_executor(executor)

        if "idle" in scenarios:
            workers.start("resumes")  # the survivor: it gets no message for the blocked process, it takes it over
            for name, other in [("same host", False), ("other host", True)][: 1 + other_host]:
                times = [idle_takeover(workers, executor, other) for _ in range(args.takeovers)]
                print(f"takeover after kill -9, idle survivor, {name}: {summary(times, lease)}")
            workers.stop_all()

        victim_host = "bench-elsewhere" if other_host else None
        where = "other host" if other_host else "same host"
        for kind in ("celery", "threadpool") if "backlog" in scenarios else ():
            print(f"takeover after kill -9 with a backlog of {args.backlog}, {kind}, victim on the {where}:")
            times = [
                t
                for _ in range(args.kills)
                for t in backlog_takeover(workers, executor, kind, args.backlog, victim_host)
            ]
            print(f"  {summary(times, lease)}")

        if "outage" in scenarios:
            print(f"database outage of {args.outage:g} s, celery, {args.backlog} busy processes:")
            times = outage_recovery(workers, executor, args.postgres_uri, args.backlog, args.outage)
            print(f"  interrupted processes running again after the outage: {summary(times, lease)}")
    finally:
        workers.stop_all()
        executor.shutdown()
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
