"""What the crash tests share: a worker subprocess to kill with SIGKILL, the ``effects`` table, the rows after.

A test starts tests/crash_worker.py (``crash_worker``), waits until a step of it blocks with its
transaction open (it writes a signal file), kills it with SIGKILL and looks at what is committed:
the ``effects`` rows that steps write through their own session exist exactly when their step
committed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from orchestrion.db import Database
from orchestrion.db.models import ProcessStepTable, ProcessTable

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "crash_worker.py"
SIGNAL_TIMEOUT = (
    90.0  # the worker imports the engine (slow on a loaded machine), connects, runs up to the blocking step
)
EXIT_TIMEOUT = 10.0


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@contextmanager
def effects_table(database: Database) -> Iterator[Database]:
    """An empty ``effects`` table (step, process_id) in the test database while the test runs."""

    def ddl(*statements: str) -> None:
        with database.engine.begin() as conn:
            if not database.is_sqlite:
                conn.execute(text("SET LOCAL lock_timeout = '10s'"))  # never hang on a leftover lock
            for statement in statements:
                conn.execute(text(statement))

    ddl("DROP TABLE IF EXISTS effects", "CREATE TABLE effects (step TEXT NOT NULL, process_id TEXT NOT NULL)")
    yield database
    ddl("DROP TABLE IF EXISTS effects")  # the PostgreSQL schema outlives the test


def effects(db: Database) -> list[tuple[str, str]]:
    with db.engine.connect() as conn:
        return sorted((row.step, row.process_id) for row in conn.execute(text("SELECT step, process_id FROM effects")))


def process(db: Database, process_id: uuid.UUID) -> ProcessTable:
    with db.read() as session:
        return session.execute(select(ProcessTable).where(ProcessTable.process_id == process_id)).scalar_one()


def history(db: Database, process_id: uuid.UUID, *columns: str) -> list[tuple[Any, ...]]:
    """The process's history rows in order, each as these columns (default: seq, name, status)."""
    selected = [getattr(ProcessStepTable, c) for c in columns or ("seq", "name", "status")]
    with db.read() as session:
        query = select(*selected).where(ProcessStepTable.process_id == process_id).order_by(ProcessStepTable.seq)
        return [tuple(row) for row in session.execute(query).all()]


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class CrashWorker:
    """A running tests/crash_worker.py; ``kill`` it with SIGKILL once ``wait_for`` saw it block."""

    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc = proc
        self.log = log

    def wait_for(self, predicate: Callable[[], object], what: str) -> None:
        """Wait until ``predicate`` holds; fail, with the worker's output, if the worker exits first."""
        deadline = time.monotonic() + SIGNAL_TIMEOUT
        while not predicate():
            if self.proc.poll() is not None:
                pytest.fail(f"the worker exited ({self.proc.returncode}) before {what}:\n{self.log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"timed out after {SIGNAL_TIMEOUT} s waiting for {what}; the worker:\n{self.log.read_text()}"
                )
            time.sleep(0.02)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=EXIT_TIMEOUT)
        assert self.proc.returncode == -signal.SIGKILL


@contextmanager
def crash_worker(db: Database, tmp_path: Path, *args: str, env: Mapping[str, str]) -> Iterator[CrashWorker]:
    """tests/crash_worker.py with ``args`` on the test's database, ``env`` added; killed at the end if still alive."""
    pythonpath = [str(ROOT), str(ROOT / "src")]
    if existing := os.environ.get("PYTHONPATH"):
        pythonpath.append(existing)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(pythonpath), "CRASH_DATABASE_URI": db.uri, **env}
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), *args], env=environment, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield CrashWorker(proc, log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=EXIT_TIMEOUT)
