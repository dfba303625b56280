"""Process and step statuses, with the sets the engine reasons about."""

from pydantic_forms.types import strEnum


class ProcessStatus(strEnum):
    CREATED = "created"
    RUNNING = "running"
    SUSPENDED = "suspended"
    WAITING = "waiting"
    AWAITING_CALLBACK = "awaiting_callback"
    AWAITING_CHILDREN = "awaiting_children"
    FAILED = "failed"
    API_UNAVAILABLE = "api_unavailable"
    INCONSISTENT_DATA = "inconsistent_data"
    RESUMED = "resumed"
    ABORTED = "aborted"
    COMPLETED = "completed"


class StepStatus(strEnum):
    SUCCESS = "success"
    SKIPPED = "skipped"
    SUSPEND = "suspend"
    WAITING = "waiting"
    AWAITING_CALLBACK = "awaiting_callback"
    AWAITING_CHILDREN = "awaiting_children"
    FAILED = "failed"
    ABORT = "abort"
    COMPLETE = "complete"


# A worker owns a process in these statuses; after a crash they are recovered.
IN_FLIGHT_STATUSES = frozenset({ProcessStatus.CREATED, ProcessStatus.RUNNING, ProcessStatus.RESUMED})
# A person (or a retry) may move a process on from these.
RESUMABLE_STATUSES = frozenset(
    {
        ProcessStatus.SUSPENDED,
        ProcessStatus.WAITING,
        ProcessStatus.AWAITING_CALLBACK,
        ProcessStatus.FAILED,
        ProcessStatus.API_UNAVAILABLE,
        ProcessStatus.INCONSISTENT_DATA,
    }
)
TERMINAL_STATUSES = frozenset({ProcessStatus.COMPLETED, ProcessStatus.ABORTED})
# A child process in these has ended, for now: its parent's wait counts it (a failed one may be retried).
FAILED_STATUSES = frozenset({ProcessStatus.FAILED, ProcessStatus.API_UNAVAILABLE, ProcessStatus.INCONSISTENT_DATA})
SETTLED_STATUSES = TERMINAL_STATUSES | FAILED_STATUSES
