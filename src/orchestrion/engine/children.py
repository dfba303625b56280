"""Child processes as the engine sees them: what a step may ask of them, and when a waiting parent goes on.

A step creates children through ``current_step().children`` (``Children``), which the journal
provides: the rows are written in the step's own transaction, so they exist exactly when the
step's checkpoint does. A later step waits for a *group* of children (``await_children``) by
ending with ``AwaitingChildren``: the parent holds no worker, and records a ``WakeCondition``;
the transaction in which a child ends evaluates that condition (``WakeCondition.met``) under the
parent's row lock and, when it holds, makes the parent runnable again. The waiting step then runs
again and decides from the children it reads (``decide``). The same decision serves both sides,
so the parent is never woken for a wait its step would not end.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrion.engine.context import current_step
from orchestrion.engine.outcomes import AwaitingChildren, Failed, Outcome, Success
from orchestrion.engine.status import FAILED_STATUSES, SETTLED_STATUSES, ProcessStatus
from orchestrion.engine.steps import Step
from orchestrion.engine.workflow import Workflow
from orchestrion.errors import OrchestrionError, ProcessFailureError
from orchestrion.types import State

# What the engine puts in every process's state; a child's result leaves it out.
ENGINE_KEYS = frozenset({"process_id", "reporter", "workflow_name", "workflow_target"})
AWAIT_META_KEY = "awaiting_children"  # the record's meta key (and process column) for the wake condition


class ChildrenUnavailableError(OrchestrionError, RuntimeError):
    """Child processes need a store that keeps them (the database); raised outside a step, or without one."""


class ChildProcessFailedError(ProcessFailureError):
    """Children the parent waits for failed (or were aborted); ``details`` lists them."""


@dataclass(frozen=True, slots=True)
class ChildView:
    """One child as its parent's step sees it (read in the step's transaction)."""

    process_id: uuid.UUID
    workflow_name: str
    branch: str | None
    status: ProcessStatus
    state: State
    failed_reason: str | None

    def summary(self) -> dict[str, Any]:
        return {
            "process_id": str(self.process_id),
            "workflow": self.workflow_name,
            "branch": self.branch,
            "status": self.status.value,
            "reason": self.failed_reason,
        }


class Children(Protocol):
    """What a running step may do with its process's children; the journal provides it."""

    def spawn(
        self, wf: Workflow, state: State, initial_input: State, *, group: str, branch: str | None = None
    ) -> uuid.UUID:
        """Create a child process of ``wf`` (``state["process_id"]`` is its id) in the step's transaction.

        ``branch``: a parallel branch of the parent's own workflow (``wf`` is the branch's).
        """

    def of(self, group: str) -> list[ChildView]:
        """The children of ``group``, oldest first. Locks the parent's row first, so that a child ending
        meanwhile waits for this step's checkpoint and then sees what it decided."""

    def retry(self, process_id: uuid.UUID) -> None:
        """Retry a failed child from before its failed step, in the step's transaction."""


def children() -> Children:
    """The running step's children; ``ChildrenUnavailableError`` outside a step or on a store without them."""
    try:
        found = current_step().children
    except LookupError:
        raise ChildrenUnavailableError("Child processes can only be started and awaited from a running step") from None
    if found is None:
        raise ChildrenUnavailableError("Child processes need the database store; this process runs without one")
    return found


@dataclass(frozen=True, slots=True)
class WakeCondition:
    """When a parent waiting for ``group`` goes on: ``completed`` children completed, ``settled`` ended
    (completed, aborted or failed), or, with ``fail_fast``, the first failure."""

    group: str
    completed: int | None
    settled: int | None
    fail_fast: bool

    def met(self, counts: Mapping[ProcessStatus, int]) -> bool:
        settled = sum(n for status, n in counts.items() if status in SETTLED_STATUSES)
        if self.fail_fast and any(counts.get(s, 0) for s in (*FAILED_STATUSES, ProcessStatus.ABORTED)):
            return True
        if self.completed is not None and counts.get(ProcessStatus.COMPLETED, 0) >= self.completed:
            return True
        return self.settled is not None and settled >= self.settled

    def as_json(self) -> dict[str, Any]:
        return {"group": self.group, "completed": self.completed, "settled": self.settled, "fail_fast": self.fail_fast}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WakeCondition:
        return cls(str(data["group"]), data.get("completed"), data.get("settled"), bool(data.get("fail_fast")))


def child_result(child: ChildView, keep: Collection[str] | None) -> dict[str, Any]:
    """What the parent gets of a completed child: its id, workflow and final state (``keep``: only those keys)."""
    state = {k: v for k, v in child.state.items() if k not in ENGINE_KEYS and not k.startswith("__")}
    if keep is not None:
        state = {k: v for k, v in state.items() if k in keep}
    return {"process_id": str(child.process_id), "workflow": child.workflow_name, "state": state}


def failure(found: list[ChildView], what: str) -> ChildProcessFailedError:
    """The error of a wait that cannot end well: which children failed or were aborted, and why."""
    failed = [c for c in found if c.status in FAILED_STATUSES or c.status == ProcessStatus.ABORTED]
    names = ", ".join(
        f"{c.branch or c.workflow_name} ({c.status.value}: {c.failed_reason or 'no reason'})" for c in failed
    )
    return ChildProcessFailedError(
        f"{len(failed)} of {len(found)} {what} did not complete: {names}. Retry the failed ones "
        "(or this process, which retries them) to go on.",
        details=[c.summary() for c in failed],
    )


def wait(state: State, condition: WakeCondition) -> Outcome:
    return AwaitingChildren(state, meta={AWAIT_META_KEY: condition.as_json()})


def retry_failed(found: list[ChildView]) -> list[ChildView]:
    """A person retried the parent: retry its failed children (they continue from their failed step)."""
    failed = [c for c in found if c.status in FAILED_STATUSES]
    if not failed:
        return found
    kids = children()
    for child in failed:
        kids.retry(child.process_id)
    return [
        ChildView(c.process_id, c.workflow_name, c.branch, ProcessStatus.RESUMED, c.state, None) if c in failed else c
        for c in found
    ]


def is_persons_retry() -> bool:
    return current_step().action == "retry"


class AwaitChildrenStep(Step):
    """Waits for the children of ``group``: all (``count=None``) or the first ``count`` to complete.

    ``fail_fast``: the first failed (or aborted) child fails this step; otherwise the step waits
    until every child has ended and then fails listing every failure. Completed children's results
    go into the state under ``result_key``. Retrying the parent retries its failed children; a
    failed child retried to completion also lets the parent go on by itself.
    """

    def __init__(
        self, name: str, group: str, count: int | None, fail_fast: bool, result_key: str, keep: Collection[str] | None
    ) -> None:
        super().__init__(name)
        if count is not None and count < 1:
            raise ValueError(f"await step {name!r}: count must be at least 1, not {count}")
        self.group = group
        self.count = count
        self.fail_fast = fail_fast
        self.result_key = result_key
        self.keep = keep

    def __call__(self, state: State) -> Outcome:
        found = children().of(self.group)
        if is_persons_retry():
            found = retry_failed(found)
        total = len(found)
        needed = min(self.count or total, total)
        counts = Counter(c.status for c in found)
        completed = [c for c in found if c.status == ProcessStatus.COMPLETED]
        condition = WakeCondition(self.group, needed, total, self.fail_fast)
        if len(completed) >= needed:
            results = [child_result(c, self.keep) for c in completed]
            return Success({**state, self.result_key: results}, meta={AWAIT_META_KEY: None})
        all_ended = all(c.status in SETTLED_STATUSES for c in found)
        if all_ended or (self.fail_fast and condition.met(counts)):
            return Failed(failure(found, f"children of {self.group!r}"), meta={AWAIT_META_KEY: condition.as_json()})
        return wait(state, condition)


def await_children(
    name: str = "Await children",
    *,
    group: str = "children",
    count: int | None = None,
    fail_fast: bool = True,
    result_key: str = "children",
    keep: Collection[str] | None = None,
) -> AwaitChildrenStep:
    """A step that waits, holding no worker, for the children a previous step started in ``group``."""
    return AwaitChildrenStep(name, group, count, fail_fast, result_key, keep)
