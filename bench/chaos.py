"""Chaos suite: processes with counted effects while workers, servers, database connections and the broker fail.

For each executor (``--executor celery|threadpool|both``) on a PostgreSQL database of its own
(``chaos_<pid>``, created and dropped here), real subprocesses run the ``chaos`` workflow
(bench/chaos_workflow.py: three steps, each committing one effect row with its checkpoint):

* ``threadpool``: ``--workers`` API servers (``orchestrion run``), each its own worker;
* ``celery``: one API server and ``--workers`` ``orchestrion worker`` processes on Redis
  (``--broker``: a Redis database nothing else uses, its clients are disconnected on purpose).

``--n`` processes are started through the HTTP API, spread evenly over ``--duration`` seconds,
while the harness injects faults, one at a time, at moments drawn from ``random.Random(--seed)``
(every kind once per round, in a seeded order): ``kill -9`` of a worker or a server (started again
at once; a kill waits until every service is up, so that there is someone to take over),
``pg_terminate_backend`` of every connection to the database, ``CLIENT KILL`` of every connection
to the broker's database, and a pause of the engine through the API (``PUT /api/settings/status``),
continued after a moment. Then it waits (at most ``--settle`` seconds) until every process has
ended and checks:

* no process stuck (not completed, failed or aborted in time), none failed (the workflow cannot
  fail by itself; failures that look like infrastructure are counted apart), no acknowledged start
  missing from the database;
* exactly one effect per step of every completed process (none lost, none duplicated) and none
  without its step's checkpoint;
* takeover: from each kill until each process the killed worker had claimed runs a step again
  (the step rows' ``started_at``; time the engine was paused meanwhile is left out); the 99th
  percentile within twice the lease.

HTTP answers are counted: 5xx (a 503 refusing a start because the engine is paused is counted
apart, and retried), refused connections (retried: nothing reached a server), connections lost
mid-request and requests unanswered within 10 s. Starts carry an ``Idempotency-Key``, so one whose
fate is unknown is retried: the retry answers the first attempt's process, and a start is never
doubled. Prints a table, and for each kill how long its processes took to run again;
exits 1 when a target is missed (keeping the services' logs), else 0.

    .venv/bin/python bench/chaos.py --n 500 --executor both
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import psycopg
import redis
from sqlalchemy.engine import make_url

from chaos_workflow import EFFECT_STEPS, EFFECTS_DDL, STEP_SECONDS_ENV, WORKFLOW_NAME  # bench/, the script's directory
from orchestrion.db import Database
from orchestrion.db.migrate import upgrade
from workers import wait_until

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_POSTGRES_URI = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_BROKER = "redis://127.0.0.1:6379/13"
HARNESS = "orchestrion-chaos-harness"  # application_name of this harness's connections: never terminated
MODULE = "bench.chaos_workflow"
STEP_SECONDS = 0.5  # longest sleep in a step: a few processes are always in the middle of one
THREADS = 4  # per worker or server, and the clients starting processes
TIMEOUT = 10.0  # seconds an HTTP request may take
PATIENCE = 60.0  # seconds a request keeps retrying what is safe to retry
TERMINAL = ("completed", "failed", "aborted")
IN_FLIGHT = ("created", "running", "resumed")
INFRASTRUCTURE = re.compile(
    r"OperationalError|InterfaceError|AdminShutdown|terminating connection|server closed the connection|"
    r"connection (is )?(closed|lost)|could not connect|consuming input failed",
    re.IGNORECASE,
)


@dataclass
class Kill:
    at: float
    what: str
    in_flight: list[str]  # processes the killed worker had claimed
    again: list[float | None] = field(default_factory=list)  # for each: seconds until it ran a step again


@dataclass
class Result:
    """What one executor's run found; ``missed`` names the targets it missed."""

    executor: str
    lease: float
    began: float  # when the faults began (epoch seconds)
    faults: dict[str, int]
    http: dict[str, int]
    starts_answered: int
    processes: int
    statuses: dict[str, int]
    failed_by_infrastructure: int
    failure_reasons: dict[str, int]
    started_but_missing: int
    stuck: int
    lost_effects: int
    duplicated_effects: int
    effects_without_checkpoint: int
    kills: list[Kill]
    settled: float  # seconds from the end of the faults until every process had ended (or the deadline)
    missed: list[str] = field(default_factory=list)

    @property
    def takeovers(self) -> list[float]:
        return [t for kill in self.kills for t in kill.again if t is not None]

    @property
    def not_running_again(self) -> int:
        return sum(1 for kill in self.kills for t in kill.again if t is None)

    @property
    def failed_otherwise(self) -> int:
        return self.statuses.get("failed", 0) - self.failed_by_infrastructure

    @property
    def takeover_p99(self) -> float | None:
        if self.not_running_again:
            return math.inf
        if not self.takeovers:
            return None
        ordered = sorted(self.takeovers)
        return ordered[math.ceil(0.99 * len(ordered)) - 1]

    def check(self) -> None:
        p99 = self.takeover_p99
        checks = {
            "stuck": self.stuck == 0,
            "started but missing": self.started_but_missing == 0,
            "failed by infrastructure": self.failed_by_infrastructure == 0,
            "failed otherwise": self.failed_otherwise == 0,
            "lost effects": self.lost_effects == 0,
            "duplicated effects": self.duplicated_effects == 0,
            "effects without checkpoint": self.effects_without_checkpoint == 0,
            "takeover p99": p99 is None or p99 <= 2 * self.lease,
        }
        self.missed = [name for name, ok in checks.items() if not ok]


# --- the services ------------------------------------------------------------------------------


class Service:
    """A server or worker subprocess that can be killed with SIGKILL and started again, logging to one file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], work_dir: Path) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.work_dir = work_dir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.work_dir / f"{self.name}.log").open("ab") as log:
            self.proc = subprocess.Popen(
                self.command, env=self.env, cwd=self.work_dir, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def claim_prefix(self) -> str:
        """How the worker ids of this process begin (``host:pid:``), as its claims in the database show."""
        assert self.proc is not None
        return f"{socket.gethostname()}:{self.proc.pid}:"

    def check_running(self) -> None:
        """A service that exited by itself ends the run at once, with the end of its log."""
        if self.proc is not None and (code := self.proc.poll()) is not None:
            tail = (self.work_dir / f"{self.name}.log").read_text(errors="replace").splitlines()[-15:]
            raise SystemExit(f"{self.name} exited ({code}) by itself; the end of its log:\n" + "\n".join(tail))

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


class Api:
    """HTTP calls to the API servers (in turn), counting the answers; retries only what cannot double an effect."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.http = httpx.Client(timeout=TIMEOUT, limits=httpx.Limits(max_keepalive_connections=0))  # no stale sockets
        self.counts: Counter[str] = Counter()
        self._turn = 0
        self._lock = threading.Lock()

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def _url(self) -> str:
        with self._lock:
            self._turn += 1
            return self.urls[self._turn % len(self.urls)]

    def call(self, method: str, path: str, *, retry_unknown: bool, **kwargs: Any) -> httpx.Response | None:
        """The answer, or None when the request may or may not have been handled (not retried unless
        ``retry_unknown``) or nothing answered within ``PATIENCE``."""
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            try:
                response = self.http.request(method, self._url() + path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                self._count("connection refused (retried)")  # nothing reached a server
                time.sleep(0.1)
                continue
            except httpx.TimeoutException:
                self._count(f"no answer within {TIMEOUT:g} s")
                if not retry_unknown:
                    return None
                continue
            except httpx.TransportError:
                self._count("connection lost mid-request")
                if not retry_unknown:
                    return None
                continue
            if response.status_code == 503 and "EnginePausedError" in response.text:
                self._count("503 engine paused (retried)")  # refused before anything was done
                time.sleep(0.2)
                continue
            if response.status_code >= 500:
                self._count("5xx")
                if not retry_unknown:
                    return None
                continue
            self._count(f"{response.status_code}")
            return response
        return None

    def wait_healthy(self, url: str, server: Service) -> None:
        def healthy() -> bool:
            server.check_running()
            try:
                return self.http.get(url + "/api/health/").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, f"the server at {url}")

    def start(self) -> str | None:
        """Start one ``chaos`` process; its id, or None when the start was not acknowledged."""
        response = self.call(
            "POST",
            f"/api/processes/{WORKFLOW_NAME}",
            json=[{}],
            headers={"Idempotency-Key": str(uuid.uuid4())},
            retry_unknown=True,  # the key makes a retry answer the first attempt's process: never a second one
        )
        return str(response.json()["id"]) if response is not None and response.status_code == 201 else None

    def set_paused(self, paused: bool) -> None:
        response = self.call("PUT", "/api/settings/status", json={"global_lock": paused}, retry_unknown=True)
        if response is None or response.status_code != 200:
            raise SystemExit(f"could not {'pause' if paused else 'continue'} the engine: {response}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """The servers and workers of one executor's run, on the run's database and broker."""

    def __init__(self, executor: str, args: argparse.Namespace, uri: str, prefix: str, work_dir: Path) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
            "DATABASE_URI": uri,
            "EXECUTOR": executor,
            "CELERY_BROKER_URL": args.broker,
            "CELERY_QUEUE_PREFIX": prefix,
            "PROCESS_LEASE_SECONDS": str(args.lease),
            "RECOVERY_GRACE_SECONDS": str(args.lease),
            "MAX_WORKERS": str(THREADS),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",  # a killed service's log is complete
            STEP_SECONDS_ENV: str(STEP_SECONDS),
        }
        cli = [sys.executable, "-m", "orchestrion.cli"]
        ports = [_free_port() for _ in range(args.workers if executor == "threadpool" else 1)]
        self.servers = [
            Service(f"{executor}-server-{i}", [*cli, "run", "-i", MODULE, "--port", str(port)], env, work_dir)
            for i, port in enumerate(ports)
        ]
        self.workers = [
            Service(f"celery-worker-{i}", [*cli, "worker", "-i", MODULE, "--concurrency", str(THREADS)], env, work_dir)
            for i in range(args.workers if executor == "celery" else 0)
        ]
        self.api = Api([f"http://127.0.0.1:{port}" for port in ports])

    def start(self) -> None:
        for service in [*self.servers, *self.workers]:
            service.start()
        self.wait_ready()

    def wait_ready(self) -> None:
        """Until every server answers its health check and every worker answers the servers' status question."""
        for url, server in zip(self.api.urls, self.servers, strict=True):
            self.api.wait_healthy(url, server)
        if self.workers:
            wait_until(lambda: self._workers_online() >= len(self.workers), "the Celery workers")

    def _workers_online(self) -> int:
        response = self.api.call("GET", "/api/settings/worker-status", retry_unknown=True)
        return int(response.json()["number_of_workers_online"]) if response is not None else 0

    def stop(self) -> None:
        for service in [*self.servers, *self.workers]:
            service.kill()
        self.api.http.close()


# --- the faults --------------------------------------------------------------------------------


class Faults:
    """Injects faults at seeded random moments, every kind once in each round (in a seeded random order), and
    records the kills and the pauses."""

    def __init__(self, cluster: Cluster, db: psycopg.Connection[Any], args: argparse.Namespace) -> None:
        self.cluster = cluster
        self.db = db
        self.broker = args.broker
        self.lease = args.lease
        self.rng = random.Random(args.seed)
        self.kills: list[Kill] = []
        self.pauses: list[tuple[float, float]] = []
        self.counts: Counter[str] = Counter()
        self.began = time.time()
        self.actions: dict[str, Callable[[], None]] = {
            "kill -9 server": lambda: self._kill(self.rng.choice(cluster.servers)),
            "terminate database backends": self._terminate_backends,
            "pause and continue": self._pause,
        }
        if cluster.workers:
            self.actions["kill -9 worker"] = lambda: self._kill(self.rng.choice(cluster.workers))
            self.actions["disconnect broker clients"] = self._disconnect_broker

    def run(self, duration: float) -> None:
        self.began = time.time()
        end = time.monotonic() + duration
        round_: list[str] = []
        while (pause := self.rng.uniform(0.5, 1.5) * self.lease) < end - time.monotonic():
            time.sleep(pause)
            if not round_:
                round_ = self.rng.sample(list(self.actions), len(self.actions))
            kind = round_.pop()
            self.actions[kind]()
            self.counts[kind] += 1

    def _kill(self, service: Service) -> None:
        """SIGKILL, then start it again; only when all are up, so the others can take over (the time measured)."""
        self.cluster.wait_ready()
        prefix = service.claim_prefix
        at = time.time()
        service.kill()
        in_flight = self.db.execute(
            "SELECT process_id::text FROM processes WHERE claimed_by LIKE %s AND last_status = ANY(%s)",
            (prefix + "%", list(IN_FLIGHT)),
        ).fetchall()
        self.kills.append(Kill(at, service.name, [row[0] for row in in_flight]))
        service.start()

    def _terminate_backends(self) -> None:
        self.db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND application_name <> %s",
            (HARNESS,),
        )

    def _disconnect_broker(self) -> None:
        client = redis.Redis.from_url(self.broker)
        try:
            me, db = str(client.client_id()), str(_redis_db(self.broker))
            for c in client.client_list():
                if str(c["db"]) == db and str(c["id"]) != me:
                    client.client_kill_filter(_id=c["id"])
        finally:
            client.close()

    def _pause(self) -> None:
        began = time.time()
        self.cluster.api.set_paused(True)
        time.sleep(self.rng.uniform(0.2, 1.0) * self.lease)
        self.cluster.api.set_paused(False)
        self.pauses.append((began, time.time()))

    def paused_between(self, start: float, end: float) -> float:
        return sum(max(0.0, min(end, e) - max(start, s)) for s, e in self.pauses)


def _redis_db(url: str) -> int:
    return int(urlparse(url).path.strip("/") or 0)


# --- one run -----------------------------------------------------------------------------------


def _start_all(api: Api, n: int, window: float) -> list[str]:
    """Start ``n`` processes, evenly spread over ``window`` seconds; the ids of the acknowledged starts."""
    began = time.monotonic()

    def start(i: int) -> str | None:
        time.sleep(max(0.0, began + i * window / n - time.monotonic()))
        return api.start()

    with concurrent.futures.ThreadPoolExecutor(THREADS) as clients:
        return [pid for pid in clients.map(start, range(n)) if pid is not None]


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _chaos_processes(db: psycopg.Connection[Any]) -> list[tuple[str, str, str | None]]:
    return db.execute(
        "SELECT p.process_id::text, p.last_status, p.failed_reason FROM processes p "
        "JOIN workflows w ON w.workflow_id = p.workflow_id WHERE w.name = %s",
        (WORKFLOW_NAME,),
    ).fetchall()


def _measure_takeovers(db: psycopg.Connection[Any], faults: Faults) -> None:
    """For each kill, the seconds until each process the killed worker had in flight ran a step again (None: never)."""
    for kill in faults.kills:
        for process_id in kill.in_flight:
            starts = db.execute("SELECT started_at FROM process_steps WHERE process_id = %s", (process_id,))
            after = [t for t in (_epoch(row[0]) for row in starts) if t > kill.at]
            again = min(after, default=None)
            kill.again.append(None if again is None else again - kill.at - faults.paused_between(kill.at, again))


def _count(db: psycopg.Connection[Any], sql: str, *params: object) -> int:
    return int(db.execute(sql, params).fetchone()[0])  # type: ignore[index]


def run_one(executor: str, args: argparse.Namespace, work_dir: Path) -> Result:
    """One executor's run on a database of its own (dropped afterwards)."""
    name = f"chaos_{os.getpid()}"
    server = make_url(args.postgres_uri).set(drivername="postgresql")
    uri = server.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    prefix = f"chaos-{os.getpid()}-{executor}-"
    cluster = Cluster(executor, args, uri, prefix, work_dir)
    try:
        database = Database(uri)
        upgrade(database)  # here, so that the services need not take turns migrating it
        database.dispose()
        with psycopg.connect(uri, autocommit=True, application_name=HARNESS) as db:
            db.execute(EFFECTS_DDL)
            cluster.start()
            faults = Faults(cluster, db, args)
            starter = concurrent.futures.ThreadPoolExecutor(1)
            started = starter.submit(_start_all, cluster.api, args.n, args.duration)
            faults.run(args.duration)
            acknowledged = started.result()
            starter.shutdown()
            settling = time.monotonic()
            deadline = settling + args.settle
            while any(s not in TERMINAL for _, s, _ in _chaos_processes(db)) and time.monotonic() < deadline:
                time.sleep(0.25)
            return _result(executor, args, db, cluster.api, faults, acknowledged, time.monotonic() - settling)
    finally:
        cluster.stop()
        with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        client = redis.Redis.from_url(args.broker)
        if keys := client.keys(f"*{prefix}*"):  # the queues and kombu's bindings of them
            client.delete(*keys)
        client.close()


def _result(
    executor: str,
    args: argparse.Namespace,
    db: psycopg.Connection[Any],
    api: Api,
    faults: Faults,
    acked: list[str],
    settled: float,
) -> Result:
    processes = _chaos_processes(db)
    failed = [reason or "" for _, status, reason in processes if status == "failed"]
    reasons = Counter(reason.strip().split("\n")[0][:240] for reason in failed)
    completed = "SELECT process_id FROM processes WHERE last_status = 'completed'"
    _measure_takeovers(db, faults)
    result = Result(
        executor=executor,
        lease=args.lease,
        began=faults.began,
        faults=dict(faults.counts),
        http=dict(api.counts),
        starts_answered=len(acked),
        processes=len(processes),
        statuses=dict(Counter(status for _, status, _ in processes)),
        failed_by_infrastructure=sum(1 for reason in failed if INFRASTRUCTURE.search(reason)),
        failure_reasons=dict(reasons),
        started_but_missing=len(set(acked) - {pid for pid, _, _ in processes}),
        stuck=sum(1 for _, status, _ in processes if status not in TERMINAL),
        lost_effects=_count(
            db,
            f"SELECT count(*) FROM ({completed}) p CROSS JOIN unnest(%s::text[]) s(step) WHERE NOT EXISTS "
            "(SELECT 1 FROM chaos_effects e WHERE e.process_id = p.process_id AND e.step = s.step)",
            list(EFFECT_STEPS),
        ),
        duplicated_effects=_count(
            db,
            "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM chaos_effects GROUP BY process_id, step) e",
        ),
        effects_without_checkpoint=_count(
            db,
            "SELECT count(*) FROM chaos_effects e WHERE NOT EXISTS (SELECT 1 FROM process_steps s "
            "WHERE s.process_id = e.process_id AND s.name = e.step AND s.status = 'success')",
        ),
        kills=faults.kills,
        settled=settled,
    )
    result.check()
    return result


# --- the report --------------------------------------------------------------------------------


def _rows(result: Result) -> dict[str, str]:
    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    return {
        "processes started (201 answers)": str(result.starts_answered),
        "processes in the database": str(result.processes),
        "completed": str(result.statuses.get("completed", 0)),
        "failed by infrastructure": str(result.failed_by_infrastructure),
        "failed otherwise": str(result.failed_otherwise),
        "stuck (not ended by the deadline)": str(result.stuck),
        "started but missing": str(result.started_but_missing),
        "lost effects": str(result.lost_effects),
        "duplicated effects": str(result.duplicated_effects),
        "effects without checkpoint": str(result.effects_without_checkpoint),
        "seconds to end all after the faults": f"{result.settled:.1f}",
        "kills with processes in flight": str(sum(1 for kill in result.kills if kill.in_flight)),
        "takeover max (s)": seconds(max(result.takeovers, default=None)),
        "takeover p99 (s)": seconds(result.takeover_p99),
        "5xx answers": str(result.http.get("5xx", 0)),
        "503 engine paused (retried)": str(result.http.get("503 engine paused (retried)", 0)),
        "connections refused (retried)": str(result.http.get("connection refused (retried)", 0)),
        "connections lost mid-request": str(result.http.get("connection lost mid-request", 0)),
        f"no answer within {TIMEOUT:g} s": str(result.http.get(f"no answer within {TIMEOUT:g} s", 0)),
    }


TARGETS = {
    "failed by infrastructure": "0",
    "failed otherwise": "0",
    "stuck (not ended by the deadline)": "0",
    "started but missing": "0",
    "lost effects": "0",
    "duplicated effects": "0",
    "effects without checkpoint": "0",
    "takeover p99 (s)": "<= 2 x lease",
}


def report(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        f"chaos: N {args.n} per executor, seed {args.seed}, {args.duration:g} s of faults, lease {args.lease:g} s, "
        f"{args.workers} Celery workers or thread-pool servers; {os.cpu_count()} CPUs"
    ]
    tables = [_rows(r) for r in results]
    width = max(len(label) for label in tables[0])
    lines.append(f"{'':{width}}" + "".join(f"{r.executor:>12}" for r in results) + "   target")
    for label in tables[0]:
        cells = "".join(f"{table[label]:>12}" for table in tables)
        lines.append(f"{label:{width}}{cells}   {TARGETS.get(label, '')}".rstrip())
    for r in results:
        faults = ", ".join(f"{kind} x{n}" for kind, n in sorted(r.faults.items()))
        lines.append(f"\n{r.executor}: faults: {faults}")
        for kill in r.kills:
            again = ", ".join("never" if t is None else f"{t:.2f}" for t in kill.again) or "nothing in flight"
            lines.append(f"  kill -9 {kill.what} at +{kill.at - r.began:.1f} s: ran again after (s): {again}")
        for reason, n in sorted(r.failure_reasons.items(), key=lambda item: -item[1]):
            lines.append(f"  failed x{n}: {reason}")
        lines.append(f"  targets missed: {', '.join(r.missed)}" if r.missed else "  all targets met")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="processes per executor (default 500)")
    parser.add_argument("--seed", type=int, default=16, help="seed of the fault moments and kinds (default 16)")
    parser.add_argument("--executor", choices=["celery", "threadpool", "both"], default="both")
    parser.add_argument("--duration", type=float, default=120, help="seconds of faults and starts (default 120)")
    parser.add_argument("--lease", type=float, default=3, help="PROCESS_LEASE_SECONDS and grace (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers, or thread-pool servers (default 2)")
    parser.add_argument("--settle", type=float, default=60, help="seconds to wait for the processes to end (60)")
    parser.add_argument("--broker", default=DEFAULT_BROKER, help=f"a Redis database for this only ({DEFAULT_BROKER})")
    parser.add_argument(
        "--postgres-uri", default=DEFAULT_POSTGRES_URI, help="the PostgreSQL server (a superuser; any database)"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    if not args.broker.startswith("redis://") or _redis_db(args.broker) == 0:
        parser.error("--broker must be a Redis database other than 0: its clients are disconnected on purpose")
    executors = ["celery", "threadpool"] if args.executor == "both" else [args.executor]
    work_dir = Path(tempfile.mkdtemp(prefix="orchestrion-chaos-"))
    results = [run_one(executor, args, work_dir) for executor in executors]
    print(report(results, args))
    if args.json:
        args.json.write_text(json.dumps([{**asdict(r), "takeover_p99": r.takeover_p99} for r in results], indent=2))
    if any(r.missed for r in results):
        print(f"logs: {work_dir}")
        return 1
    shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
