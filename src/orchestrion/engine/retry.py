"""Automatic retries of ``retrystep`` failures: how long to wait before the next try, and when to stop.

Delays double from a base up to a cap. Each is drawn from the upper half of its doubling (jitter),
so processes that failed together, on one outage, do not all retry at the same moment, while each
delay still grows. The random source is a field, so tests can fix it. The runner applies the
policy: it decides a ``retrystep`` failure's next try, or that there is none.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from orchestrion.engine.status import ProcessStatus, StepStatus

if TYPE_CHECKING:
    from orchestrion.engine.runner import StepRecord


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_seconds: float = 10.0
    max_delay_seconds: float = 3600.0
    max_attempts: int = 10
    random: Callable[[], float] = random.random  # in [0, 1)

    def delay(self, retry: int) -> timedelta:
        """The wait before the ``retry``-th retry (1-based): in [d/2, d) for d = base * 2^(retry-1), capped."""
        ceiling = min(self.base_seconds * 2.0 ** min(retry - 1, 64), self.max_delay_seconds)
        return timedelta(seconds=ceiling * (0.5 + self.random() / 2))

    def give_up(self, record: StepRecord, retries_so_far: int) -> StepRecord:
        """``record`` itself, or, when its ``retrystep`` failure used the last attempt, the same failure as final."""
        attempts = retries_so_far + 1
        if record.status != StepStatus.WAITING or attempts < self.max_attempts:
            return record
        return dataclasses.replace(
            record,
            status=StepStatus.FAILED,
            process_status=ProcessStatus.FAILED,
            failed_reason=f"Retries exhausted after {attempts} attempts: {record.failed_reason}",
        )

    @classmethod
    def from_settings(cls, settings: Any) -> RetryPolicy:
        """The policy ``RETRY_BASE_SECONDS``, ``RETRY_MAX_DELAY_SECONDS`` and ``RETRY_MAX_ATTEMPTS`` describe."""
        return cls(
            base_seconds=settings.RETRY_BASE_SECONDS,
            max_delay_seconds=settings.RETRY_MAX_DELAY_SECONDS,
            max_attempts=settings.RETRY_MAX_ATTEMPTS,
        )

    def decide(self, record: StepRecord, retries_so_far: int) -> StepRecord:
        """A ``retrystep`` failure with its next try (``retry_at``), or final when it used the last attempt."""
        if record.status != StepStatus.WAITING:
            return record
        if retries_so_far + 1 >= self.max_attempts:
            return self.give_up(record, retries_so_far)
        return dataclasses.replace(record, retry_at=record.completed_at + self.delay(retries_so_far + 1))


DEFAULT_POLICY = RetryPolicy()
