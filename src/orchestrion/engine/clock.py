"""The one clock: what "now" is for steps, leases, retries, deadlines and schedules.

``utcnow()`` is the system's UTC time unless a different clock is current (the test kit's
``TestClock``, which a test moves by hand), so retries, callback timeouts and schedules can be
tested without waiting.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

Clock = Callable[[], datetime]


system_clock: Clock = functools.partial(datetime.now, UTC)  # the system's UTC time (no Python frame per call)


_clock: ContextVar[Clock | None] = ContextVar("orchestrion_clock", default=None)
_process_clock: list[Clock] = [system_clock]  # what contexts without a clock of their own use


def utcnow() -> datetime:
    """Now, in UTC, by the current clock."""
    return (_clock.get() or _process_clock[0])()


@contextmanager
def using_clock(clock: Clock) -> Iterator[None]:
    """Make ``clock`` the clock of this context (a thread, a request) for a block."""
    token = _clock.set(clock)
    try:
        yield
    finally:
        _clock.reset(token)


def set_process_clock(clock: Clock) -> Clock:
    """Make ``clock`` the clock of every context that has none of its own; returns the previous one."""
    previous, _process_clock[0] = _process_clock[0], clock
    return previous
