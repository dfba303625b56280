"""Automatic retries of ``retrystep`` failures: exponential backoff with jitter, a maximum, then ``failed``.

The policy's random source is fixed, and the sweep that resumes due processes is asked at chosen
moments (a fast clock), so the whole series of attempts runs in milliseconds.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from orchestrion.db import Database
from orchestrion.db.models import ProcessStepTable, ProcessTable
from orchestrion.engine.retry import RetryPolicy
from orchestrion.engine.runner import StepRecord
from orchestrion.engine.status import ProcessStatus, StepStatus
from orchestrion.runtime import current
from orchestrion.services.process_views import process_detail
from orchestrion.services.processes import resume_process, start_process
from orchestrion.storage.sweeps import due_retries
from orchestrion.types import State
from orchestrion.workflow import StepList, done, init, retrystep, workflow
from orchestrion.workflows import register_workflow, unregister_workflow

SECOND = timedelta(seconds=1)
api_up = False


def test_delays_double_from_the_base_up_to_the_cap_each_in_the_upper_half_of_its_doubling() -> None:
    low = RetryPolicy(base_seconds=10, max_delay_seconds=100, random=lambda: 0.0)
    high = RetryPolicy(base_seconds=10, max_delay_seconds=100, random=lambda: 0.999999)

    assert [low.delay(n).total_seconds() for n in range(1, 7)] == [5, 10, 20, 40, 50, 50]
    assert [round(high.delay(n).total_seconds(), 3) for n in range(1, 7)] == [10, 20, 40, 80, 100, 100]
    assert low.delay(10_000) == timedelta(seconds=50), "no overflow however many retries"


def test_jitter_spreads_processes_that_failed_together() -> None:
    policy = RetryPolicy(base_seconds=10, random=random.Random(7).random)

    delays = [policy.delay(3).total_seconds() for _ in range(100)]

    assert all(20 <= d < 40 for d in delays)
    assert len(set(delays)) == 100
    assert min(delays) < 25 and max(delays) > 35


def _waiting_record() -> StepRecord:
    now = datetime(2026, 1, 1)
    return StepRecord(
        path=("Call",),
        row_name="Call",
        step_name="Call",
        status=StepStatus.WAITING,
        row_state={"class": "ConnectionError", "error": "API down"},
        row_json=b"{}",
        process_status=ProcessStatus.WAITING,
        process_state_json=None,
        cursor=("Call",),
        assignee="SYSTEM",
        started_at=now,
        completed_at=now,
        failed_reason="API down",
    )


def test_the_last_attempt_turns_the_failure_final() -> None:
    policy = RetryPolicy(max_attempts=3)
    record = _waiting_record()

    assert policy.give_up(record, 0) is record
    assert policy.give_up(record, 1) is record
    final = policy.give_up(record, 2)

    assert (final.status, final.process_status) == (StepStatus.FAILED, ProcessStatus.FAILED)
    assert final.failed_reason == "Retries exhausted after 3 attempts: API down"
    assert final.row_state == record.row_state and final.cursor == record.cursor


# --- on the database ---------------------------------------------------------------------------


@retrystep("Call API")
def call_api() -> State:
    if not api_up:
        raise ConnectionError("API down")
    return {"api": "ok"}


@workflow("Retry test: one flaky call")
def retry_flaky() -> StepList:
    return init >> call_api >> done


@pytest.fixture(autouse=True)
def _setup(database: Database) -> Iterator[None]:
    global api_up
    api_up = False
    current().retry_policy = RetryPolicy(base_seconds=10, max_attempts=3, random=lambda: 0.5)
    register_workflow(retry_flaky, "retry_flaky")
    yield
    unregister_workflow("retry_flaky")


def _row(database: Database, process_id: uuid.UUID) -> ProcessTable:
    with database.read() as session:
        return session.execute(select(ProcessTable).where(ProcessTable.process_id == process_id)).scalar_one()


def _last_step(database: Database, process_id: uuid.UUID) -> ProcessStepTable:
    with database.read() as session:
        return session.execute(
            select(ProcessStepTable)
            .where(ProcessStepTable.process_id == process_id)
            .order_by(ProcessStepTable.seq.desc())
            .limit(1)
        ).scalar_one()


def _due(database: Database, at: datetime) -> list[uuid.UUID]:
    with database.read() as session:
        return due_retries(session, at)


def _sweep_when_due(database: Database, process_id: uuid.UUID, expected_delay: timedelta) -> None:
    """Check the retry time, then do what the sweep does once the (fast) clock reaches it."""
    p = _row(database, process_id)
    assert p.next_retry_at is not None
    assert p.next_retry_at - _last_step(database, process_id).completed_at == expected_delay
    assert _due(database, p.next_retry_at - SECOND) == []
    assert _due(database, p.next_retry_at) == [process_id]
    resume_process(process_id, user="scheduler")


def test_retries_back_off_until_the_maximum_then_fail_and_a_person_can_retry(database: Database) -> None:
    global api_up
    process_id = start_process("retry_flaky")
    p = _row(database, process_id)
    assert (p.last_status, p.retry_count) == ("waiting", 1)

    _sweep_when_due(database, process_id, timedelta(seconds=7.5))  # 10 s doubling, at 3/4 of each
    p = _row(database, process_id)
    assert (p.last_status, p.retry_count) == ("waiting", 2)
    assert process_detail(process_id)["retry_count"] == 2, "the attempt count is visible in the API"

    _sweep_when_due(database, process_id, timedelta(seconds=15))
    p = _row(database, process_id)
    assert (p.last_status, p.retry_count, p.next_retry_at) == ("failed", 2, None)
    assert p.failed_reason == "Retries exhausted after 3 attempts: API down"
    assert (_last_step(database, process_id).name, _last_step(database, process_id).status) == ("Call API", "failed")
    assert _due(database, p.last_modified_at + timedelta(days=365)) == [], "no more automatic retries"

    resume_process(process_id, user="operator")  # a person's retry starts a fresh series of attempts
    p = _row(database, process_id)
    assert (p.last_status, p.retry_count, p.failed_reason) == ("waiting", 1, "API down")

    api_up = True
    _sweep_when_due(database, process_id, timedelta(seconds=7.5))
    p = _row(database, process_id)
    assert (p.last_status, p.retry_count, p.next_retry_at) == ("completed", 0, None)


def test_the_maximum_comes_from_the_settings(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrion.settings import app_settings

    current().retry_policy = None  # the policy from the settings
    monkeypatch.setattr(app_settings, "RETRY_MAX_ATTEMPTS", 1)

    process_id = start_process("retry_flaky")

    p = _row(database, process_id)
    assert (p.last_status, p.failed_reason) == ("failed", "Retries exhausted after 1 attempts: API down")
