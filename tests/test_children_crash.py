"""Crash safety of child processes and parallel branches: a real worker is killed with SIGKILL, then taken over.

The worker (tests/crash_worker.py, a subprocess) runs a workflow of tests/children_crash_workflow.py
and blocks in a step with its transaction open; the test kills it, checks what was committed,
and lets this process take over (``recover``): everything completes, no child is started twice,
no step's effect (the ``effects`` rows each step writes in its own transaction) is doubled, and a
waiting parent is woken once.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update
from tests import children_crash_workflow
from tests.children_crash_workflow import BLOCK_ENV, BRANCHES, CHILDREN, SIGNAL_DIR_ENV, SPAWNER
from tests.crash_support import crash_worker, effects, effects_table, history, process, wait_until
from tests.crash_workflow import crash_recovery

from orchestrion.db import Database
from orchestrion.db.models import ProcessTable
from orchestrion.executors import set_executor
from orchestrion.executors.threadpool import ThreadPoolExecutor
from orchestrion.runtime import current
from orchestrion.services.processes import recover
from orchestrion.storage.claims import renew_leases

RUN_TIMEOUT = 60.0  # the taken-over processes run to their end (seconds on an idle machine)


@pytest.fixture
def effects_db(database: Database) -> Iterator[Database]:
    """The test database with an empty ``effects`` table and the test's workflows registered."""
    children_crash_workflow.register()
    with effects_table(database):
        yield database


def _blocking(tmp_path: Path, point: str) -> dict[str, str]:
    """The worker's environment: block at ``point``, signalling in ``tmp_path/signals``."""
    (tmp_path / "signals").mkdir()
    return {BLOCK_ENV: point, SIGNAL_DIR_ENV: str(tmp_path / "signals")}


def _blocked(tmp_path: Path, point: str) -> list[uuid.UUID]:
    """The processes whose step blocked at ``point``."""
    return sorted(uuid.UUID(p.name.removeprefix(f"{point}-").removesuffix(".json")) for p in _signals(tmp_path, point))


def _signals(tmp_path: Path, point: str) -> list[Path]:
    return list((tmp_path / "signals").glob(f"{point}-*.json"))  # not the half-written ``.json.partial``


def _children(db: Database, parent: uuid.UUID) -> list[ProcessTable]:
    with db.read() as session:
        query = select(ProcessTable).where(ProcessTable.parent_process_id == parent)
        return list(session.execute(query.order_by(ProcessTable.started_at)).scalars())


def _actions(db: Database, process_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return history(db, process_id, "name", "created_by", "action")


def _steps(db: Database, process_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return history(db, process_id, "name", "status")


def test_a_worker_killed_in_the_step_starting_children_leaves_none_and_the_takeover_starts_each_once(
    effects_db: Database, tmp_path: Path
) -> None:
    db = effects_db
    with crash_worker(db, tmp_path, SPAWNER, env=_blocking(tmp_path, "spawn")) as worker:
        worker.wait_for(lambda: _signals(tmp_path, "spawn"), "'Start children' to block")
        (parent,) = _blocked(tmp_path, "spawn")
        # the step has started its children in its open transaction: none of them is committed
        assert _children(db, parent) == []
        worker.kill()

    row = process(db, parent)
    assert (row.last_status, row.cursor) == ("running", ["Start children"])
    assert _children(db, parent) == []
    assert effects(db) == []

    assert recover() == [parent]  # inline: the step again, its children once it committed, then the wait

    row = process(db, parent)
    assert row.last_status == "completed", row.failed_reason
    kids = _children(db, parent)
    assert [k.last_status for k in kids] == ["completed"] * CHILDREN
    assert sorted(k.state["number"] for k in kids) == list(range(CHILDREN))
    assert sorted(str(k.process_id) for k in kids) == sorted(row.state["started"])
    assert sorted(r["state"]["doubled"] for r in row.state["children"]) == [2 * n for n in range(CHILDREN)]
    assert effects(db) == sorted(
        [("spawn", str(parent))] + [(f"child {k.state['number']}", str(k.process_id)) for k in kids]
    )
    assert _steps(db, parent) == [
        ("Start", "success"),
        ("Start children", "success"),
        ("Await children", "success"),
        ("Done", "complete"),
    ]
    assert [action for _, _, action in _actions(db, parent)] == ["start", "takeover", "takeover", "takeover"]
    assert recover() == []  # nothing is left in flight


@pytest.mark.parametrize(
    ("blocked", "other_at_the_kill"),
    [("port-a", "created"), ("port-b", "completed")],
    ids=["the other branch not started yet", "the other branch completed"],
)
def test_a_worker_killed_in_a_parallel_branch_step_the_branch_is_taken_over_and_the_parent_joins_once(
    effects_db: Database, tmp_path: Path, blocked: str, other_at_the_kill: str
) -> None:
    db = effects_db
    # inline: the branches run one after the other in the worker, port A first
    with crash_worker(db, tmp_path, BRANCHES, env=_blocking(tmp_path, blocked)) as worker:
        worker.wait_for(lambda: _signals(tmp_path, blocked), f"{blocked} to block")
        worker.kill()

    (branch,) = _blocked(tmp_path, blocked)
    parent = process(db, branch).parent_process_id
    assert parent is not None
    row = process(db, parent)
    assert (row.last_status, row.claimed_by) == ("awaiting_children", None)  # no worker held it
    branches = {k.branch: k for k in _children(db, parent)}
    a, b = branches['["Ports", "Provision port A"]'], branches['["Ports", "Provision port B"]']
    (killed, step_name), other = ((a, "Provision port A"), b) if blocked == "port-a" else ((b, "Provision port B"), a)
    assert (killed.process_id, killed.last_status, killed.cursor) == (branch, "running", [step_name])
    assert other.last_status == other_at_the_kill
    assert effects(db) == ([] if blocked == "port-a" else [("port a", str(a.process_id))])

    recovered = recover()  # inline: the killed branch (then the one not started); the last to end wakes the parent

    assert sorted(recovered) == sorted([branch] + ([other.process_id] if other_at_the_kill == "created" else []))
    row = process(db, parent)
    assert row.last_status == "completed", row.failed_reason
    assert row.state["ports"] == "a+b"
    assert _steps(db, parent) == [
        ("Start", "success"),
        ("Ports", "awaiting_children"),
        ("Ports", "success"),
        ("Check ports", "success"),
        ("Done", "complete"),
    ]
    assert _actions(db, parent)[2][1:] == ("SYSTEM", "children")  # the join: woken by the last branch to end
    assert effects(db) == sorted([("port a", str(a.process_id)), ("port b", str(b.process_id)), ("check", str(parent))])
    for name, kid in (("Provision port A", a), ("Provision port B", b)):
        assert _steps(db, kid.process_id) == [("Start", "success"), (name, "success"), ("Done", "complete")]
    assert [action for name, _, action in _actions(db, branch) if name.startswith("Provision")] == ["takeover"]
    assert recover() == []


def test_a_worker_killed_while_the_children_run_the_waiting_parent_is_woken_once(
    effects_db: Database, tmp_path: Path
) -> None:
    db = effects_db
    odd = CHILDREN // 2

    def parent_waits_on_the_blocked_children() -> bool:
        blocked = _blocked(tmp_path, "odd-children")
        if len(blocked) < odd:
            return False
        parent = process(db, blocked[0]).parent_process_id
        assert parent is not None
        completed = [k for k in _children(db, parent) if k.last_status == "completed"]
        return process(db, parent).last_status == "awaiting_children" and len(completed) == CHILDREN - odd

    # a thread pool: the children run at the same time, the odd ones block in their step
    threads = str(CHILDREN + 1)
    with crash_worker(db, tmp_path, SPAWNER, "--threads", threads, env=_blocking(tmp_path, "odd-children")) as worker:
        worker.wait_for(parent_waits_on_the_blocked_children, "the parent to wait on the blocked children")
        worker.kill()

    blocked = _blocked(tmp_path, "odd-children")
    parent = process(db, blocked[0]).parent_process_id
    assert parent is not None
    assert (process(db, parent).last_status, process(db, parent).claimed_by) == ("awaiting_children", None)
    kids = {k.process_id: k for k in _children(db, parent)}
    assert sorted(k.process_id for k in kids.values() if k.last_status == "running") == blocked
    evens = sorted((f"child {k.state['number']}", str(pid)) for pid, k in kids.items() if pid not in blocked)
    assert effects(db) == sorted([*evens, ("spawn", str(parent))])

    set_executor(ThreadPoolExecutor(current(), max_workers=CHILDREN))  # the survivor (the runtime shuts it down)
    assert sorted(recover()) == blocked  # the children the dead worker ran; the parent holds no claim to take over
    wait_until(lambda: process(db, parent).last_status == "completed", RUN_TIMEOUT, "the parent to complete")

    assert _steps(db, parent) == [
        ("Start", "success"),
        ("Start children", "success"),
        ("Await children", "awaiting_children"),
        ("Await children", "success"),
        ("Done", "complete"),
    ]
    assert _actions(db, parent)[3][1:] == ("SYSTEM", "children")
    assert len(process(db, parent).state["children"]) == CHILDREN
    assert effects(db) == sorted(
        [("spawn", str(parent))] + [(f"child {k.state['number']}", str(pid)) for pid, k in kids.items()]
    )
    for pid in blocked:
        assert _steps(db, pid) == [("Start", "success"), ("Child work", "success"), ("Done", "complete")]
        assert _actions(db, pid)[1][2] == "takeover"


@pytest.mark.postgres
def test_a_heartbeat_renewing_a_parent_and_its_child_does_not_deadlock_with_the_childs_last_checkpoint(
    postgres_db: Database,
) -> None:
    """The child's last checkpoint holds its own row, then locks its parent's (to wake it); the heartbeat
    of the worker running both renews their leases meanwhile, the parent's first."""
    db, worker, lease = postgres_db, "heartbeat-test:1:1", timedelta(hours=1)
    parent, child = uuid.UUID(int=1 << 64), uuid.UUID(int=(1 << 128) - 1)  # in this order in the table and the index
    for process_id in (parent, child):
        state = {"process_id": str(process_id)}
        current().store.create_process(crash_recovery, state, {}, "test", worker_id=worker, lease=lease)
    failures: list[BaseException] = []

    def beat() -> None:
        try:
            renew_leases(db, worker, [parent, child], lease)
        except BaseException as e:
            failures.append(e)

    def waits_for(backend: int) -> bool:  # a new connection each time: pg_stat_activity is read once a transaction
        with db.engine.connect() as observer:
            query = "SELECT count(*) FROM pg_stat_activity WHERE CAST(:me AS int) = ANY(pg_blocking_pids(pid))"
            return bool(observer.execute(text(query), {"me": backend}).scalar_one())

    with db.engine.connect() as last_checkpoint:
        last_checkpoint.execute(text("SET lock_timeout = '10s'"))
        last_checkpoint.execute(update(ProcessTable).where(ProcessTable.process_id == child).values(seq=1))
        me = last_checkpoint.execute(text("SELECT pg_backend_pid()")).scalar_one()
        heartbeat = threading.Thread(target=beat)
        heartbeat.start()
        wait_until(lambda: waits_for(me), RUN_TIMEOUT, "the heartbeat to wait for the child's row")
        wake = select(ProcessTable.process_id).where(ProcessTable.process_id == parent).with_for_update()
        last_checkpoint.execute(wake)  # as wake_parent does
        last_checkpoint.commit()
    heartbeat.join(RUN_TIMEOUT)
    assert failures == []
    assert not heartbeat.is_alive()
