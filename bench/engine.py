"""Engine benchmark: persisted steps per second on SQLite and PostgreSQL, and the engine without persistence.

Runs ``--n`` processes of a 3-step workflow (the founding document's seed workflow without its
subscription row, so ``memory`` can run it too), of a 12-step variant, and of the 12 steps through
the ORM (each step but init and done reads and writes one row of its own table with ``db.session``)
through the public services (``start_process`` + ``wait_for_process``) with the thread-pool
executor (8 workers), and that ORM work alone (``bare ORM``: a SQLAlchemy session per transaction, no
engine, no checkpoint), SQLAlchemy's own floor for the ORM row:

* ``1 at a time``: start a process, wait for it, start the next;
* ``8 concurrent``: keep 8 processes in flight (8 callers, each starting a process, waiting for it,
  starting the next).

Steps/s is the number of history rows written (``process_steps``) divided by the wall time, so the
cost of starting processes (form validation, the process row) counts too. ``ms/step`` is the
latency a caller sees: the time from ``start_process`` until ``wait_for_process`` returned, divided
by the process's steps. ``memory`` runs ``orchestrion.engine.runner.run`` with a ``MemoryJournal``:
the engine without any persistence. Peak RSS is this Python process's high-water mark so far.

Every persisted row is given as a share of the limit: the cheapest durable step the database
allows, one ``INSERT`` in autocommit mode from the bare driver (one round trip, one commit), on one
connection for the rows run one at a time and on 8 for the others. The limit is measured in turn
with the row (10 parts each), so the share holds while a shared machine's speed drifts.

    .venv/bin/python bench/engine.py --n 500 --backend all
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the example workflows importable
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import Integer, String, func, select  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402
from sqlalchemy.orm import Mapped, Session, mapped_column  # noqa: E402

from orchestrion.db import Database, db, init_database  # noqa: E402
from orchestrion.db.database import BaseModel  # noqa: E402
from orchestrion.db.models import ProcessStepTable  # noqa: E402
from orchestrion.engine.runner import MemoryJournal, run  # noqa: E402
from orchestrion.engine.serialization import roundtrip  # noqa: E402
from orchestrion.engine.status import ProcessStatus  # noqa: E402
from orchestrion.engine.workflow import Workflow  # noqa: E402
from orchestrion.executors import set_executor  # noqa: E402
from orchestrion.executors.threadpool import ThreadPoolExecutor  # noqa: E402
from orchestrion.forms import SubmitFormPage  # noqa: E402
from orchestrion.logs import configure_logging  # noqa: E402
from orchestrion.runtime import current, install  # noqa: E402
from orchestrion.services.processes import start_process, wait_for_process  # noqa: E402
from orchestrion.targets import Target  # noqa: E402
from orchestrion.types import FormGenerator, State, UUIDstr  # noqa: E402
from orchestrion.workflow import StepList, done, init, step, workflow  # noqa: E402
from orchestrion.workflows import get_workflow, register_workflow  # noqa: E402

MAX_WORKERS = 8
CONCURRENCY = 8
DEFAULT_POSTGRES_URI = "postgresql://postgres@127.0.0.1/orchestrion_bench"
SEED = "bench_three_steps"
TWELVE = "bench_twelve_steps"
TWELVE_ORM = "bench_twelve_steps_orm"
RAW = "raw"
BARE_ORM = "bare_orm"


# --- the workflows: init, create subscription, (nine provisioning steps,) done --------------------


class BenchForm(SubmitFormPage):
    product: UUIDstr
    user_input: str


def bench_form() -> FormGenerator:
    user_input = yield BenchForm
    return user_input.model_dump()


@step("Create subscription")
def create_subscription(product: UUIDstr, user_input: str) -> State:
    """Only the engine's own work: a subscription as a dict in the state, no database row."""
    return {"subscription": {"subscription_id": str(uuid.uuid4()), "product": product, "description": user_input}}


@workflow("Create product subscription (3 steps)", initial_input_form=bench_form, target=Target.CREATE)
def bench_three_steps() -> StepList:
    return init >> create_subscription >> done


def _provision_step(i: int) -> Any:
    @step(f"Provision part {i}")
    def provision(subscription: dict[str, Any], product: UUIDstr, user_input: str) -> State:
        return {f"part_{i}": {"subscription_id": subscription["subscription_id"], "product": product, "n": i}}

    return provision


def _twelve_steps() -> StepList:
    steps = init >> create_subscription
    for i in range(1, 10):
        steps = steps >> _provision_step(i)
    return steps >> done


@workflow("Create product subscription (12 steps)", initial_input_form=bench_form, target=Target.CREATE)
def bench_twelve_steps() -> StepList:
    return _twelve_steps()


# --- the same 12 steps through the ORM: each step but init and done reads and writes one row ------


class BenchRecord(BaseModel):
    """The ORM variant's row: what an inventory keeps about the subscription, one per process."""

    __tablename__ = "bench_record"

    key: Mapped[str] = mapped_column(String(36), primary_key=True)
    product: Mapped[str] = mapped_column(String(36))
    parts: Mapped[int] = mapped_column(Integer, default=0)


@step("Create subscription")
def create_subscription_orm(product: UUIDstr, user_input: str) -> State:
    """Creates the subscription's row (an ORM INSERT, committed with the step's checkpoint)."""
    key = str(uuid.uuid4())
    db.session.add(BenchRecord(key=key, product=product, parts=0))
    return {"subscription": {"subscription_id": key, "product": product, "description": user_input}}


def _provision_step_orm(i: int) -> Any:
    @step(f"Provision part {i}")
    def provision(subscription: dict[str, Any], product: UUIDstr) -> State:
        record = db.session.get(BenchRecord, subscription["subscription_id"])  # one SELECT by primary key
        assert record is not None
        record.parts = i  # one UPDATE, flushed by the checkpoint's commit
        return {f"part_{i}": {"subscription_id": record.key, "product": product, "n": i}}

    return provision


@workflow("Create product subscription (12 steps, ORM)", initial_input_form=bench_form, target=Target.CREATE)
def bench_twelve_steps_orm() -> StepList:
    steps = init >> create_subscription_orm
    for i in range(1, 10):
        steps = steps >> _provision_step_orm(i)
    return steps >> done


WORKFLOWS = {SEED: bench_three_steps, TWELVE: bench_twelve_steps, TWELVE_ORM: bench_twelve_steps_orm}


def _register() -> dict[str, int]:
    """Register the workflows; their step counts."""
    counts = {}
    for key, wf_function in WORKFLOWS.items():
        if get_workflow(key) is None:
            register_workflow(wf_function, key)
        wf = get_workflow(key)
        assert wf is not None
        counts[key] = len(wf._leaves)
    assert counts == {SEED: 3, TWELVE: 12, TWELVE_ORM: 12}, counts
    return counts


def _form_input() -> list[State]:
    return [{"product": str(uuid.uuid4()), "user_input": "benchmark"}]


# --- measurements ---------------------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    workflow: str
    mode: str
    processes: int
    steps: int
    seconds: float
    latencies: list[float]  # seconds per process, as the caller saw it
    steps_per_process: int
    rss_mib: float
    cpu_seconds: float = 0.0  # CPU this Python process used meanwhile (all its threads)
    limit_per_s: float | None = None  # the limit of the same mode, measured in the same moments (``interleaved``)

    @property
    def cpu_ms_per_step(self) -> float:
        return self.cpu_seconds * 1000 / self.steps

    @property
    def share(self) -> float | None:
        """Steps/s as a share of the limit."""
        return self.steps_per_s / self.limit_per_s if self.limit_per_s else None

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds

    @property
    def ms_per_step(self) -> float:
        return statistics.fmean(self.latencies) * 1000 / self.steps_per_process


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _history_rows(database: Database) -> int:
    with database.read() as session:
        return int(session.execute(select(func.count()).select_from(ProcessStepTable)).scalar_one())


def _check_completed(pid: uuid.UUID, status: ProcessStatus) -> None:
    if status != ProcessStatus.COMPLETED:
        raise RuntimeError(f"process {pid} ended {status.value}, expected completed")


def run_one_at_a_time(key: str, n: int) -> list[float]:
    latencies = []
    for _ in range(n):
        t0 = time.perf_counter()
        pid = start_process(key, _form_input())
        _check_completed(pid, wait_for_process(pid, timeout=60))
        latencies.append(time.perf_counter() - t0)
    return latencies


def run_concurrently(key: str, n: int, concurrency: int = CONCURRENCY) -> list[float]:
    """Keep ``concurrency`` processes in flight: as many callers, each starting the next when its last one stopped."""
    latencies: list[float] = []
    remaining = [n]
    lock = threading.Lock()
    errors: list[BaseException] = []

    def caller() -> None:
        try:
            while True:
                with lock:
                    if remaining[0] == 0 or errors:
                        return
                    remaining[0] -= 1
                t0 = time.perf_counter()
                pid = start_process(key, _form_input())
                _check_completed(pid, wait_for_process(pid, timeout=60))
                latency = time.perf_counter() - t0
                with lock:
                    latencies.append(latency)
        except BaseException as e:
            errors.append(e)

    callers = [threading.Thread(target=caller, name=f"bench-caller-{i}") for i in range(concurrency)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    if errors:
        raise errors[0]
    return latencies


Limit = Callable[[int, int], Result]  # (connections, transactions) -> the limit, measured now
CHUNKS = 10  # a row is measured in as many parts, each right after the limit did as much work


def interleaved(
    limit: Limit | None, connections: int, measure: Callable[[int], Result], count: int, steps_each: int
) -> Result:
    """``measure`` of ``count`` processes of ``steps_each`` steps (or transactions: 1) in ``CHUNKS`` parts,
    each right after the limit did as many steps: on a shared machine the database's speed drifts within
    a run, the share of what it could do in the same moments holds. The limit is its steps over its
    time in all the parts."""
    if limit is None:
        return measure(count)
    parts, limits = [], []
    for i in range(CHUNKS):
        if size := count // CHUNKS + (1 if i < count % CHUNKS else 0):
            limits.append(limit(connections, size * steps_each))
            parts.append(measure(size))
    merged = Result(
        parts[0].backend,
        parts[0].workflow,
        parts[0].mode,
        sum(p.processes for p in parts),
        sum(p.steps for p in parts),
        sum(p.seconds for p in parts),
        [latency for p in parts for latency in p.latencies],
        parts[0].steps_per_process,
        max(p.rss_mib for p in parts),
        sum(p.cpu_seconds for p in parts),
    )
    merged.limit_per_s = sum(r.steps for r in limits) / sum(r.seconds for r in limits)
    return merged


def bench_persisted(backend: str, uri: str, n: int, counts: dict[str, int], limit: Limit | None) -> Iterator[Result]:
    database = init_database(uri)
    BenchRecord.__table__.create(database.engine, checkfirst=True)  # type: ignore[attr-defined]
    executor = ThreadPoolExecutor(current(), max_workers=MAX_WORKERS)
    previous = set_executor(executor)
    try:
        modes: list[tuple[str, int, Callable[[str, int], list[float]]]] = [
            ("1 at a time", 1, run_one_at_a_time),
            (f"{CONCURRENCY} concurrent", CONCURRENCY, run_concurrently),
        ]
        for key in WORKFLOWS:
            for mode, connections, runner in modes:
                runner(key, max(10, n // 20))  # warm-up: connections, statement caches, type adapters

                def measure(
                    size: int, key: str = key, mode: str = mode, runner: Callable[..., list[float]] = runner
                ) -> Result:
                    before = _history_rows(database)
                    t0, cpu0 = time.perf_counter(), time.process_time()
                    latencies = runner(key, size)
                    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                    steps = _history_rows(database) - before
                    if steps != size * counts[key]:
                        raise RuntimeError(f"{steps} history rows written, expected {size * counts[key]}")
                    rss = peak_rss_mib()
                    return Result(backend, key, mode, size, steps, seconds, latencies, counts[key], rss, cpu)

                yield interleaved(limit, connections, measure, n, counts[key])
        writes = database.engine.execution_options(sqlite_immediate=True)  # BEGIN IMMEDIATE on SQLite, as steps do
        for _, connections, _ in modes:
            orm = partial(orm_baseline, backend, writes, connections=connections)
            orm(max(10, n // 20))  # warm-up
            yield interleaved(limit, connections, orm, 3 * n, 1)
    finally:
        set_executor(previous)
        executor.shutdown(wait=True)
        install(None)
        database.dispose()


def bench_memory(n: int, counts: dict[str, int]) -> Iterator[Result]:
    for key in (SEED, TWELVE):
        wf = get_workflow(key)
        assert wf is not None
        states = [_initial_state(wf, key) for _ in range(n)]
        _run_memory(wf, states[: max(10, n // 20)])  # warm-up
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        steps, latencies = _run_memory(wf, states)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        if steps != n * counts[key]:
            raise RuntimeError(f"{steps} steps recorded, expected {n * counts[key]}")
        yield Result("memory", key, "1 at a time", n, steps, seconds, latencies, counts[key], peak_rss_mib(), cpu)


def _initial_state(wf: Workflow, key: str) -> State:
    """What ``start_process`` builds from the form: the user input plus the system keys."""
    system = {"process_id": uuid.uuid4(), "reporter": "SYSTEM", "workflow_name": key, "workflow_target": wf.target}
    state, _ = roundtrip({**_form_input()[0], **system})
    return state


def _run_memory(wf: Workflow, states: list[State]) -> tuple[int, list[float]]:
    steps = 0
    latencies = []
    for state in states:
        t0 = time.perf_counter()
        journal = MemoryJournal()
        outcome = run(wf, wf.first_path(), state, journal, is_task=wf.is_task)
        latencies.append(time.perf_counter() - t0)
        if not outcome.iscomplete():
            raise RuntimeError(f"in-memory run ended {outcome!r}")
        steps += len(journal.records)
    return steps, latencies


# --- databases ------------------------------------------------------------------------------------


def prepare_postgres(uri: str) -> str:
    """Create the benchmark database if needed and give it an empty ``public`` schema."""
    url = make_url(uri)
    name = url.database
    if not name:
        raise SystemExit("--postgres-uri must name a database (it is emptied: use a dedicated one)")
    plain = url.set(drivername="postgresql")
    admin = plain.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
        # Start from clean buffers, so the previous run's writes are not flushed while this one is measured
        # (needs a superuser; without one, measure anyway).
        with contextlib.suppress(psycopg.Error):
            conn.execute("CHECKPOINT")
        row = conn.execute("SHOW server_version").fetchone()
        fsync = conn.execute("SHOW fsync").fetchone()
        sync_commit = conn.execute("SHOW synchronous_commit").fetchone()
    assert row is not None and fsync is not None and sync_commit is not None
    return f"PostgreSQL {row[0]} (fsync={fsync[0]}, synchronous_commit={sync_commit[0]})"


# --- the ceiling: one small transaction per step with the bare driver -------------------------------

RAW_PROCESS_DDL = "CREATE TABLE bench_raw_process (id CHAR(36) PRIMARY KEY, seq INTEGER, state TEXT, at TIMESTAMP)"
RAW_STEP_DDL = (
    "CREATE TABLE bench_raw_step (id CHAR(36) PRIMARY KEY, process_id CHAR(36), seq INTEGER, state TEXT, at TIMESTAMP)"
)
RAW_STATE = '{"product": "0b0b0b0b-0000-4000-8000-000000000001", "user_input": "benchmark", "n": 1}'


def raw_baseline(backend: str, target: str, transactions: int, connections: int, *, single: bool = False) -> Result:
    """``INSERT`` a step row + ``UPDATE ... RETURNING`` the process row + ``COMMIT``, from Python, no engine.

    What one checkpoint-sized transaction costs on this machine right now. ``single``: the
    cheapest durable step the database allows instead, one ``INSERT`` in autocommit mode (one
    round trip, one commit): the limit the persisted rows are given as a percentage of.
    ``target`` is a psycopg URI or a SQLite file path.
    """
    connect: Callable[[], Any]
    if backend == "postgres":
        placeholder = "%s"
        connect = lambda: psycopg.connect(target, autocommit=single)  # noqa: E731
    else:
        placeholder = "?"

        def connect() -> Any:
            conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn

    setup = connect()
    for ddl in ("DROP TABLE IF EXISTS bench_raw_step", "DROP TABLE IF EXISTS bench_raw_process"):
        setup.execute(ddl)
    setup.execute(RAW_PROCESS_DDL)
    setup.execute(RAW_STEP_DDL)
    setup.commit()
    setup.close()
    ph = placeholder
    insert = f"INSERT INTO bench_raw_step VALUES ({ph}, {ph}, {ph}, {ph}, {ph})"
    update = f"UPDATE bench_raw_process SET seq = {ph}, state = {ph}, at = {ph} WHERE id = {ph} RETURNING seq"

    def open_connection() -> tuple[Callable[[int], None], Callable[[], None]]:
        conn = connect()
        pid = str(uuid.uuid4())
        conn.execute(f"INSERT INTO bench_raw_process VALUES ({ph}, 0, {ph}, {ph})", (pid, RAW_STATE, _now()))
        conn.commit()

        def transaction(seq: int) -> None:
            if single:  # autocommit: the statement is its own transaction
                conn.execute(insert, (str(uuid.uuid4()), pid, seq, RAW_STATE, _now()))
                return
            if backend == "sqlite":
                conn.execute("BEGIN IMMEDIATE")
            conn.execute(insert, (str(uuid.uuid4()), pid, seq, RAW_STATE, _now()))
            conn.execute(update, (seq, RAW_STATE, _now(), pid)).fetchall()
            conn.commit()

        return transaction, conn.close

    return _on_connections(backend, RAW, transactions, connections, open_connection)


def orm_baseline(backend: str, engine: Engine, transactions: int, connections: int) -> Result:
    """The ORM step's own work without the engine: a session reads one ``BenchRecord`` by primary key,
    changes it and commits, as plain SQLAlchemy code would (``engine``: orchestrion's, so the pool and
    SQLite's settings are the same).

    What SQLAlchemy's ORM costs by itself: the floor of the ORM row, which does the same in each
    step and adds the checkpoint.
    """

    def open_session_loop() -> tuple[Callable[[int], None], Callable[[], None]]:
        key = str(uuid.uuid4())
        with Session(engine) as session:
            session.add(BenchRecord(key=key, product=RAW, parts=0))
            session.commit()

        def transaction(seq: int) -> None:
            with Session(engine) as session:
                record = session.get(BenchRecord, key)
                assert record is not None
                record.parts = seq
                session.commit()

        return transaction, lambda: None

    return _on_connections(backend, BARE_ORM, transactions, connections, open_session_loop)


def _on_connections(
    backend: str,
    kind: str,
    transactions: int,
    connections: int,
    open_connection: Callable[[], tuple[Callable[[int], None], Callable[[], None]]],
) -> Result:
    """``transactions`` in ``connections`` threads, each running its share of what ``open_connection``
    gives it (a transaction, given its number, and how to close) once all are open."""
    per_connection = max(1, transactions // connections)
    latencies: list[float] = []
    started: list[float] = []
    finished: list[float] = []
    ready = threading.Barrier(connections, action=lambda: started.extend((time.perf_counter(), time.process_time())))

    def worker() -> None:
        transaction, close = open_connection()
        ready.wait()  # the clock starts once every connection is open
        mine = []
        for seq in range(1, per_connection + 1):
            t0 = time.perf_counter()
            transaction(seq)
            mine.append(time.perf_counter() - t0)
        finished.append(time.perf_counter())
        close()
        latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds, cpu = max(finished) - started[0], time.process_time() - started[1]
    mode = "1 at a time" if connections == 1 else f"{connections} concurrent"
    done_tx = per_connection * connections
    return Result(backend, kind, mode, connections, done_tx, seconds, latencies, 1, peak_rss_mib(), cpu)


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


# --- output ---------------------------------------------------------------------------------------

HEADER = (
    f"{'backend':<10} {'workflow':<12} {'mode':<13} {'procs':>6} {'steps':>7} {'wall s':>8} "
    f"{'steps/s':>9} {'ms/step':>8} {'CPU ms':>7} {'limit/s':>8} {'% limit':>8} {'peak RSS MiB':>13}"
)
LABELS = {SEED: "3 steps", TWELVE: "12 steps", TWELVE_ORM: "12 steps ORM", RAW: "raw tx", BARE_ORM: "bare ORM"}


def format_row(r: Result) -> str:
    procs = "-" if r.workflow in (RAW, BARE_ORM) else str(r.processes)
    limit = f"{r.limit_per_s:>8,.0f}" if r.limit_per_s else f"{'-':>8}"
    share = f"{100 * r.share:>7.0f}%" if r.share is not None else f"{'-':>8}"
    return (
        f"{r.backend:<10} {LABELS[r.workflow]:<12} {r.mode:<13} {procs:>6} {r.steps:>7} {r.seconds:>8.2f} "
        f"{r.steps_per_s:>9,.0f} {r.ms_per_step:>8.3f} {r.cpu_ms_per_step:>7.3f} {limit} {share} {r.rss_mib:>13.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="processes per workflow and mode (default 500)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "memory", "all"], default="all")
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the limit (one INSERT in autocommit) and the raw INSERT+UPDATE+COMMIT rows",
    )
    parser.add_argument(
        "--postgres-uri",
        default=DEFAULT_POSTGRES_URI,
        help=f"a dedicated database; its public schema is dropped and recreated (default {DEFAULT_POSTGRES_URI})",
    )
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    configure_logging("WARNING")
    counts = _register()
    backends = ["memory", "sqlite", "postgres"] if args.backend == "all" else [args.backend]

    print(f"Python {sys.version.split()[0]}, {MAX_WORKERS} worker threads, n={args.n} processes per row")
    print(HEADER)
    print("-" * len(HEADER))
    with tempfile.TemporaryDirectory(prefix="orchestrion-bench-") as tmp:
        for backend in backends:
            rows: Iterable[Result]
            if backend == "sqlite":
                raw_target = f"{tmp}/raw.db"
            elif backend == "postgres":
                print(f"# {prepare_postgres(args.postgres_uri)}", flush=True)
                raw_target = make_url(args.postgres_uri).set(drivername="postgresql").render_as_string(False)
            limit: Limit | None = None
            if backend != "memory" and not args.no_baseline:

                def limit(connections: int, transactions: int, target: str = raw_target, name: str = backend) -> Result:
                    return raw_baseline(name, target, transactions, connections, single=True)

            if backend == "memory":
                rows = bench_memory(args.n, counts)
            elif backend == "sqlite":
                rows = bench_persisted("sqlite", f"sqlite:///{tmp}/orchestrion.db", args.n, counts, limit)
            else:
                rows = bench_persisted("postgres", args.postgres_uri, args.n, counts, limit)
            for r in rows:
                print(format_row(r), flush=True)
            if limit is not None:
                for connections in (1, CONCURRENCY):
                    raw = partial(raw_baseline, backend, raw_target, connections=connections)
                    print(format_row(interleaved(limit, connections, raw, 3 * args.n, 1)), flush=True)
    print("-" * len(HEADER))
    print(f"peak RSS of the benchmark process: {peak_rss_mib():.1f} MiB")
    print(
        "steps/s: history rows written / wall time (start_process + run + wait_for_process); ms/step: a process's\n"
        "latency from start_process until wait_for_process returned, per step; limit/s: the cheapest durable step,\n"
        "one INSERT in autocommit with the bare driver (one round trip, one commit), on 1 connection for the rows\n"
        f"run 1 at a time and on 8 for the others, measured in turn with the row ({CHUNKS} parts each);\n"
        "% limit: steps/s as a share of it; CPU ms: CPU time of this Python process (all its threads: the callers\n"
        "and the workers) per step; raw tx: INSERT + UPDATE + COMMIT with the bare driver (steps =\n"
        "transactions), one checkpoint-sized transaction; bare ORM: the ORM row's work in a step (a session reads\n"
        "one row by primary key, changes it and commits) in plain SQLAlchemy, no engine (steps = transactions)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
