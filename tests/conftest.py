"""Fixtures: a fresh, migrated database per test, on SQLite always and on PostgreSQL when reachable.

PostgreSQL comes from ``ORCHESTRION_TEST_POSTGRES_URI`` (default: the local server's ``test``
database); each pytest-xdist worker gets its own schema. Tests marked ``postgres`` (and the
PostgreSQL half of the ``database`` fixture) are skipped when the server cannot be reached.
"""

from __future__ import annotations

import os

# Tests drive the scheduler explicitly; apps built in tests run none in the background.
os.environ.setdefault("SCHEDULER_ENABLED", "false")
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import inspect, text
from tests.browser import pytest_terminal_summary  # noqa: F401 - a hook: the browser tests that did not run

from orchestrion.db import Database
from orchestrion.db.migrate import upgrade
from orchestrion.db.models import Base
from orchestrion.executors.inline import InlineExecutor
from orchestrion.logs import configure_logging
from orchestrion.runtime import Runtime, install
from orchestrion.scheduler import tasks
from orchestrion.scheduler.tasks import BUILT_IN_TASKS
from orchestrion.storage.workflow_rows import ensure_workflow_row
from orchestrion.targets import Target
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.workflow import StepList, Workflow

POSTGRES_URI = os.environ.get("ORCHESTRION_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ORCHESTRION_TEST_REDIS_URL", "redis://127.0.0.1:6379")

configure_logging("WARNING")


def _postgres_reachable() -> bool:
    try:
        psycopg.connect(POSTGRES_URI, connect_timeout=2).close()
    except psycopg.Error:
        return False
    return True


@pytest.fixture(scope="session")
def worker_name(worker_id: str) -> str:
    return worker_id if worker_id != "master" else "main"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per test session; each test gets a copy (migrations run once)."""
    path = tmp_path_factory.mktemp("template") / "orchestrion.db"
    database = Database(f"sqlite:///{path}")
    upgrade(database)
    database.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The tests' PostgreSQL URI (``ORCHESTRION_TEST_POSTGRES_URI``), as a superuser; skips when unreachable."""
    if not _postgres_reachable():
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URI}")
    return POSTGRES_URI


@pytest.fixture(scope="session")
def postgres_uri(postgres_server: str, worker_name: str) -> Iterator[str]:
    """A migrated schema of its own for this test process (xdist worker), dropped at the end."""
    schema = f"orchestrion_{worker_name}_{os.getpid()}"
    with psycopg.connect(POSTGRES_URI, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in POSTGRES_URI else "?"
    uri = f"{POSTGRES_URI}{sep}options=-csearch_path%3D{schema},public"  # public: where extensions live
    database = Database(uri)
    upgrade(database)
    database.dispose()
    yield uri
    with psycopg.connect(POSTGRES_URI, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _install(database: Database) -> Iterator[Database]:
    """The test's runtime: this database, processes run inline in the caller's thread."""
    runtime = Runtime(database, executor=InlineExecutor())
    previous = install(runtime)
    try:
        yield database
    finally:
        install(previous)
        runtime.close()
        database.dispose()


@pytest.fixture
def sqlite_db(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "orchestrion.db"
    shutil.copyfile(sqlite_template, path)
    yield from _install(Database(f"sqlite:///{path}"))


@pytest.fixture
def postgres_db(postgres_uri: str) -> Iterator[Database]:
    database = Database(postgres_uri)
    with database.engine.begin() as conn:
        present = set(inspect(conn).get_table_names())  # tests may add tables of their own to the metadata
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables if t.name in present - {"engine_settings"})
        conn.execute(text(f"TRUNCATE {tables} CASCADE"))
        conn.execute(text("UPDATE engine_settings SET global_lock = false"))
    with database.write() as session:  # the built-in workflows' rows, as migrations 0006 and 0008 leave them
        ensure_workflow_row(session, "modify_note", Target.MODIFY, description="Modify note", is_task=False)
        for name in BUILT_IN_TASKS:
            ensure_workflow_row(session, name, Target.SYSTEM, description=getattr(tasks, name).description)
    yield from _install(database)


@pytest.fixture
def redis_server() -> str:
    """The tests' Redis server (``ORCHESTRION_TEST_REDIS_URL``), no database number; skips when unreachable."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    return REDIS_URL.rstrip("/")


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The Redis broker URL of the tests (database 15); tests keep apart by queue names (``CELERY_QUEUE_PREFIX``)."""
    return f"{redis_server}/15"


@pytest.fixture
def queue_prefix(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Broker queues of this test's own (``CELERY_QUEUE_PREFIX``), removed from Redis afterwards."""
    import redis

    from orchestrion.settings import app_settings

    prefix = f"test-{os.urandom(4).hex()}-"
    monkeypatch.setattr(app_settings, "CELERY_QUEUE_PREFIX", prefix)
    yield prefix
    client = redis.Redis.from_url(redis_url)
    if keys := client.keys(f"*{prefix}*"):  # the queues and kombu's bindings of them
        client.delete(*keys)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Database:
    """The process store on each backend: every test using it runs on SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_db")


@pytest.fixture
def register(database: Database) -> Iterator[Callable[..., Workflow]]:
    """Register workflows for one test (a CREATE workflow unless told otherwise); unregistered at teardown."""
    with ExitStack() as stack:

        def _register(
            name: str, steps: StepList, *, target: Target = Target.CREATE, form: Callable[..., Any] | None = None
        ) -> Workflow:
            wf = Workflow(name, f"Test workflow {name}", steps, target=target, initial_input_form=form)
            return stack.enter_context(WorkflowInstanceForTests(wf, name))

        yield _register
