"""The process store's contract: what the memory store and the SQL store (SQLite, PostgreSQL) both promise.

Every test runs on each store and drives it through ``ProcessStore`` only, with the runner on the
store's journal. What a test reads besides (input rows, a few process columns: leases, retries,
deadlines) comes from the helpers below, which read the SQL tables or the memory store's records.
Time is a clock moved by hand: leases lapse and retries and deadlines come due without sleeping.
"""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from orchestrion.db.models import InputStateTable, ProcessStepTable, ProcessTable
from orchestrion.engine.answers import answer_callback, answer_input
from orchestrion.engine.clock import using_clock
from orchestrion.engine.outcomes import Outcome
from orchestrion.engine.retry import RetryPolicy
from orchestrion.engine.runner import Signals, make_record, run
from orchestrion.engine.serialization import roundtrip
from orchestrion.engine.steps import AwaitCallbackStep
from orchestrion.errors import (
    EnginePausedError,
    InvalidCallbackTokenError,
    NotAwaitingCallbackError,
    ProcessConflictError,
    ProcessNotFoundError,
)
from orchestrion.forms import SubmitFormPage
from orchestrion.storage.claims import Claim
from orchestrion.storage.memory_store import MemoryProcessStore
from orchestrion.storage.protocol import ProcessStore
from orchestrion.storage.sql_store import SqlProcessStore
from orchestrion.storage.steering import ProcessSnapshot
from orchestrion.storage.workflow_rows import ensure_workflow_row
from orchestrion.targets import Target
from orchestrion.types import FormGenerator, State
from orchestrion.workflow import (
    Abort,
    AwaitingCallback,
    Complete,
    ProcessStatus,
    StepList,
    Success,
    Suspend,
    Waiting,
    Workflow,
    callback_step,
    done,
    init,
    inputstep,
    retrystep,
    step,
    step_group,
)

W1, W2, W3 = "worker-host:1:one", "worker-host:2:two", "worker-host:3:three"  # not this host: never "dead"
LEASE = timedelta(seconds=30)
POLICY = RetryPolicy(base_seconds=10, max_delay_seconds=3600, max_attempts=3, random=lambda: 0.0)  # delays 5s, 10s


# --- the clock and the stores -----------------------------------------------------------------


class HandClock:
    """A clock that stands still until the test moves it."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Iterator[HandClock]:
    hand = HandClock()
    with using_clock(hand):
        yield hand


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, clock: HandClock) -> ProcessStore:
    if request.param == "memory":
        return MemoryProcessStore()
    return SqlProcessStore(request.getfixturevalue(f"{request.param}_db"))


# --- reading what the protocol does not return ------------------------------------------------


def step_rows(store: ProcessStore, process_id: uuid.UUID) -> list[tuple[str, str, State]]:
    """The history rows in order: (name, status, state)."""
    return store.history(process_id)


def history(store: ProcessStore, process_id: uuid.UUID) -> list[tuple[str, str]]:
    return [(name, status) for name, status, _ in store.history(process_id)]


def actors(store: ProcessStore, process_id: uuid.UUID) -> list[tuple[str, str | None, str | None]]:
    """(name, created_by, action) of every history row, in order: who caused the run that wrote it, and how."""
    if isinstance(store, MemoryProcessStore):
        return [(r.name, r.created_by, r.action) for r in store.process(process_id).steps]
    assert isinstance(store, SqlProcessStore)
    st = ProcessStepTable
    with store.db.read() as s:
        query = select(st.name, st.created_by, st.action).where(st.process_id == process_id).order_by(st.seq)
        return [(r.name, r.created_by, r.action) for r in s.execute(query)]


def inputs(store: ProcessStore, process_id: uuid.UUID) -> list[tuple[str, State]]:
    """The input rows in order: (input type, input)."""
    if isinstance(store, MemoryProcessStore):
        return store.inputs(process_id)
    assert isinstance(store, SqlProcessStore)
    i = InputStateTable
    with store.db.read() as s:
        found = s.execute(select(i.input_type, i.input_state).where(i.process_id == process_id).order_by(i.input_time))
        return [(r.input_type, r.input_state) for r in found]


def columns(store: ProcessStore, process_id: uuid.UUID, *names: str) -> tuple[Any, ...]:
    """Columns of the process row (the memory store's records are named like the columns)."""
    if isinstance(store, MemoryProcessStore):
        kept = store.process(process_id)
        return tuple(getattr(kept, name) for name in names)
    assert isinstance(store, SqlProcessStore)
    with store.db.read() as s:
        query = select(*(getattr(ProcessTable, name) for name in names)).where(ProcessTable.process_id == process_id)
        return tuple(s.execute(query).one())


def column(store: ProcessStore, process_id: uuid.UUID, name: str) -> Any:
    return columns(store, process_id, name)[0]


def mark_as_task(store: ProcessStore, wf: Workflow) -> None:
    """What the catalogue does: the workflow's row says its processes are tasks, whatever its target."""
    if isinstance(store, MemoryProcessStore):
        store.set_is_task(wf.name, True)
        return
    assert isinstance(store, SqlProcessStore)
    with store.db.write() as s:
        ensure_workflow_row(s, wf.name, wf.target, is_task=True)


# --- starting and running ---------------------------------------------------------------------


def workflow(name: str, steps: StepList, target: Target = Target.CREATE) -> Workflow:
    return Workflow(name, f"Contract workflow {name}", steps, target=target)


def start(store: ProcessStore, wf: Workflow, worker: str | None = W1, lease: timedelta = LEASE) -> Claim:
    state, _ = roundtrip({"process_id": uuid.uuid4(), "workflow_name": wf.name})
    return store.create_process(wf, state, {"given": "initial"}, "tester", worker_id=worker, lease=lease)


def drive(store: ProcessStore, wf: Workflow, claim: Claim, should_stop: Callable[[], bool] | None = None) -> Outcome:
    """Run a claimed process until it stops, as a worker does."""
    journal = store.journal(claim, should_stop)
    try:
        return run(
            wf,
            claim.cursor,
            claim.state,
            journal,
            is_task=claim.is_task,
            retries=claim.retry_count,
            retry_policy=POLICY,
        )
    finally:
        journal.close()


def retry(store: ProcessStore, process_id: uuid.UUID, worker: str = W1) -> Claim:
    """A retry (by a person or the retry task): resumed at the failed step, nothing completed."""
    return store.resume(store.get(process_id), None, {}, "tester", worker_id=worker, lease=LEASE)


@step("One")
def one() -> State:
    return {"one": 1}


@step("Two")
def two(one: int) -> State:
    return {"two": one + 1}


@inputstep("Ask")
def ask() -> FormGenerator:
    class AskForm(SubmitFormPage):
        answer: str

    given = yield AskForm
    return given.model_dump()


@step("Send order")
def send_order(callback_route: str) -> State:
    return {"order_sent": True}


@step("Check delivery")
def check_delivery(callback_result: dict[str, Any]) -> State:
    return {"delivered": callback_result["status"] == "delivered"}


def callback_workflow(name: str = "contract_callback") -> Workflow:
    order = callback_step("Order", action_step=send_order, validate_step=check_delivery, timeout=60)
    return workflow(name, init >> order >> done)


def deliver(store: ProcessStore, wf: Workflow, seen: ProcessSnapshot, token: str, data: Any) -> Claim:
    """A callback delivery, as the service makes it: the record completing the wait, and the token."""
    assert seen.cursor is not None
    wait = wf.step_at(seen.cursor)
    assert isinstance(wait, AwaitCallbackStep)
    result = {wait.result_key: data}
    record = answer_callback(wf, seen.cursor, wait, seen.state, result, is_task=seen.is_task)
    return store.resume(
        seen, record, result, "callback", worker_id=W1, lease=LEASE, fingerprint=wf.fingerprint, callback_token=token
    )


# --- running and the history ------------------------------------------------------------------


def test_a_run_to_completion_writes_one_history_row_per_step_in_order(store: ProcessStore) -> None:
    wf = workflow("contract_plain", init >> one >> two >> done)
    claim = start(store, wf)
    assert store.last_status(claim.process_id) == ProcessStatus.CREATED

    outcome = drive(store, wf, claim)

    assert isinstance(outcome, Complete)
    assert history(store, claim.process_id) == [
        ("Start", "success"),
        ("One", "success"),
        ("Two", "success"),
        ("Done", "complete"),
    ]
    seen = store.get(claim.process_id)
    assert (seen.status, seen.cursor, seen.seq, seen.workflow_name) == (ProcessStatus.COMPLETED, None, 4, wf.name)
    assert (seen.state["one"], seen.state["two"], seen.state["process_id"]) == (1, 2, str(claim.process_id))
    assert store.last_status(claim.process_id) == ProcessStatus.COMPLETED
    assert columns(store, claim.process_id, "claimed_by", "lease_until") == (None, None)
    assert inputs(store, claim.process_id) == [("initial_state", {"given": "initial"})]


@step("Sub one")
def sub_one() -> State:
    return {"sub_one": 1}


@step("Sub two")
def sub_two(sub_one: int) -> State:
    return {"sub_two": sub_one + 1}


def test_a_step_group_is_one_history_row_that_its_sub_steps_update(store: ProcessStore) -> None:
    wf = workflow("contract_group", init >> step_group("Group", sub_one >> sub_two) >> done)
    claim = start(store, wf)

    assert isinstance(drive(store, wf, claim), Complete)

    rows = step_rows(store, claim.process_id)
    assert [(name, status) for name, status, _ in rows] == [
        ("Start", "success"),
        ("Group", "success"),
        ("Done", "complete"),
    ]
    assert (rows[1][2]["sub_one"], rows[1][2]["sub_two"]) == (1, 2)
    assert store.get(claim.process_id).seq == 3


def test_a_failed_group_sub_step_fails_the_group_row_and_its_retry_starts_a_new_one(store: ProcessStore) -> None:
    attempts: list[int] = []

    @step("Flaky sub")
    def flaky_sub() -> State:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("not yet")
        return {"flaky": "fixed"}

    wf = workflow("contract_group_retry", init >> step_group("Group", sub_one >> flaky_sub) >> done)
    claim = start(store, wf)

    assert drive(store, wf, claim).isfailed()
    seen = store.get(claim.process_id)
    assert (seen.status, seen.cursor) == (ProcessStatus.FAILED, ("Group", "Flaky sub"))
    assert "flaky" not in seen.state and seen.state["sub_one"] == 1  # a failed step keeps the state it had
    assert (seen.failed_reason, column(store, claim.process_id, "failed_reason")) == ("not yet", "not yet")
    assert seen.traceback is not None and "ValueError: not yet" in seen.traceback
    rows = step_rows(store, claim.process_id)
    assert [(name, status) for name, status, _ in rows] == [("Start", "success"), ("Group", "failed")]
    assert rows[1][2] == {"class": "ValueError", "error": "not yet"}

    assert isinstance(drive(store, wf, retry(store, claim.process_id)), Complete)
    assert history(store, claim.process_id) == [
        ("Start", "success"),
        ("Group", "failed"),
        ("Group", "success"),
        ("Done", "complete"),
    ]
    assert (store.get(claim.process_id).failed_reason, store.get(claim.process_id).traceback) == (None, None)


# --- claims and leases ------------------------------------------------------------------------


def test_a_lease_is_taken_over_once_it_lapses_and_the_old_holders_checkpoint_is_not_kept(
    store: ProcessStore, clock: HandClock
) -> None:
    wf = workflow("contract_lease", init >> one >> done)
    first = start(store, wf, worker=W1, lease=timedelta(seconds=10))

    assert store.claim(first.process_id, W2, LEASE) is None
    clock.advance(9)
    assert store.claim(first.process_id, W2, LEASE) is None
    clock.advance(2)
    taken = store.claim(first.process_id, W2, LEASE)

    assert taken is not None
    assert (taken.worker_id, taken.cursor, taken.seq, taken.workflow_name) == (W2, ("Start",), 0, wf.name)
    assert (taken.fingerprint, taken.is_task) == (wf.fingerprint, False)
    assert (taken.user, taken.action) == ("SYSTEM", "takeover")  # the rows it writes name the takeover
    assert column(store, first.process_id, "created_by") == "tester"
    assert column(store, first.process_id, "claimed_by") == W2
    assert column(store, first.process_id, "lease_until") == clock.now + LEASE
    assert store.claim(first.process_id, W1, LEASE) is None  # now W2's lease holds

    with store.journal(first).step() as tx:  # W1 comes back from a long pause and checkpoints its step
        record = make_record(wf, ("Start",), wf.step_at(("Start",)), Success(first.state), clock.now, is_task=False)[0]
        assert tx.checkpoint(record) == Signals(kept=False)
    assert isinstance(drive(store, wf, first), Success)  # the runner stops at the first checkpoint not kept
    assert history(store, first.process_id) == []
    assert (store.get(first.process_id).status, first.seq, first.last_row_key) == (ProcessStatus.CREATED, 0, None)

    assert isinstance(drive(store, wf, taken), Complete)
    assert history(store, first.process_id) == [("Start", "success"), ("One", "success"), ("Done", "complete")]


def test_one_of_many_workers_claiming_at_once_gets_a_process_and_only_while_it_is_in_flight(
    store: ProcessStore, clock: HandClock
) -> None:
    wf = workflow("contract_claimable", init >> one >> done)
    unclaimed = start(store, wf, worker=None)
    assert column(store, unclaimed.process_id, "claimed_by") is None
    together = threading.Barrier(6)

    def claim_it(worker: str) -> Claim | None:
        with using_clock(clock):  # a thread starts with no clock of its own
            together.wait()
            return store.claim(unclaimed.process_id, worker, LEASE)

    with ThreadPoolExecutor(6) as pool:
        claims = [c for c in pool.map(claim_it, [f"worker-host:{n}:racer" for n in range(6)]) if c is not None]

    assert len(claims) == 1 and claims[0].state["workflow_name"] == wf.name
    assert column(store, unclaimed.process_id, "claimed_by") == claims[0].worker_id
    assert isinstance(drive(store, wf, claims[0]), Complete)
    assert store.claim(unclaimed.process_id, W2, LEASE) is None  # completed: nothing to run
    assert store.claim(uuid.uuid4(), W2, LEASE) is None


def test_renewing_leases_extends_only_the_workers_own_claims(store: ProcessStore, clock: HandClock) -> None:
    wf = workflow("contract_renew", init >> one >> done)
    mine, theirs = start(store, wf, worker=W1), start(store, wf, worker=W2)

    clock.advance(20)
    store.renew_leases(W1, [mine.process_id, theirs.process_id], LEASE)
    store.renew_leases(W1, [], LEASE)
    assert column(store, mine.process_id, "lease_until") == clock.now + LEASE
    clock.advance(20)  # 40s after the start: W2's lease lapsed, W1's renewed one holds

    assert store.claim(mine.process_id, W3, LEASE) is None
    assert store.claim(theirs.process_id, W3, LEASE) is not None


def test_release_gives_the_claim_back_without_changing_the_process(store: ProcessStore) -> None:
    wf = workflow("contract_release", init >> one >> done)
    claim = start(store, wf, worker=W1)
    other = dataclasses.replace(claim, worker_id=W2)

    store.release(other)  # not W2's to give back
    assert column(store, claim.process_id, "claimed_by") == W1
    store.release(claim)

    assert columns(store, claim.process_id, "claimed_by", "lease_until") == (None, None)
    assert store.get(claim.process_id).status == ProcessStatus.CREATED
    assert store.claim(claim.process_id, W2, LEASE) is not None


def test_a_checkpoint_after_the_claim_was_lost_is_not_kept_and_writes_nothing(
    store: ProcessStore, clock: HandClock
) -> None:
    taken: list[Claim | None] = []

    @step("Stolen")
    def stolen(process_id: str) -> State:
        clock.advance(LEASE.total_seconds() + 1)  # the step outlives its lease: another worker takes over
        taken.append(store.claim(uuid.UUID(process_id), W2, LEASE))
        return {"stolen": True}

    wf = workflow("contract_stolen", init >> one >> stolen >> two >> done)
    claim = start(store, wf, worker=W1)

    outcome = drive(store, wf, claim)

    assert isinstance(outcome, Success)  # the runner stopped after the checkpoint that was not kept
    assert taken[0] is not None and taken[0].cursor == ("Stolen",)
    assert history(store, claim.process_id) == [("Start", "success"), ("One", "success")]
    seen = store.get(claim.process_id)
    assert (seen.status, seen.cursor, seen.seq) == (ProcessStatus.RUNNING, ("Stolen",), 2)
    assert "stolen" not in seen.state
    assert columns(store, claim.process_id, "claimed_by", "last_step") == (W2, "One")
    assert (claim.seq, claim.last_row_key) == (2, "One")  # the lost step's bookkeeping was undone


def test_recoverable_finds_unowned_processes_and_grace_leaves_fresh_ones_in_transit(
    store: ProcessStore, clock: HandClock
) -> None:
    wf = workflow("contract_recover", init >> one >> ask >> done)
    fresh = start(store, wf, worker=None)  # its message may still be on its way
    live = start(store, wf, worker=W1)
    lapsing = start(store, wf, worker=W2, lease=timedelta(seconds=5))
    suspended = start(store, wf, worker=W1)
    assert isinstance(drive(store, wf, suspended), Suspend)
    handed_back = start(store, wf, worker=W1)
    drive(store, wf, handed_back, should_stop=lambda: True)  # running, and no worker holds it
    grace = timedelta(seconds=60)

    assert sorted(store.recoverable()) == sorted([fresh.process_id, handed_back.process_id])
    assert store.recoverable(grace) == [handed_back.process_id]

    clock.advance(10)  # the short lease lapsed
    assert sorted(store.recoverable(grace)) == sorted([lapsing.process_id, handed_back.process_id])
    clock.advance(60)  # the fresh one's message never came; the live lease lapsed too
    expected = [fresh.process_id, live.process_id, lapsing.process_id, handed_back.process_id]
    assert sorted(store.recoverable(grace)) == sorted(expected)
    assert sorted(store.recoverable()) == sorted(expected)


def test_recoverable_lists_abandoned_processes_first_those_that_were_running_before_the_others(
    store: ProcessStore, clock: HandClock
) -> None:
    wf = workflow("contract_recover_rank", init >> one >> done)
    lost = start(store, wf, worker=None)  # its message never came
    claimed = start(store, wf, worker=W1, lease=timedelta(seconds=5))  # its worker died before it began
    handed_back = start(store, wf, worker=W1)
    drive(store, wf, handed_back, should_stop=lambda: True)  # running, and no worker holds it
    mid_way = start(store, wf, worker=W1)
    drive(store, wf, mid_way, should_stop=lambda: True)
    assert store.claim(mid_way.process_id, W2, timedelta(seconds=5)) is not None  # running, its worker dies
    clock.advance(10)
    running = {handed_back.process_id, mid_way.process_id}

    found = store.recoverable()
    assert (set(found[:2]), found[2:]) == (running, [claimed.process_id, lost.process_id])
    abandoned = store.recoverable(abandoned_only=True)
    assert (set(abandoned[:2]), abandoned[2:]) == (running, [claimed.process_id])


def dead_worker_id() -> str:
    """The id a worker on this host had whose Python process has ended."""
    finished = subprocess.Popen(["true"])
    finished.wait()
    return f"{socket.gethostname()}:{finished.pid}:gone"


def test_a_claim_of_a_worker_that_died_on_this_host_is_recoverable(store: ProcessStore, clock: HandClock) -> None:
    dead = dead_worker_id()
    wf = workflow("contract_dead_worker", init >> one >> done)
    orphan = start(store, wf, worker=dead)
    assert store.claim(orphan.process_id, W1, LEASE) is None  # its lease still holds

    assert store.recoverable(timedelta(seconds=60)) == [orphan.process_id]

    assert column(store, orphan.process_id, "lease_until") == clock.now  # the dead worker's lease ends now
    assert store.claim(orphan.process_id, W1, LEASE) is not None


def test_what_recoverable_lists_can_be_claimed_at_that_instant(store: ProcessStore, clock: HandClock) -> None:
    wf = workflow("contract_recover_now", init >> one >> done)
    orphan = start(store, wf, worker=dead_worker_id())
    lapsing = start(store, wf, worker=W1, lease=timedelta(seconds=10))
    clock.advance(10)  # the lease ends now

    assert sorted(store.recoverable()) == sorted([orphan.process_id, lapsing.process_id])

    assert store.claim(orphan.process_id, W2, LEASE) is not None
    assert store.claim(lapsing.process_id, W2, LEASE) is not None


def test_a_changed_workflow_is_recorded_or_fails_the_process(store: ProcessStore) -> None:
    wf = workflow("contract_changed", init >> one >> done)
    claim = start(store, wf, worker=W1)
    stranger = dataclasses.replace(claim, worker_id=W2)

    store.mark_workflow_changed(claim, "a-new-fingerprint")
    store.mark_workflow_changed(stranger, "not-theirs-to-change")
    store.fail_unrunnable(stranger, "nor to fail")
    assert column(store, claim.process_id, "workflow_fingerprint") == "a-new-fingerprint"
    assert store.get(claim.process_id).status == ProcessStatus.CREATED

    store.fail_unrunnable(claim, "step 'One' no longer exists", "Traceback: where it was found")
    seen = store.get(claim.process_id)
    assert seen.status == ProcessStatus.FAILED
    assert seen.failed_reason == "step 'One' no longer exists"
    assert column(store, claim.process_id, "traceback") == "Traceback: where it was found"
    assert column(store, claim.process_id, "claimed_by") is None
    assert column(store, claim.process_id, "workflow_fingerprint") == "a-new-fingerprint"


# --- abort, pause, stop -----------------------------------------------------------------------


def test_an_abort_requested_while_claimed_is_honoured_at_the_next_boundary(store: ProcessStore) -> None:
    answers: list[ProcessStatus] = []

    @step("Asked to abort")
    def asked_to_abort(process_id: str) -> State:
        answers.append(store.abort(uuid.UUID(process_id), "operator"))
        return {"ran": True}

    wf = workflow("contract_abort_requested", init >> asked_to_abort >> one >> done)
    claim = start(store, wf, worker=W1)

    outcome = drive(store, wf, claim)

    assert isinstance(outcome, Abort) and outcome.s["ran"] is True
    assert answers == [ProcessStatus.RUNNING]  # not aborted yet: the worker does it at the boundary
    rows = step_rows(store, claim.process_id)
    assert [(name, status) for name, status, _ in rows] == [
        ("Start", "success"),
        ("Asked to abort", "success"),
        ("User Aborted", "abort"),
    ]
    assert rows[2][2]["ran"] is True  # the aborted row holds the state the last step left
    assert actors(store, claim.process_id) == [
        ("Start", "tester", "start"),
        ("Asked to abort", "tester", "start"),
        ("User Aborted", "operator", "abort"),  # who asked for it, not who started the process
    ]
    assert column(store, claim.process_id, "abort_requested_by") is None
    seen = store.get(claim.process_id)
    assert (seen.status, seen.cursor, seen.seq) == (ProcessStatus.ABORTED, None, 3)
    assert column(store, claim.process_id, "abort_requested") is False
    assert column(store, claim.process_id, "claimed_by") is None
    assert store.abort(claim.process_id, "operator") == ProcessStatus.ABORTED  # terminal: stays as it is


def test_abort_of_a_process_no_live_worker_runs_is_immediate(store: ProcessStore, clock: HandClock) -> None:
    wf = workflow("contract_abort_now", init >> ask >> done)
    suspended = start(store, wf)
    assert isinstance(drive(store, wf, suspended), Suspend)
    lapsed = start(store, wf, worker=W1, lease=timedelta(seconds=5))
    owned = start(store, wf, worker=W2, lease=timedelta(seconds=60))
    short = workflow("contract_abort_done", init >> done)
    completed = start(store, short)
    assert isinstance(drive(store, short, completed), Complete)
    clock.advance(10)

    assert store.abort(suspended.process_id, "operator") == ProcessStatus.ABORTED
    assert store.abort(lapsed.process_id, "operator") == ProcessStatus.ABORTED
    assert store.abort(owned.process_id, "owner", by_owner=True) == ProcessStatus.ABORTED
    assert store.abort(completed.process_id, "operator") == ProcessStatus.COMPLETED

    assert history(store, suspended.process_id) == [("Start", "success"), ("Ask", "suspend"), ("User Aborted", "abort")]
    assert history(store, lapsed.process_id) == [("User Aborted", "abort")]
    assert history(store, completed.process_id) == [("Start", "success"), ("Done", "complete")]
    for aborted in (suspended, lapsed, owned):
        assert store.get(aborted.process_id).status == ProcessStatus.ABORTED
        assert column(store, aborted.process_id, "claimed_by") is None


def test_pause_hands_a_running_process_back_and_continuing_returns_it(store: ProcessStore) -> None:
    @step("Pause the engine")
    def pause_the_engine() -> State:
        store.set_paused(True)
        return {"paused_here": True}

    wf = workflow("contract_pause", init >> pause_the_engine >> one >> done)
    claim = start(store, wf, worker=W1)
    assert store.is_paused() is False

    assert isinstance(drive(store, wf, claim), Success)

    assert store.is_paused() is True
    assert history(store, claim.process_id) == [("Start", "success"), ("Pause the engine", "success")]
    seen = store.get(claim.process_id)
    assert (seen.status, seen.cursor, seen.state["paused_here"]) == (ProcessStatus.RUNNING, ("One",), True)
    assert column(store, claim.process_id, "claimed_by") is None
    assert store.claim(claim.process_id, W2, LEASE) is None  # a paused engine gives no claims

    assert store.set_paused(False) == [claim.process_id]
    assert store.is_paused() is False
    again = store.claim(claim.process_id, W2, LEASE)
    assert again is not None and again.cursor == ("One",)
    assert isinstance(drive(store, wf, again), Complete)
    assert [name for name, _ in history(store, claim.process_id)] == ["Start", "Pause the engine", "One", "Done"]


def test_a_paused_engine_takes_a_lapsed_claim_back_and_continuing_lists_every_unclaimed_process(
    store: ProcessStore, clock: HandClock
) -> None:
    wf = workflow("contract_paused_claims", init >> one >> done)
    lapsed = start(store, wf, worker=W1, lease=timedelta(seconds=5))
    unclaimed = start(store, wf, worker=None)
    held = start(store, wf, worker=W2, lease=timedelta(seconds=60))
    assert store.set_paused(True) == []
    clock.advance(10)

    assert store.claim(lapsed.process_id, W3, LEASE) is None
    assert store.claim(unclaimed.process_id, W3, LEASE) is None
    assert column(store, lapsed.process_id, "claimed_by") is None

    assert sorted(store.set_paused(False)) == sorted([lapsed.process_id, unclaimed.process_id])
    assert store.claim(held.process_id, W3, LEASE) is None


def test_a_paused_engine_creates_no_process(store: ProcessStore) -> None:
    known = workflow("contract_paused_start", init >> one >> done)
    start(store, known, worker=None)  # its workflow row exists: the insert itself finds the engine paused
    new = workflow("contract_paused_first", init >> one >> done)  # none yet: the transaction that makes it does
    store.set_paused(True)

    for wf in (known, new):
        state, _ = roundtrip({"process_id": (process_id := uuid.uuid4()), "workflow_name": wf.name})
        with pytest.raises(EnginePausedError):
            store.create_process(wf, state, {}, "tester", worker_id=W1, lease=LEASE)
        with pytest.raises(ProcessNotFoundError):
            store.get(process_id)

    store.set_paused(False)
    assert store.get(start(store, new).process_id).status == ProcessStatus.CREATED


def test_a_stopping_worker_hands_the_process_back_at_the_next_boundary(store: ProcessStore) -> None:
    wf = workflow("contract_stop", init >> one >> two >> done)
    claim = start(store, wf, worker=W1)

    assert isinstance(drive(store, wf, claim, should_stop=lambda: True), Success)

    assert history(store, claim.process_id) == [("Start", "success")]
    seen = store.get(claim.process_id)
    assert (seen.status, seen.cursor) == (ProcessStatus.RUNNING, ("One",))
    assert column(store, claim.process_id, "claimed_by") is None
    again = store.claim(claim.process_id, W2, LEASE)
    assert again is not None and isinstance(drive(store, wf, again), Complete)
    assert history(store, claim.process_id)[-1] == ("Done", "complete")


# --- resume and callbacks ---------------------------------------------------------------------


def test_a_resume_records_the_input_step_and_a_stale_snapshot_is_refused(store: ProcessStore, clock: HandClock) -> None:
    wf = workflow("contract_resume", init >> one >> ask >> two >> done)
    claim = start(store, wf)
    assert isinstance(drive(store, wf, claim), Suspend)
    seen = store.get(claim.process_id)
    assert (seen.status, seen.cursor, seen.seq) == (ProcessStatus.SUSPENDED, ("Ask",), 3)
    clock.advance(1)

    record = answer_input(wf, ("Ask",), wf.step_at(("Ask",)), seen.state, {"answer": "yes"}, is_task=False)
    resumed = store.resume(seen, record, {"answer": "yes"}, "person", worker_id=W1, lease=LEASE)

    assert (resumed.cursor, resumed.seq, resumed.worker_id, resumed.state["answer"]) == (("Two",), 4, W1, "yes")
    assert store.get(claim.process_id).status == ProcessStatus.RESUMED
    with pytest.raises(ProcessConflictError):  # it changed since that snapshot was taken
        store.resume(seen, record, {"answer": "again"}, "person", worker_id=W1, lease=LEASE)

    assert isinstance(drive(store, wf, resumed), Complete)
    assert history(store, claim.process_id) == [
        ("Start", "success"),
        ("One", "success"),
        ("Ask", "suspend"),
        ("Ask", "success"),  # a step that is not part of a group: its completion is a row of its own
        ("Two", "success"),
        ("Done", "complete"),
    ]
    assert inputs(store, claim.process_id) == [
        ("initial_state", {"given": "initial"}),
        ("user_input", {"answer": "yes"}),
    ]
    assert store.get(claim.process_id).state["answer"] == "yes"


def test_a_note_is_kept_through_the_run_and_cleared_with_none(store: ProcessStore) -> None:
    wf = workflow("contract_note", init >> one >> ask >> done)
    claim = start(store, wf)
    store.set_note(claim.process_id, "check with the customer first")  # while a worker holds it

    assert isinstance(drive(store, wf, claim), Suspend)  # its checkpoints leave the note alone
    assert column(store, claim.process_id, "note") == "check with the customer first"
    assert store.get(claim.process_id).status == ProcessStatus.SUSPENDED

    store.set_note(claim.process_id, None)
    assert column(store, claim.process_id, "note") is None


def test_a_callback_is_delivered_once_and_only_with_its_token(store: ProcessStore) -> None:
    wf = callback_workflow()
    claim = start(store, wf)

    assert isinstance(drive(store, wf, claim), AwaitingCallback)

    seen = store.get(claim.process_id)
    token = seen.callback_token
    assert token is not None and seen.cursor == ("Order", "Order - Await callback")
    assert seen.state["callback_route"] == f"/api/processes/{claim.process_id}/callback/{token}"
    assert "callback_token" not in seen.state  # engine bookkeeping stays out of the user's state

    with pytest.raises(InvalidCallbackTokenError):
        store.report_progress(claim.process_id, "not-the-token", {"percent": 10})
    store.report_progress(claim.process_id, token, {"percent": 50})
    assert column(store, claim.process_id, "callback_progress") == {"percent": 50}
    with pytest.raises(NotAwaitingCallbackError):
        deliver(store, wf, seen, "not-the-token", {"status": "delivered"})
    assert store.get(claim.process_id).status == ProcessStatus.AWAITING_CALLBACK

    resumed = deliver(store, wf, seen, token, {"status": "delivered"})
    with pytest.raises(NotAwaitingCallbackError):  # single use
        deliver(store, wf, seen, token, {"status": "delivered"})
    with pytest.raises(NotAwaitingCallbackError):
        store.report_progress(claim.process_id, token, {"percent": 99})

    assert isinstance(drive(store, wf, resumed), Complete)
    assert history(store, claim.process_id) == [("Start", "success"), ("Order", "success"), ("Done", "complete")]
    final = store.get(claim.process_id)
    assert (final.callback_token, final.state["delivered"]) == (None, True)
    assert column(store, claim.process_id, "callback_progress") is None


def test_an_unanswered_callback_expires_fails_its_group_row_and_its_retry_starts_the_group_again(
    store: ProcessStore, clock: HandClock
) -> None:
    wf = callback_workflow("contract_callback_timeout")
    claim = start(store, wf)
    assert isinstance(drive(store, wf, claim), AwaitingCallback)
    started = clock.now
    seen = store.get(claim.process_id)
    assert seen.callback_token is not None

    def restart(name: str, cursor: tuple[str, ...]) -> tuple[str, ...]:
        assert name == wf.name
        return wf.group_start(cursor)

    assert column(store, claim.process_id, "callback_deadline") == started + timedelta(seconds=60)
    assert store.awaiting_callbacks_with_deadline() == 1
    assert store.expired_callbacks(started + timedelta(seconds=59)) == []
    assert (
        store.fail_timed_out_callback(claim.process_id, started + timedelta(seconds=59), restart, "scheduler") is False
    )
    assert store.expired_callbacks(started + timedelta(seconds=60)) == [claim.process_id]

    assert (
        store.fail_timed_out_callback(claim.process_id, started + timedelta(seconds=61), restart, "scheduler") is True
    )
    assert (
        store.fail_timed_out_callback(claim.process_id, started + timedelta(seconds=62), restart, "scheduler") is False
    )

    failed = store.get(claim.process_id)
    assert (failed.status, failed.cursor, failed.callback_token) == (
        ProcessStatus.FAILED,
        ("Order", "Order - Create endpoint"),
        None,
    )
    assert str(failed.failed_reason).startswith("Callback timed out")
    rows = step_rows(store, claim.process_id)
    assert [(name, status) for name, status, _ in rows] == [("Start", "success"), ("Order", "failed")]
    assert rows[1][2]["class"] == "CallbackTimeoutError"
    assert actors(store, claim.process_id)[1][1:] == ("scheduler", "callback timeout")  # who failed it, and how
    assert store.expired_callbacks(started + timedelta(seconds=120)) == []
    assert store.awaiting_callbacks_with_deadline() == 0
    with pytest.raises(NotAwaitingCallbackError):  # too late
        deliver(store, wf, seen, seen.callback_token, {"status": "delivered"})

    assert isinstance(drive(store, wf, retry(store, claim.process_id)), AwaitingCallback)
    again = store.get(claim.process_id)
    assert again.callback_token not in (None, seen.callback_token)  # a fresh token
    assert history(store, claim.process_id) == [
        ("Start", "success"),
        ("Order", "failed"),
        ("Order", "awaiting_callback"),
    ]


# --- retries ----------------------------------------------------------------------------------


def test_retries_count_up_with_the_policys_backoff_and_a_persons_retry_starts_afresh(
    store: ProcessStore, clock: HandClock
) -> None:
    attempts: list[datetime] = []

    @retrystep("Flaky")
    def flaky() -> State:
        attempts.append(clock.now)
        if len(attempts) <= 3:
            raise ConnectionError(f"attempt {len(attempts)} failed")
        return {"flaky": "worked"}

    wf = workflow("contract_retries", init >> flaky >> done)
    claim = start(store, wf)
    pid = claim.process_id

    assert isinstance(drive(store, wf, claim), Waiting)
    first_due = clock.now + timedelta(seconds=5)  # delay(1): base 10s, lower half of the doubling
    assert columns(store, pid, "retry_count", "next_retry_at") == (1, first_due)
    assert store.due_retries(clock.now) == []
    assert store.due_retries(first_due) == [pid]

    clock.advance(5)
    resumed = retry(store, pid)
    assert resumed.retry_count == 1  # an automatic retry keeps counting
    assert isinstance(drive(store, wf, resumed), Waiting)
    second_due = clock.now + timedelta(seconds=10)  # delay(2)
    assert columns(store, pid, "retry_count", "next_retry_at") == (2, second_due)
    assert store.due_retries(clock.now + timedelta(seconds=9)) == []

    clock.advance(10)
    assert isinstance(drive(store, wf, retry(store, pid)), Waiting)  # the step's outcome; the policy said: the last
    assert store.get(pid).status == ProcessStatus.FAILED
    assert str(store.get(pid).failed_reason).startswith("Retries exhausted after 3 attempts")
    assert columns(store, pid, "retry_count", "next_retry_at") == (2, None)
    assert store.due_retries(clock.now + timedelta(days=1)) == []

    by_person = retry(store, pid)
    assert (by_person.retry_count, column(store, pid, "retry_count")) == (0, 0)
    assert isinstance(drive(store, wf, by_person), Complete)
    assert history(store, pid) == [
        ("Start", "success"),
        ("Flaky", "waiting"),
        ("Flaky", "waiting"),
        ("Flaky", "failed"),
        ("Flaky", "success"),
        ("Done", "complete"),
    ]
    assert columns(store, pid, "retry_count", "next_retry_at") == (0, None)


def test_due_retries_come_longest_waiting_first(store: ProcessStore, clock: HandClock) -> None:
    @retrystep("Always failing")
    def always_failing() -> State:
        raise ConnectionError("down")

    wf = workflow("contract_due_order", init >> always_failing >> done)
    later = start(store, wf)
    clock.advance(-3)  # this one failed earlier, so its retry is due earlier
    earlier = start(store, wf)
    assert isinstance(drive(store, wf, earlier), Waiting)
    clock.advance(3)
    assert isinstance(drive(store, wf, later), Waiting)

    assert store.due_retries(clock.now + timedelta(seconds=4)) == [earlier.process_id]
    assert store.due_retries(clock.now + timedelta(seconds=5)) == [earlier.process_id, later.process_id]


# --- deleting and sweeping --------------------------------------------------------------------


def test_deleting_a_claimed_process_is_refused_and_an_unclaimed_one_goes_with_its_rows(
    store: ProcessStore, clock: HandClock
) -> None:
    wf = workflow("contract_delete", init >> ask >> done)
    claim = start(store, wf, worker=W1, lease=timedelta(seconds=5))

    with pytest.raises(ProcessConflictError):
        store.delete(claim.process_id)
    clock.advance(10)
    with pytest.raises(ProcessConflictError):  # its lease lapsed, but a worker may still be running it
        store.delete(claim.process_id)

    taken = store.claim(claim.process_id, W2, LEASE)
    assert taken is not None and isinstance(drive(store, wf, taken), Suspend)
    store.delete(claim.process_id)

    assert history(store, claim.process_id) == []
    assert inputs(store, claim.process_id) == []
    with pytest.raises(ProcessNotFoundError):
        store.get(claim.process_id)
    with pytest.raises(ProcessNotFoundError):
        store.delete(claim.process_id)


def test_an_unknown_process_is_not_found(store: ProcessStore) -> None:
    unknown = uuid.uuid4()
    snapshot = ProcessSnapshot(unknown, "contract_nothing", ProcessStatus.SUSPENDED, ("Ask",), {}, 1, False, None)

    with pytest.raises(ProcessNotFoundError):
        store.last_status(unknown)
    with pytest.raises(ProcessNotFoundError):
        store.get(unknown)
    with pytest.raises(ProcessNotFoundError):
        store.abort(unknown, "operator")
    with pytest.raises(ProcessNotFoundError):
        store.report_progress(unknown, "token", {})
    with pytest.raises(ProcessNotFoundError):
        store.set_note(unknown, "a note")
    with pytest.raises(ProcessNotFoundError):
        store.resume(snapshot, None, {}, "person", worker_id=None, lease=LEASE)
    assert store.fail_timed_out_callback(unknown, datetime.now(UTC), lambda _name, cursor: cursor, "scheduler") is False


def test_completed_tasks_older_than_the_cutoff_are_deleted(store: ProcessStore, clock: HandClock) -> None:
    task = workflow("contract_task", init >> one >> done, target=Target.SYSTEM)
    plain = workflow("contract_not_a_task", init >> one >> done)
    catalogued = workflow("contract_catalogued", init >> one >> done)  # CREATE, but the catalogue says: a task
    mark_as_task(store, catalogued)
    done_task, done_plain, done_catalogued = start(store, task), start(store, plain), start(store, catalogued)
    assert (done_task.is_task, done_plain.is_task, done_catalogued.is_task) == (True, False, True)
    assert store.get(done_catalogued.process_id).is_task is True
    for wf, claim in ((task, done_task), (plain, done_plain), (catalogued, done_catalogued)):
        assert isinstance(drive(store, wf, claim), Complete)
    running_task = start(store, task)
    finished_at = clock.now

    assert store.has_completed_tasks_before(finished_at) is False  # last changed at the cutoff: not before it
    assert store.delete_completed_tasks(finished_at) == 0
    clock.advance(3600)
    assert store.has_completed_tasks_before(clock.now) is True

    assert store.delete_completed_tasks(clock.now) == 2

    for deleted in (done_task, done_catalogued):
        with pytest.raises(ProcessNotFoundError):
            store.get(deleted.process_id)
        assert history(store, deleted.process_id) == []
    assert store.get(done_plain.process_id).status == ProcessStatus.COMPLETED
    assert store.get(running_task.process_id).status == ProcessStatus.CREATED
    assert store.has_completed_tasks_before(clock.now) is False
    assert store.delete_completed_tasks(clock.now) == 0


@step("Boom")
def boom() -> State:
    raise RuntimeError("boom")


def test_tasks_in_lists_only_task_processes_in_the_statuses_asked_oldest_first(
    store: ProcessStore, clock: HandClock
) -> None:
    @retrystep("Flaky")
    def flaky() -> State:
        raise ConnectionError("down")

    failing_task = workflow("contract_failing_task", init >> boom >> done, target=Target.SYSTEM)
    waiting_task = workflow("contract_waiting_task", init >> flaky >> done, target=Target.SYSTEM)
    done_task = workflow("contract_done_task", init >> one >> done, target=Target.SYSTEM)
    failing_workflow = workflow("contract_failing_workflow", init >> boom >> done)
    runs = []
    for wf in (waiting_task, failing_workflow, failing_task, done_task):
        runs.append((wf, start(store, wf)))
        clock.advance(1)
    for wf, claim in runs:
        drive(store, wf, claim)
    waiting, _, failed, _ = (claim.process_id for _, claim in runs)

    assert store.tasks_in({ProcessStatus.FAILED, ProcessStatus.WAITING}) == [waiting, failed]
    assert store.tasks_in({ProcessStatus.FAILED}) == [failed]
    assert store.tasks_in({ProcessStatus.INCONSISTENT_DATA}) == []


def test_instances_in_flight_and_uncompleted_are_counted_per_workflow(store: ProcessStore) -> None:
    wf = workflow("contract_instances", init >> ask >> done)
    boom_wf = workflow("contract_instances_failing", init >> boom >> done)
    assert (store.instance_in_flight(wf.name), store.uncompleted_instances(wf.name)) == (False, 0)

    first = start(store, wf)
    assert (store.instance_in_flight(wf.name), store.uncompleted_instances(wf.name)) == (True, 1)
    assert store.instance_in_flight(boom_wf.name) is False
    assert isinstance(drive(store, wf, first), Suspend)
    assert (store.instance_in_flight(wf.name), store.uncompleted_instances(wf.name)) == (False, 1)

    second = start(store, wf)
    assert (store.instance_in_flight(wf.name), store.uncompleted_instances(wf.name)) == (True, 2)
    assert store.abort(second.process_id, "owner", by_owner=True) == ProcessStatus.ABORTED
    assert store.abort(first.process_id, "operator") == ProcessStatus.ABORTED
    assert (store.instance_in_flight(wf.name), store.uncompleted_instances(wf.name)) == (False, 0)

    failing = start(store, boom_wf)
    assert drive(store, boom_wf, failing).isfailed()
    assert (store.instance_in_flight(boom_wf.name), store.uncompleted_instances(boom_wf.name)) == (False, 1)
    assert store.uncompleted_instances(wf.name) == 0


def test_each_run_names_its_actor_and_action_on_the_rows_it_writes(store: ProcessStore, clock: HandClock) -> None:
    """A resume with input, a callback, a takeover of a lapsed claim and a retry, each on its rows."""
    wf = workflow("contract_actors", init >> ask >> one >> done)
    claim = start(store, wf)
    assert isinstance(drive(store, wf, claim), Suspend)
    seen = store.get(claim.process_id)
    assert seen.cursor is not None
    step_ = wf.step_at(seen.cursor)
    record = answer_input(wf, seen.cursor, step_, seen.state, {"answer": "yes"}, is_task=False)
    resumed = store.resume(seen, record, {"answer": "yes"}, "person", worker_id=W1, lease=LEASE)
    assert (resumed.user, resumed.action) == ("person", "resume")
    clock.advance(LEASE.total_seconds() + 1)  # the worker that resumed it is gone: its lease lapses
    taken = store.claim(claim.process_id, W2, LEASE)
    assert taken is not None and (taken.user, taken.action) == ("SYSTEM", "takeover")
    assert isinstance(drive(store, wf, taken), Complete)
    assert actors(store, claim.process_id) == [
        ("Start", "tester", "start"),
        ("Ask", "tester", "start"),
        ("Ask", "person", "resume"),
        ("One", "SYSTEM", "takeover"),
        ("Done", "SYSTEM", "takeover"),
    ]

    cb = callback_workflow("contract_actors_callback")
    waiting = start(store, cb)
    assert isinstance(drive(store, cb, waiting), AwaitingCallback)
    seen = store.get(waiting.process_id)
    assert seen.callback_token is not None
    delivered = deliver(store, cb, seen, seen.callback_token, {"status": "delivered"})
    assert (delivered.user, delivered.action) == ("callback", "callback")
    assert isinstance(drive(store, cb, delivered), Complete)
    assert actors(store, waiting.process_id) == [
        ("Start", "tester", "start"),
        ("Order", "callback", "callback"),
        ("Done", "callback", "callback"),
    ]
