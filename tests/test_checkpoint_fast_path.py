"""The checkpoint's fast path on both databases: compiled statements on a bare connection when the step
did not use the database, the step's own session when it did; a lost claim rolls back both; pooled
PostgreSQL connections the server closed are replaced without a ping per checkout.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import psycopg
import pytest
from sqlalchemy import event, select, text, update

from orchestrion import db
from orchestrion.db import Database, FastStatement, RawTransaction, get_database
from orchestrion.db.models import ProcessStepTable, ProcessTable
from orchestrion.runtime import current
from orchestrion.services.processes import start_process, wait_for_process
from orchestrion.types import State
from orchestrion.workflow import ProcessStatus, StepList, Workflow, done, init, step, step_group

THIEF = "another-host:1:stolen"


@pytest.fixture
def effects(database: Database) -> Iterator[Callable[[], list[str]]]:
    with database.write() as s:
        s.execute(text("CREATE TABLE IF NOT EXISTS fast_path_effects (name VARCHAR(50))"))
        s.execute(text("DELETE FROM fast_path_effects"))

    def read() -> list[str]:
        with database.read() as s:
            return [r[0] for r in s.execute(text("SELECT name FROM fast_path_effects ORDER BY name"))]

    yield read
    with database.write() as s:
        s.execute(text("DROP TABLE IF EXISTS fast_path_effects"))


def _steal_claim(process_id: str) -> None:
    """Another worker takes the process over while this step runs (in a transaction of its own)."""
    with get_database().write() as s:
        s.execute(update(ProcessTable).where(ProcessTable.process_id == uuid.UUID(process_id)).values(claimed_by=THIEF))


def _record(name: str) -> None:
    db.session().execute(text("INSERT INTO fast_path_effects (name) VALUES (:n)"), {"n": name})


@step("Plain")
def plain() -> State:
    return {"plain": True}


@step("Stolen without effects")
def stolen_without_effects(process_id: str) -> State:
    _steal_claim(process_id)
    return {"stolen": True}


@step("Stolen with effects")
def stolen_with_effects(process_id: str) -> State:
    _steal_claim(process_id)
    _record("stolen")  # opens the step's session: its transaction must be rolled back with the checkpoint
    return {"stolen": True}


@step("With effects")
def with_effects() -> State:
    _record("kept")
    return {"effects": True}


def _history(process_id: uuid.UUID) -> list[tuple[str, str]]:
    with get_database().read() as s:
        rows = s.execute(
            select(ProcessStepTable.name, ProcessStepTable.status)
            .where(ProcessStepTable.process_id == process_id)
            .order_by(ProcessStepTable.seq)
        )
        return [(r.name, r.status) for r in rows]


def _process(process_id: uuid.UUID) -> ProcessTable:
    with get_database().read() as s:
        p = s.get(ProcessTable, process_id)
        assert p is not None
        return p


@pytest.mark.parametrize("stolen", [stolen_without_effects, stolen_with_effects], ids=["bare", "session"])
def test_a_checkpoint_whose_claim_was_lost_writes_nothing(
    register: Callable[[str, StepList], Workflow], effects: Callable[[], list[str]], stolen: object
) -> None:
    assert isinstance(stolen, type(plain))
    register("fp_stolen", init >> plain >> stolen >> done)

    process_id = start_process("fp_stolen")

    p = _process(process_id)
    assert _history(process_id) == [("Start", "success"), ("Plain", "success")]
    assert (p.claimed_by, p.last_step, p.seq, p.last_row_key) == (THIEF, "Plain", 2, "Plain")
    assert p.state.get("stolen") is None and p.state["plain"] is True
    assert effects() == []


def test_step_effects_commit_with_the_checkpoint(
    register: Callable[[str, StepList], Workflow], effects: Callable[[], list[str]]
) -> None:
    register("fp_effects", init >> plain >> with_effects >> done)

    process_id = start_process("fp_effects")

    assert wait_for_process(process_id, 5) == ProcessStatus.COMPLETED
    assert effects() == ["kept"]
    assert _history(process_id) == [
        ("Start", "success"),
        ("Plain", "success"),
        ("With effects", "success"),
        ("Done", "complete"),
    ]
    assert _process(process_id).seq == 4


@step("Sub one")
def sub_one() -> State:
    return {"sub_one": 1}


@step("Sub two")
def sub_two() -> State:
    _record("sub two")
    return {"sub_two": 2}


def test_a_group_row_is_updated_in_place_on_both_paths(
    register: Callable[[str, StepList], Workflow], effects: Callable[[], list[str]]
) -> None:
    register("fp_group", init >> step_group("Group", sub_one >> sub_two) >> done)

    process_id = start_process("fp_group")

    assert wait_for_process(process_id, 5) == ProcessStatus.COMPLETED
    assert _history(process_id) == [("Start", "success"), ("Group", "success"), ("Done", "complete")]
    with get_database().read() as s:
        state = s.execute(
            select(ProcessStepTable.state).where(ProcessStepTable.process_id == process_id, ProcessStepTable.seq == 2)
        ).scalar_one()
    assert (state["sub_one"], state["sub_two"]) == (1, 2)
    assert effects() == ["sub two"]


def test_a_raw_transaction_commits_or_rolls_back(database: Database, effects: Callable[[], list[str]]) -> None:
    statement = FastStatement(text("INSERT INTO fast_path_effects (name) VALUES (:n)"))
    tx = RawTransaction(database)
    try:
        statement.run(tx, {"n": "rolled back"})
    finally:
        tx.close()  # not committed: handed back to the pool, rolled back
    tx = RawTransaction(database)
    try:
        statement.run(tx, {"n": "committed"})
        tx.commit()
    finally:
        tx.close()
    assert effects() == ["committed"]


def test_last_status_of_an_unknown_process_raises(database: Database) -> None:
    from orchestrion.errors import ProcessNotFoundError

    with pytest.raises(ProcessNotFoundError):
        current().store.last_status(uuid.uuid4())


def test_pooled_connections_closed_by_the_server_are_replaced(
    database: Database, register: Callable[[str, StepList], Workflow]
) -> None:
    if database.is_sqlite:
        pytest.skip("PostgreSQL connections only")
    register("fp_reconnect", init >> plain >> done)
    assert wait_for_process(start_process("fp_reconnect"), 5) == ProcessStatus.COMPLETED
    with ExitStack() as stack:  # several pooled connections, all of which the server will close
        connections = [stack.enter_context(database.engine.connect()) for _ in range(3)]
        pids = [c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in connections]
    _close_on_the_server(database, pids)

    for _ in range(3):  # every pooled connection that was closed is noticed and replaced, none fails a call
        assert wait_for_process(start_process("fp_reconnect"), 5) == ProcessStatus.COMPLETED


def _close_on_the_server(database: Database, pids: list[int]) -> None:
    """Terminate these backends and wait until the server has closed them (as a restart would)."""
    url = database.engine.url.set(drivername="postgresql", query={})
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
        deadline = time.monotonic() + 5
        while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)).fetchone() != (0,):
            assert time.monotonic() < deadline, "the server did not close the connections"
            time.sleep(0.01)


def _checkouts(database: Database) -> Callable[[], int]:
    """How many connections the pool has handed out since this was called."""
    counted = [0]

    def count(*_: object) -> None:
        counted[0] += 1

    event.listen(database.engine, "checkout", count)
    return lambda: counted[0]


def test_a_run_of_bare_steps_checkpoints_on_one_connection_and_hands_it_back(
    database: Database, register: Callable[[str, StepList], Workflow]
) -> None:
    """The pool is not asked once per step: the checkpoints of a run share a connection, returned at its end,
    and handed back before a step's own session takes one (a worker holds one connection at a time)."""
    if database.is_sqlite:
        pytest.skip("one-statement checkpoints are PostgreSQL's")
    register("fp_short", init >> plain >> done)
    register("fp_long", init >> plain >> plain_again >> plain_again_2 >> plain_again_3 >> done)
    register("fp_session", init >> plain >> counting_connections >> plain_again >> done)
    for name in ("fp_short", "fp_long"):  # warm: statements compiled, workflow rows written
        assert wait_for_process(start_process(name), 5) == ProcessStatus.COMPLETED

    checkouts = _checkouts(database)
    assert wait_for_process(start_process("fp_short"), 5) == ProcessStatus.COMPLETED
    short = checkouts()
    assert wait_for_process(start_process("fp_long"), 5) == ProcessStatus.COMPLETED
    assert checkouts() - short == short  # three steps more, no connection more
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]

    session = start_process("fp_session")
    assert wait_for_process(session, 5) == ProcessStatus.COMPLETED
    assert _process(session).state["checked_out"] == 1
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def _take_every_place(database: Database) -> int:
    taken = 0
    while database.may_keep():
        taken += 1
    return taken


def test_a_run_keeps_no_connection_when_the_databases_places_for_kept_ones_are_taken(
    database: Database, register: Callable[[str, StepList], Workflow]
) -> None:
    """At most half the pool is kept between steps (long steps would hold them idle): beyond that a run's
    checkpoints take a connection and hand it back each, and a run gives its place back when it ends."""
    if database.is_sqlite:
        pytest.skip("one-statement checkpoints are PostgreSQL's")
    register("fp_short_2", init >> plain >> done)
    register("fp_long_2", init >> plain >> plain_again >> plain_again_2 >> plain_again_3 >> done)
    for name in ("fp_short_2", "fp_long_2"):
        assert wait_for_process(start_process(name), 5) == ProcessStatus.COMPLETED
    places = _take_every_place(database)
    assert places >= 1
    try:
        checkouts = _checkouts(database)
        assert wait_for_process(start_process("fp_short_2"), 5) == ProcessStatus.COMPLETED
        short = checkouts()
        assert wait_for_process(start_process("fp_long_2"), 5) == ProcessStatus.COMPLETED
        assert checkouts() - short == short + 3  # one connection more for each of the three steps more
    finally:
        for _ in range(places):
            database.kept_released()
    assert wait_for_process(start_process("fp_long_2"), 5) == ProcessStatus.COMPLETED
    taken = _take_every_place(database)  # the run gave its place back
    for _ in range(taken):
        database.kept_released()
    assert taken == places


@step("Counting connections")
def counting_connections() -> State:
    db.session().execute(text("SELECT 1"))
    return {"checked_out": get_database().engine.pool.checkedout()}  # type: ignore[attr-defined]


@step("Plain again 2")
def plain_again_2() -> State:
    return {"again_2": True}


@step("Plain again 3")
def plain_again_3() -> State:
    return {"again_3": True}


@step("Plain again")
def plain_again() -> State:
    return {"again": True}


_HANDED_OUT: set[int] = set()  # backend pids of the connections the pool handed out in the test below


@step("Server closes the connections")
def server_closes_the_connections() -> State:
    """Between two checkpoints the server closes the connections this test's pool handed out (a restart, say)."""
    _close_on_the_server(get_database(), list(_HANDED_OUT))
    _record("ran")
    return {"closed": True}


def test_a_kept_connection_the_server_closed_is_replaced_and_the_step_not_run_again(
    database: Database, register: Callable[[str, StepList], Workflow], effects: Callable[[], list[str]]
) -> None:
    if database.is_sqlite:
        pytest.skip("PostgreSQL connections only")
    register("fp_closed", init >> plain >> server_closes_the_connections >> plain_again >> done)
    _HANDED_OUT.clear()

    def handed_out(dbapi_connection: psycopg.Connection[object], *_: object) -> None:
        _HANDED_OUT.add(dbapi_connection.info.backend_pid)

    event.listen(database.engine, "checkout", handed_out)
    process_id = start_process("fp_closed")

    assert wait_for_process(process_id, 5) == ProcessStatus.COMPLETED
    assert effects() == ["ran"]
    assert [name for name, _ in _history(process_id)][2:] == ["Server closes the connections", "Plain again", "Done"]
