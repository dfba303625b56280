"""What running a step can lead to.

A step returns one outcome; the runner turns it into a step row and a process status. Every outcome
but ``Failed`` and ``Waiting`` carries the state; those two carry the error (an exception while the
step runs, an error dict once it is persisted). ``meta`` carries engine bookkeeping (a callback
token, a deadline) so that it never has to live in the user's state.
"""

from __future__ import annotations

from typing import Any, ClassVar

from orchestrion.engine.status import ProcessStatus, StepStatus


class Outcome:
    """Base of the step outcomes; compare and inspect them like values."""

    __slots__ = ("meta", "s")
    status: ClassVar[StepStatus]
    overall_status: ClassVar[ProcessStatus]

    def __init__(self, s: Any, meta: dict[str, Any] | None = None) -> None:
        self.s = s
        self.meta = meta

    def unwrap(self) -> Any:
        return self.s

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Outcome) and type(other) is type(self) and other.s == self.s

    def __hash__(self) -> int:
        return hash((type(self).__name__, id(self.s)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.s!r})"

    # The predicates below mirror the reference's result type, which workflow tests use.
    def issuccess(self) -> bool:
        return isinstance(self, Success)

    def isskipped(self) -> bool:
        return isinstance(self, Skipped)

    def issuspend(self) -> bool:
        return isinstance(self, Suspend)

    def iswaiting(self) -> bool:
        return isinstance(self, Waiting)

    def isawaitingcallback(self) -> bool:
        return isinstance(self, AwaitingCallback)

    def isabort(self) -> bool:
        return isinstance(self, Abort)

    def isfailed(self) -> bool:
        return isinstance(self, Failed)

    def iscomplete(self) -> bool:
        return isinstance(self, Complete)

    @property
    def continues(self) -> bool:
        """True when the next step should run."""
        return isinstance(self, Success | Skipped)


class Success(Outcome):
    __slots__ = ()
    status = StepStatus.SUCCESS
    overall_status = ProcessStatus.RUNNING


class Skipped(Outcome):
    __slots__ = ()
    status = StepStatus.SKIPPED
    overall_status = ProcessStatus.RUNNING


class Suspend(Outcome):
    __slots__ = ()
    status = StepStatus.SUSPEND
    overall_status = ProcessStatus.SUSPENDED


class Waiting(Outcome):
    __slots__ = ()
    status = StepStatus.WAITING
    overall_status = ProcessStatus.WAITING


class AwaitingCallback(Outcome):
    __slots__ = ()
    status = StepStatus.AWAITING_CALLBACK
    overall_status = ProcessStatus.AWAITING_CALLBACK


class AwaitingChildren(Outcome):
    """The process waits, holding no worker, until enough of its child processes have ended."""

    __slots__ = ()
    status = StepStatus.AWAITING_CHILDREN
    overall_status = ProcessStatus.AWAITING_CHILDREN


class Abort(Outcome):
    __slots__ = ()
    status = StepStatus.ABORT
    overall_status = ProcessStatus.ABORTED


class Failed(Outcome):
    __slots__ = ()
    status = StepStatus.FAILED
    overall_status = ProcessStatus.FAILED


class Complete(Outcome):
    __slots__ = ()
    status = StepStatus.COMPLETE
    overall_status = ProcessStatus.COMPLETED


OUTCOME_BY_PROCESS_STATUS: dict[ProcessStatus, type[Outcome]] = {
    ProcessStatus.COMPLETED: Complete,
    ProcessStatus.ABORTED: Abort,
    ProcessStatus.SUSPENDED: Suspend,
    ProcessStatus.WAITING: Waiting,
    ProcessStatus.AWAITING_CALLBACK: AwaitingCallback,
    ProcessStatus.AWAITING_CHILDREN: AwaitingChildren,
    ProcessStatus.FAILED: Failed,
    ProcessStatus.API_UNAVAILABLE: Failed,
    ProcessStatus.INCONSISTENT_DATA: Failed,
}
