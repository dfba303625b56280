"""The scheduler loop and leader election on real databases, with a fake clock and real threads.

Times come from a shared fake clock, so nothing sleeps to let time pass; threads are waited for
with a condition and a generous deadline, never timed.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, true, update

from orchestrion.db import Database
from orchestrion.db.models import ProcessTable, WorkflowTable
from orchestrion.db.schedule_models import ScheduleTable
from orchestrion.engine.workflow import RunPredicateFail
from orchestrion.scheduler import schedules
from orchestrion.scheduler.leader import LeaderLease, current_leader
from orchestrion.scheduler.runner import Fired, Scheduler
from orchestrion.scheduler.schedules import ScheduleSpec
from orchestrion.services.engine import pause_engine, unpause_engine
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import State
from orchestrion.workflow import Workflow, done, init, step

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
LEASE = 15.0
TASK = "scheduler_test_task"


class FakeClock:
    """A clock the test moves by hand; shared by threads."""

    def __init__(self, now: datetime = T0) -> None:
        self._now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait for another thread to make ``condition`` true (a deadline against hangs, not a timing check)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.005)


@step("Note the run")
def note_run(reporter: str) -> State:
    return {"started_by": reporter}


refusal: list[str] = []


def refuse_when_asked(_context: object) -> RunPredicateFail | bool:
    return RunPredicateFail(refusal[0]) if refusal else True


@pytest.fixture
def task(database: Database) -> Iterator[str]:
    """A task to schedule, and no other schedule (a migrated SQLite file has the built-in ones)."""
    with database.write() as s:
        s.execute(delete(ScheduleTable))
    refusal.clear()
    wf = Workflow(TASK, "Scheduler test task", init >> note_run >> done, run_predicate=refuse_when_asked)
    with WorkflowInstanceForTests(wf, TASK):
        yield TASK


def runs(database: Database, workflow: str = TASK) -> int:
    """How many processes of the task exist: each is one fired run."""
    with database.read() as s:
        query = select(func.count()).select_from(ProcessTable).join(WorkflowTable).where(WorkflowTable.name == workflow)
        return int(s.execute(query).scalar_one())


def add(database: Database, clock: FakeClock, name: str = "every-10s", **fields: object) -> schedules.Schedule:
    spec = {"name": name, "workflow_name": TASK, "trigger": "interval", "interval_seconds": 10, **fields}
    return schedules.create_schedule(database, ScheduleSpec.model_validate(spec), clock())


def scheduler(database: Database, clock: FakeClock, holder: str, **kwargs: float) -> Scheduler:
    return Scheduler(database, clock=clock, holder=holder, tick_seconds=0.01, lease_seconds=LEASE, **kwargs)


def test_only_the_lease_holder_fires(database: Database, task: str) -> None:
    clock = FakeClock()
    a, b = scheduler(database, clock, "a"), scheduler(database, clock, "b")
    add(database, clock)
    assert a.tick() == []  # leads; nothing due yet
    assert b.tick() == []
    assert current_leader(database) == ("a", T0 + timedelta(seconds=LEASE))
    clock.advance(10)
    assert b.tick() == []
    fired = a.tick()
    assert [(f.schedule, f.error) for f in fired] == [("every-10s", None)]
    assert runs(database) == 1
    stored = schedules.get_schedule(database, "every-10s")
    assert stored.last_process_id == fired[0].process_id
    assert (stored.last_run_at, stored.next_run_at) == (T0 + timedelta(seconds=10), T0 + timedelta(seconds=20))
    with database.read() as s:
        process = s.get(ProcessTable, fired[0].process_id)
        assert process is not None and process.created_by == "scheduler" and process.last_status == "completed"


def test_standby_takes_over_when_the_leader_stops(database: Database, task: str) -> None:
    clock = FakeClock()
    add(database, clock)
    a, b = scheduler(database, clock, "a"), scheduler(database, clock, "b")
    a.start()
    wait_until(lambda: current_leader(database) is not None, "a scheduler leads")
    b.start()
    leader, standby = (a, b) if current_leader(database).holder == "a" else (b, a)  # type: ignore[union-attr]
    try:
        clock.advance(10)
        wait_until(lambda: runs(database) == 1, "the leader fires the first run")
        leader.stop()
        # released on a graceful stop, no need to wait for the lease (the standby may take it at once)
        assert (current_leader(database) or ("",))[0] != leader.holder
        clock.advance(LEASE / 3)  # the standby's next attempt
        wait_until(lambda: (current_leader(database) or ("",))[0] == standby.holder, "the standby leads")
        clock.advance(10)
        wait_until(lambda: runs(database) == 2, "the new leader fires the next run")
    finally:
        a.stop()
        b.stop()
    assert runs(database) == 2
    assert current_leader(database) is None


def test_standby_takes_over_when_the_leader_dies_and_its_lease_lapses(database: Database, task: str) -> None:
    clock = FakeClock()
    add(database, clock)
    dead = scheduler(database, clock, "dead")
    dead.tick()  # leads, then never ticks again (killed): it never releases the lease
    standby = scheduler(database, clock, "standby")

    def attempted_since(moment: datetime) -> Callable[[], bool]:
        return lambda: (standby.lease._next_attempt or T0) > moment

    standby.start()
    try:
        clock.advance(10)  # a run falls due while the leader is dead but its lease holds
        wait_until(attempted_since(clock()), "the standby tries to lead")
        assert current_leader(database) == ("dead", T0 + timedelta(seconds=LEASE))
        assert runs(database) == 0
        clock.advance(10)  # past the dead leader's lease
        wait_until(lambda: runs(database) == 1, "the standby takes over and fires the due run")
        assert current_leader(database).holder == "standby"  # type: ignore[union-attr]
    finally:
        standby.stop()
    # the run was 10 s late, within the misfire grace: an ordinary run, fired once
    stored = schedules.get_schedule(database, "every-10s")
    assert stored.last_error is None and stored.next_run_at == T0 + timedelta(seconds=30)


def test_a_scheduler_that_lost_its_lease_cannot_fire_even_if_it_thinks_it_leads(database: Database, task: str) -> None:
    clock = FakeClock()
    schedule = add(database, clock)
    old = LeaderLease(database, "old", timedelta(seconds=LEASE))
    assert old.keep(clock())
    clock.advance(LEASE + 1)
    new = LeaderLease(database, "new", timedelta(seconds=LEASE))
    assert new.keep(clock())
    # "old" was paused (GC, a frozen VM) and its clock says its lease still holds
    assert old.holds(T0 + timedelta(seconds=1))
    taken = schedules.claim_run(
        database, schedule, schedule.next_run_at + timedelta(seconds=10), fired_at=clock(), fence=old.fence(clock())
    )
    assert not taken
    assert schedules.get_schedule(database, schedule.schedule_id).next_run_at == schedule.next_run_at


def test_a_due_run_is_claimed_by_exactly_one_of_many_concurrent_claimants(database: Database, task: str) -> None:
    """Even with no leader fence at all (split brain), the due-time condition lets only one claim win."""
    clock = FakeClock()
    schedule = add(database, clock)
    clock.advance(10)
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def claim() -> None:
        barrier.wait()
        results.append(
            schedules.claim_run(
                database, schedule, schedule.next_run_at + timedelta(seconds=10), fired_at=clock(), fence=true()
            )
        )

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_two_schedulers_ticking_concurrently_fire_each_run_once(database: Database, task: str) -> None:
    clock = FakeClock()
    add(database, clock, "every-10s")
    add(database, clock, "every-30s", interval_seconds=30)
    pair = [scheduler(database, clock, "a"), scheduler(database, clock, "b")]
    fired: list[Fired] = []
    for _ in range(12):  # two minutes in 10-second steps
        clock.advance(10)
        barrier = threading.Barrier(2)

        def tick(s: Scheduler, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            fired.extend(s.tick())

        threads = [threading.Thread(target=tick, args=(s,)) for s in pair]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(f.schedule for f in fired) == ["every-10s"] * 12 + ["every-30s"] * 4
    assert runs(database) == 16


def test_a_refused_start_is_recorded_and_the_loop_goes_on(database: Database, task: str) -> None:
    clock = FakeClock()
    s = scheduler(database, clock, "a")
    add(database, clock)
    refusal.append("the moon is in the wrong phase")
    clock.advance(10)
    [fired] = s.tick()
    assert fired.process_id is None and "the moon is in the wrong phase" in (fired.error or "")
    stored = schedules.get_schedule(database, "every-10s")
    assert "StartPredicateError" in (stored.last_error or "")
    assert stored.next_run_at == T0 + timedelta(seconds=20)  # the run is used up, not retried every tick
    refusal.clear()

    pause_engine()
    clock.advance(10)
    [fired] = s.tick()
    assert "EnginePausedError" in (fired.error or "")
    unpause_engine()

    clock.advance(10)
    [fired] = s.tick()
    assert fired.process_id is not None
    assert schedules.get_schedule(database, "every-10s").last_error is None
    assert runs(database) == 1


def test_a_form_that_no_longer_fits_is_recorded(database: Database, task: str) -> None:
    clock = FakeClock()
    s = scheduler(database, clock, "a")
    add(database, clock, user_inputs=[{}, {"unexpected": "page"}])
    clock.advance(10)
    [fired] = s.tick()
    assert fired.process_id is None
    assert schedules.get_schedule(database, "every-10s").last_error == fired.error
    assert runs(database) == 0


def test_missed_runs_follow_the_misfire_policy(database: Database, task: str) -> None:
    clock = FakeClock()
    s = scheduler(database, clock, "a", misfire_grace_seconds=60)
    add(database, clock, "catch-up", misfire_policy="run_once")
    add(database, clock, "skipper", misfire_policy="skip")
    clock.advance(600)  # no scheduler ran for ten minutes
    fired = {f.schedule: f for f in s.tick()}
    assert fired["catch-up"].process_id is not None  # one run, not sixty
    assert fired["skipper"].skipped and fired["skipper"].process_id is None
    assert runs(database) == 1
    for name in ("catch-up", "skipper"):
        assert schedules.get_schedule(database, name).next_run_at == T0 + timedelta(seconds=610)
    assert s.tick() == []


def test_the_leader_plans_unplanned_schedules_and_disables_broken_ones(database: Database, task: str) -> None:
    clock = FakeClock()
    planned = add(database, clock, "unplanned")
    broken = add(database, clock, "broken")
    with database.write() as session:
        session.execute(update(ScheduleTable).values(next_run_at=None))
        session.execute(
            update(ScheduleTable)
            .where(ScheduleTable.schedule_id == broken.schedule_id)
            .values(trigger="cron", interval_seconds=None, cron_expression="every full moon")
        )
    clock.advance(3)
    scheduler(database, clock, "a").tick()
    assert schedules.get_schedule(database, planned.schedule_id).next_run_at == T0 + timedelta(seconds=13)
    stored = schedules.get_schedule(database, broken.schedule_id)
    assert not stored.enabled and stored.next_run_at is None
    assert "every full moon" in (stored.last_error or "")


def test_a_disabled_schedule_does_not_fire(database: Database, task: str) -> None:
    clock = FakeClock()
    add(database, clock, enabled=False)
    clock.advance(3600)
    assert scheduler(database, clock, "a").tick() == []
    assert runs(database) == 0


def test_a_lost_leader_row_is_recreated(database: Database, task: str) -> None:
    from orchestrion.db.schedule_models import SchedulerLeaderTable

    with database.write() as s:
        s.execute(delete(SchedulerLeaderTable))
    a, b = LeaderLease(database, "a", timedelta(seconds=LEASE)), LeaderLease(database, "b", timedelta(seconds=LEASE))
    assert a.keep(T0)
    assert not b.keep(T0)


def test_stop_ends_the_thread_and_releases_the_lease(database: Database, task: str) -> None:
    s = scheduler(database, FakeClock(), f"a-{uuid.uuid4()}")
    s.start()
    wait_until(lambda: current_leader(database) is not None, "it leads")
    s.stop()
    assert s._thread is not None and not s._thread.is_alive()
    assert current_leader(database) is None
