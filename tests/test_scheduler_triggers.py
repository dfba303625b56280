"""Trigger arithmetic and misfire policies, on plain datetimes: no database, no clock, no sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrion.api.errors import status_of
from orchestrion.scheduler.triggers import (
    CronTrigger,
    IntervalTrigger,
    InvalidTriggerError,
    MisfirePolicy,
    decide,
    make_trigger,
)

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
GRACE = timedelta(seconds=60)


def at(hours: int = 0, minutes: int = 0, seconds: int = 0, days: int = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def test_cron_fires_at_the_next_matching_minute_strictly_after_the_moment() -> None:
    daily = make_trigger("cron", "30 2 * * *", None)
    assert daily.after(T0) == datetime(2026, 3, 11, 2, 30, tzinfo=UTC)
    assert daily.after(datetime(2026, 3, 11, 2, 30, tzinfo=UTC)) == datetime(2026, 3, 12, 2, 30, tzinfo=UTC)
    assert make_trigger("cron", "*/15 * * * *", None).after(at(minutes=1)) == at(minutes=15)


def test_cron_accepts_aliases_and_normalises_spacing() -> None:
    assert make_trigger("cron", "  0   3 * * 1 ", None) == CronTrigger("0 3 * * 1")
    assert make_trigger("cron", "@daily", None).after(T0) == datetime(2026, 3, 11, tzinfo=UTC)


def test_interval_fires_every_n_seconds() -> None:
    trigger = make_trigger("interval", None, 30)
    assert trigger == IntervalTrigger(30)
    assert trigger.after(T0) == at(seconds=30)


@pytest.mark.parametrize(
    ("kind", "cron", "seconds", "message"),
    [
        ("cron", "61 * * * *", None, "not valid"),
        ("cron", "* * * *", None, "five fields"),
        ("cron", "0 0 * * * *", None, "five fields"),
        ("cron", "0 0 31 2 *", None, "never matches"),
        ("cron", None, None, "needs cron_expression"),
        ("cron", "* * * * *", 10, "not interval_seconds"),
        ("interval", None, 0, ">= 1"),
        ("interval", None, -5, ">= 1"),
        ("interval", None, None, ">= 1"),
        ("interval", "* * * * *", 10, "not cron_expression"),
        ("weekly", None, None, "Unknown trigger"),
    ],
)
def test_invalid_triggers_are_refused_with_a_reason(
    kind: str, cron: str | None, seconds: int | None, message: str
) -> None:
    with pytest.raises(InvalidTriggerError, match=message) as raised:
        make_trigger(kind, cron, seconds)
    assert status_of(raised.value) == 400  # answered as bad input over HTTP


def test_an_on_time_run_fires_and_the_next_is_one_interval_later() -> None:
    decision = decide(IntervalTrigger(30), at(seconds=30), at(seconds=31), MisfirePolicy.SKIP, GRACE)
    assert decision.fire and not decision.missed
    assert decision.next_run_at == at(seconds=60)


def test_a_late_interval_run_keeps_its_grid_instead_of_drifting() -> None:
    # due at 12:00:30, noticed at 12:00:59 (within grace): next is 12:01:00, not 12:01:29
    decision = decide(IntervalTrigger(30), at(seconds=30), at(seconds=59), MisfirePolicy.RUN_ONCE, GRACE)
    assert decision.fire
    assert decision.next_run_at == at(minutes=1)


def test_run_once_fires_a_single_run_after_many_were_missed() -> None:
    # the scheduler was away for 10 minutes: 20 runs of an every-30-s schedule fell due
    decision = decide(IntervalTrigger(30), at(seconds=30), at(minutes=10, seconds=40), MisfirePolicy.RUN_ONCE, GRACE)
    assert decision.fire and decision.missed
    assert decision.next_run_at == at(minutes=11)  # the next point of the grid after now: runs are not replayed


def test_skip_drops_a_missed_run_and_plans_the_next_future_one() -> None:
    decision = decide(IntervalTrigger(30), at(seconds=30), at(minutes=10, seconds=40), MisfirePolicy.SKIP, GRACE)
    assert not decision.fire and decision.missed
    assert decision.next_run_at == at(minutes=11)


def test_a_daily_cron_run_missed_by_hours() -> None:
    daily = CronTrigger("30 2 * * *")
    due = datetime(2026, 3, 10, 2, 30, tzinfo=UTC)
    back = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    tomorrow = datetime(2026, 3, 11, 2, 30, tzinfo=UTC)
    run_once = decide(daily, due, back, MisfirePolicy.RUN_ONCE, GRACE)
    skip = decide(daily, due, back, MisfirePolicy.SKIP, GRACE)
    assert (run_once.fire, run_once.next_run_at) == (True, tomorrow)
    assert (skip.fire, skip.next_run_at) == (False, tomorrow)


def test_lateness_within_grace_is_not_a_miss_even_when_skipping() -> None:
    # e.g. a standby scheduler took over a few seconds after the leader died
    decision = decide(CronTrigger("0 * * * *"), at(), at(seconds=45), MisfirePolicy.SKIP, GRACE)
    assert decision.fire and not decision.missed
    assert decision.next_run_at == at(hours=1)
