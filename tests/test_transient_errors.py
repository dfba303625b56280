"""An infrastructure error in a step (a lost connection, a deadlock, a held lock) is not the step's failure.

The step's transaction rolled back with everything it wrote, so the engine runs the step again
once the database answers, and the process carries on by itself; nothing is written twice. An
error of the step's own making still fails it.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from tests.conftest import POSTGRES_URI
from tests.process_support import history

from orchestrion import db
from orchestrion.app import OrchestratorCore
from orchestrion.db import Database, get_database, open_database
from orchestrion.engine import runner
from orchestrion.engine.outcomes import Outcome
from orchestrion.engine.status import ProcessStatus
from orchestrion.engine.steps import Step, step_group
from orchestrion.runtime import current
from orchestrion.storage.checkpoints import DbJournal
from orchestrion.testing import (
    ProcessStat,
    WorkflowInstanceForTests,
    assert_complete,
    assert_failed,
    extract_error,
    extract_state,
    run_workflow,
)
from orchestrion.types import State
from orchestrion.workflow import Workflow, done, init, step

TRIES: dict[str, int] = {}
PG_HOST, PG_PORT = make_url(POSTGRES_URI).host or "127.0.0.1", make_url(POSTGRES_URI).port or 5432


@pytest.fixture
def effects() -> Iterator[Callable[[], int]]:
    """A table of the test's own that steps write their effect into; the count of its rows."""
    database = get_database()
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS transient_effects (n INTEGER)"))
        connection.execute(text("DELETE FROM transient_effects"))
    TRIES.clear()

    def count() -> int:
        with database.engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM transient_effects")).scalar_one())

    yield count
    with database.engine.begin() as connection:
        connection.execute(text("DROP TABLE transient_effects"))


def _first_try(name: str) -> bool:
    TRIES[name] = TRIES.get(name, 0) + 1
    return TRIES[name] == 1


def _write_effect() -> None:
    db.session().execute(text("INSERT INTO transient_effects (n) VALUES (1)"))


def _terminate_own_backend() -> None:
    backend = db.session().execute(text("SELECT pg_backend_pid()")).scalar_one()
    with psycopg.connect(POSTGRES_URI, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend,))


@step("Lose the connection in the middle")
def lose_connection_mid_step() -> State:
    _write_effect()
    if _first_try("mid"):
        _terminate_own_backend()
    db.session().execute(text("SELECT 1"))  # the first time: the server closed the connection
    return {"tries": TRIES["mid"]}


@step("Lose the connection before the checkpoint")
def lose_connection_before_checkpoint() -> State:
    _write_effect()
    if _first_try("checkpoint"):
        _terminate_own_backend()  # the step ends well; its checkpoint meets the closed connection
    return {"tries": TRIES["checkpoint"]}


def conflict_once(sqlstate: str) -> Step:
    """A step whose first try meets the database error ``sqlstate`` (raised by the server itself)."""

    @step("Conflict once")
    def conflict() -> State:
        _write_effect()
        if _first_try("conflict"):
            db.session().execute(text(f"DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '{sqlstate}'; END $$"))
        return {"tries": TRIES["conflict"]}

    return conflict


@step("Meet a held lock once")
def meet_held_lock_once() -> State:
    _write_effect()  # this step's transaction now holds SQLite's write lock
    if _first_try("locked"):
        path = db.session().get_bind().url.database
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # "database is locked": as a writer whose busy timeout ran out
        finally:
            other.close()
    return {"tries": TRIES["locked"]}


@step("Query a missing table")
def query_missing_table() -> State:
    TRIES["missing"] = TRIES.get("missing", 0) + 1
    db.session().execute(text("SELECT * FROM no_such_table"))
    return {}


@step("Afterwards")
def afterwards() -> State:
    _write_effect()
    return {"after": True}


def _run(body: Step, form_input: State) -> tuple[Outcome, ProcessStat]:
    wf = Workflow("transient", "Transient errors", init >> body >> afterwards >> done)
    with WorkflowInstanceForTests(wf, "transient"):
        result, process, _ = run_workflow("transient", [form_input])
    return result, process


@pytest.mark.postgres
@pytest.mark.parametrize("body", [lose_connection_mid_step, lose_connection_before_checkpoint])
def test_a_lost_connection_runs_the_step_again(postgres_db: Database, effects: Callable[[], int], body: Step) -> None:
    result, process = _run(body, {})
    assert_complete(result)
    assert extract_state(result)["tries"] == 2
    assert effects() == 2  # the step's effect once, the next step's once: the lost try left nothing
    assert [status for _, status in history(process.process_id)] == ["success", "success", "success", "complete"]


@pytest.mark.postgres
@pytest.mark.parametrize("sqlstate", ["40001", "40P01"], ids=["serialization failure", "deadlock"])
def test_a_serialization_failure_or_deadlock_runs_the_step_again(
    postgres_db: Database, effects: Callable[[], int], sqlstate: str
) -> None:
    result, process = _run(conflict_once(sqlstate), {})
    assert_complete(result)
    assert extract_state(result)["tries"] == 2
    assert effects() == 2
    assert "failed" not in [status for _, status in history(process.process_id)]


def test_a_held_sqlite_lock_runs_the_step_again(sqlite_db: Database, effects: Callable[[], int]) -> None:
    result, _ = _run(meet_held_lock_once, {})
    assert_complete(result)
    assert extract_state(result)["tries"] == 2
    assert effects() == 2


def test_an_error_of_the_steps_own_making_fails_it_once(database: Database, effects: Callable[[], int]) -> None:
    result, process = _run(query_missing_table, {})
    assert_failed(result)
    assert "no_such_table" in (extract_error(result) or "")
    assert TRIES["missing"] == 1
    assert history(process.process_id)[-1] == ("Query a missing table", "failed")


@step("Part one")
def part_one() -> State:
    _write_effect()
    return {"part_one": True}


@step("Part two")
def part_two() -> State:
    db.session().execute(text("INSERT INTO transient_effects (n) VALUES (2)"))
    return {"part_two": True}


def test_a_group_part_whose_commit_landed_unseen_is_not_run_again(
    database: Database, effects: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A COMMIT that lost its connection may have landed. A later part of a step group writes no new history
    row (it rewrites the group's), so the process's ``seq`` alone cannot tell: the group row's hash does."""
    lost: BaseException = (
        sqlite3.OperationalError("database is locked")
        if database.is_sqlite
        else psycopg.OperationalError("server closed the connection unexpectedly")
    )
    commits = 0
    real_commit = DbJournal.commit

    def commit_then_lose_the_answer(self: DbJournal) -> None:
        nonlocal commits
        before = self._before
        real_commit(self)
        commits += 1
        if commits == 3:  # the group's second part (the first wrote its row): committed, but the worker hears an error
            self._before = before  # as a COMMIT that raised leaves the journal
            raise OperationalError("COMMIT", {}, lost)

    monkeypatch.setattr(DbJournal, "commit", commit_then_lose_the_answer)
    wf = Workflow("ambiguous", "An unseen commit", init >> step_group("Parts", part_one >> part_two) >> done)
    with WorkflowInstanceForTests(wf, "ambiguous"):
        _, process, _ = run_workflow("ambiguous", [{}])
        current().executor.submit(process.process_id, resume=True)  # the released process runs on
        assert current().store.last_status(process.process_id) == ProcessStatus.COMPLETED
    with database.engine.connect() as connection:
        written = connection.execute(text("SELECT n, count(*) FROM transient_effects GROUP BY n ORDER BY n"))
        assert [tuple(row) for row in written] == [(1, 1), (2, 1)]  # part two's effect once, not twice


def test_the_api_answers_503_while_the_database_is_unreachable() -> None:
    unreachable = Database("postgresql://postgres@127.0.0.1:1/nowhere")  # nothing listens on port 1
    client = TestClient(OrchestratorCore(database=unreachable), raise_server_exceptions=False)
    try:
        for path in ("/api/processes/", "/api/subscriptions/", "/api/workflows/"):
            answer = client.get(path)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.json()["type"] == "DatabaseUnavailableError"
            assert answer.headers["retry-after"]
        health = client.get("/api/health/")
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable" and health.json()["database"] != "OK"
    finally:
        unreachable.dispose()


@step("Lock itself out")
def lock_itself_out() -> State:
    TRIES["self"] = TRIES.get("self", 0) + 1
    _write_effect()
    path = db.session().get_bind().url.database
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # every time: the step's own transaction holds the lock
    finally:
        other.close()
    return {}


def test_a_step_that_meets_the_same_database_error_every_time_fails_with_it(
    sqlite_db: Database, effects: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "MAX_INFRASTRUCTURE_TRIES", 3)
    result, process = _run(lock_itself_out, {})
    assert_failed(result)
    assert "database is locked" in (extract_error(result) or "")
    assert TRIES["self"] == 4  # three tries waited out, the fourth recorded
    assert effects() == 0
    assert history(process.process_id)[-1] == ("Lock itself out", "failed")


class LateProxy:
    """A TCP port that refuses connections until ``open()``, then forwards them to PostgreSQL."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._listener: socket.socket | None = None

    def open(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((PG_HOST, PG_PORT))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()


@pytest.mark.postgres
def test_a_starting_service_waits_for_the_database_one_shot_commands_do_not(postgres_uri: str) -> None:
    proxy = LateProxy()
    uri = make_url(postgres_uri).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        with pytest.raises(OperationalError):  # a one-shot command says at once that it cannot connect
            open_database(uri)
        opened = threading.Timer(1.0, proxy.open)  # the database comes back a moment after the service started
        opened.start()
        database = open_database(uri, wait=True)
        with database.read() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
        database.dispose()
        opened.join()
    finally:
        proxy.close()
