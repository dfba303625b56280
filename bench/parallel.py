"""Fan-out benchmark: one parent starts ``--children`` child processes in one step and waits for them all.

The parent is ``init >> Start the children >> Await the children >> done``; ``Start the children``
calls ``start_child`` ``--children`` times (1,000 by default), so every child's row is written in
that step's transaction, and each child is the short process of bench/workers.py (``init >> work
>> done``). It runs with the thread-pool executor (8 threads in this Python process), then with 2
Celery workers (8 threads each, through the broker, Redis by default). Printed, from the rows:

* children/s: the children over the time from the start of ``Start the children`` until the last
  child completed (its ``Done`` row);
* the resumption: from the last child's completion until the woken parent started ``Await the
  children`` again (its ``success`` row's ``started_at``): the wake-up in the last child's
  transaction, the message or the thread pool's queue, and the claim;
* the baseline, in the same run and on the same workers: as many independent top-level processes
  of the same workflow started through ``start_process`` from 4 threads (bench/workers.py's
  throughput), and the ratio of the two rates.

    .venv/bin/python bench/parallel.py
    .venv/bin/python bench/parallel.py --children 200 --database sqlite --executors threadpool
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from orchestrion.db import get_database, init_database
from orchestrion.db.models import ProcessStepTable, ProcessTable
from orchestrion.executors import set_executor
from orchestrion.executors.celery import CeleryExecutor, create_celery_app
from orchestrion.executors.threadpool import ThreadPoolExecutor
from orchestrion.forms import FormPage
from orchestrion.logs import configure_logging
from orchestrion.runtime import current
from orchestrion.services.processes import start_process
from orchestrion.settings import app_settings
from orchestrion.types import State
from orchestrion.workflow import StepList, await_children, done, init, start_child, step, workflow
from orchestrion.workflows import register_workflow
from workers import ALL_QUEUES, DEFAULT_BROKER, ROOT, THREADS, Workers, prepare_postgres, throughput, wait_until

DEFAULT_POSTGRES_URI = "postgresql://postgres@127.0.0.1/orchestrion_bench_parallel"
SPAWN, AWAIT = "Start the children", "Await the children"
TIMEOUT = 600.0


# --- the workflow (the Celery workers import this module as ``parallel``, bench/workers.py as ``workers``) ---


def _fan_out_form() -> Any:
    class FanOutForm(FormPage):
        children: int

    return FanOutForm


@step(SPAWN)
def start_the_children(children: int) -> State:
    for _ in range(children):
        start_child("bench_short")
    return {}


@workflow("Benchmark: start children and wait for them", initial_input_form=_fan_out_form)
def bench_fan_out() -> StepList:
    return init >> start_the_children >> await_children(AWAIT, keep=[]) >> done


register_workflow(bench_fan_out, "bench_fan_out")


# --- the measurement -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FanOut:
    """One fan-out, as its rows tell it."""

    children: int
    spawn_seconds: float  # ``Start the children``: every child's row, in one transaction
    seconds: float  # from the start of ``Start the children`` until the last child completed
    resume_seconds: float  # from the last child's completion until the woken await step started
    waits: int  # the parent's ``awaiting_children`` rows: 1 when it waited once and was woken once

    @property
    def rate(self) -> float:
        return self.children / self.seconds


def fan_out(n: int) -> FanOut:
    """Start the parent with the installed executor, wait until it completed, and read its figures from the rows."""
    parent = start_process("bench_fan_out", [{"children": n}])
    wait_until(lambda: _status(parent) in ("completed", "failed"), "the parent to complete", TIMEOUT)
    if _status(parent) != "completed":
        raise SystemExit(f"the parent failed: {_process(parent).failed_reason}")
    steps, processes = ProcessStepTable, ProcessTable
    with get_database().read() as session:
        rows = session.execute(
            select(steps.name, steps.status, steps.started_at, steps.completed_at)
            .where(steps.process_id == parent)
            .order_by(steps.seq)
        ).all()
        last_done, completed = session.execute(
            select(func.max(steps.completed_at), func.count())
            .join(processes, processes.process_id == steps.process_id)
            .where(processes.parent_process_id == parent, steps.status == "complete")
        ).one()
    if completed != n:
        raise SystemExit(f"{completed} of {n} children completed")
    (spawn,) = [r for r in rows if r.name == SPAWN]
    (woken,) = [r for r in rows if r.name == AWAIT and r.status == "success"]
    return FanOut(
        children=n,
        spawn_seconds=(spawn.completed_at - spawn.started_at).total_seconds(),
        seconds=(last_done - spawn.started_at).total_seconds(),
        resume_seconds=(woken.started_at - last_done).total_seconds(),
        waits=sum(r.name == AWAIT and r.status == "awaiting_children" for r in rows),
    )


def _process(process_id: uuid.UUID) -> ProcessTable:
    with get_database().read() as session:
        found = session.get(ProcessTable, process_id)
        assert found is not None
        return found


def _status(process_id: uuid.UUID) -> str:
    return _process(process_id).last_status


def compare(label: str, n: int, rounds: int) -> None:
    """``rounds`` times: the fan-out, then the baseline, on the installed executor."""
    for _ in range(rounds):
        result = fan_out(n)
        baseline = throughput(n)
        print(
            f"{label}: {n} children {result.rate:.0f}/s (their step {result.spawn_seconds:.2f} s); "
            f"last child completed -> parent resumed {1000 * result.resume_seconds:.0f} ms "
            f"(waited {result.waits}x); baseline {n} top-level processes {baseline:.0f}/s; "
            f"ratio {result.rate / baseline:.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, default=1000, help="children of the parent (default 1000)")
    parser.add_argument("--rounds", type=int, default=2, help="fan-outs (and baselines) per executor (default 2)")
    parser.add_argument("--executors", default="threadpool,celery", help="which to run (default: both)")
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--broker", default=DEFAULT_BROKER, help=f"Celery broker URL (default {DEFAULT_BROKER})")
    parser.add_argument(
        "--postgres-uri",
        default=DEFAULT_POSTGRES_URI,
        help=f"a dedicated database; its public schema is dropped and recreated (default {DEFAULT_POSTGRES_URI})",
    )
    args = parser.parse_args(argv)
    executors = set(args.executors.split(","))
    configure_logging("WARNING")
    work_dir = Path(tempfile.mkdtemp(prefix="orchestrion-bench-parallel-"))
    if args.database == "postgres":
        prepare_postgres(args.postgres_uri)
        uri = args.postgres_uri
    else:
        uri = f"sqlite:///{work_dir / 'bench.db'}"
    init_database(uri)
    app_settings.CELERY_QUEUE_PREFIX = f"bench-{uuid.uuid4().hex[:8]}-"
    print(f"{os.cpu_count()} CPUs; {args.database}")
    workers = Workers(uri, args.broker, work_dir, None, module="parallel")
    workers.env["PYTHONPATH"] += os.pathsep + str(
        ROOT / "bench"
    )  # as this script runs: ``workers`` is bench/workers.py
    try:
        if "threadpool" in executors:
            pool = ThreadPoolExecutor(current(), max_workers=THREADS)
            set_executor(pool)
            compare(f"threadpool ({THREADS} threads)", args.children, args.rounds)
            pool.shutdown()
        if "celery" in executors:
            executor = CeleryExecutor(current(), create_celery_app(app_settings, args.broker))
            set_executor(executor)
            for _ in range(2):
                workers.start(ALL_QUEUES)
            workers.wait_ready(executor, 2)
            compare(f"celery (2 workers x {THREADS} threads)", args.children, args.rounds)
            executor.shutdown()
    finally:
        workers.stop_all()
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
