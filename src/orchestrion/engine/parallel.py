"""Parallel branches: ``parallel("name", branch_a, branch_b)`` forks the process and joins the branches.

Each branch runs as a child process of its own (any worker, its own cursor and checkpoints, the
same crash takeover as every process), created in the fork step's transaction with the state as
it was at the fork. The parent waits without a worker; when every branch has ended, the same step
runs again and joins: the branches' changes to the state are merged, and two branches that set one
key to different values fail the join, naming both. Where the step functions show the keys they
return (a dict literal), such a clash is refused when the workflow is defined. A failed branch
fails the parent once the other branches have ended; retrying the parent retries only the failed
branches, each from its failed step.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import uuid
from collections.abc import Iterator
from typing import Any

from orchestrion.engine.children import (
    AWAIT_META_KEY,
    ENGINE_KEYS,
    ChildView,
    WakeCondition,
    children,
    failure,
    is_persons_retry,
    retry_failed,
    wait,
)
from orchestrion.engine.context import current_step
from orchestrion.engine.outcomes import Failed, Outcome, Success
from orchestrion.engine.status import SETTLED_STATUSES, ProcessStatus
from orchestrion.engine.steps import BranchingStep, FunctionStep, Step, StepGroup, StepList
from orchestrion.engine.workflow import WorkflowDefinitionError, branch_workflow, decode_branch, encode_branch
from orchestrion.errors import ProcessFailureError
from orchestrion.types import State

_MISSING: Any = object()


class BranchConflictError(ProcessFailureError):
    """Two branches set the same state key to different values; the join cannot choose."""


class ParallelStep(BranchingStep):
    """Forks into ``branches`` (child processes) and joins them; see the module's docstring."""

    def __init__(self, name: str, branches: list[StepList]) -> None:
        super().__init__(name)
        if len(branches) < 2:
            raise WorkflowDefinitionError(f"parallel step {name!r} needs at least two branches")
        keys = StepList([b[0] for b in branches]).keys()  # a branch is known by its first step's name
        self.branches = dict(zip(keys, branches, strict=True))
        _check_literal_keys(name, self.branches)

    def __call__(self, state: State) -> Outcome:
        context = current_step()
        kids = children()
        found = kids.of(self.name)
        condition = WakeCondition(self.name, completed=len(self.branches), settled=len(self.branches), fail_fast=False)
        if not found:
            self._fork(state, context.workflow_name, decode_branch(context.branch))
            return wait(state, condition)
        if is_persons_retry():
            found = retry_failed(found)
        if all(c.status == ProcessStatus.COMPLETED for c in found):
            return _join(self.name, state, found)
        if all(c.status in SETTLED_STATUSES for c in found):
            return Failed(failure(found, f"branches of {self.name!r}"), meta={AWAIT_META_KEY: condition.as_json()})
        return wait(state, condition)

    def _fork(self, state: State, root: str, prefix: list[str]) -> None:
        kids = children()
        for key in self.branches:
            wf = branch_workflow(self, key, root)
            child_id = uuid.uuid4()
            state_of_branch = {**state, "process_id": str(child_id)}
            kids.spawn(wf, state_of_branch, {}, group=self.name, branch=encode_branch([*prefix, self.name, key]))


def _join(name: str, fork: State, found: list[ChildView]) -> Outcome:
    """The fork's state with every branch's changes; a key two branches changed differently fails the join."""
    merged = dict(fork)
    changed_by: dict[str, str] = {}
    for child in found:
        branch = child.branch or str(child.process_id)
        for key in set(child.state) | set(fork):
            if key in ENGINE_KEYS:
                continue
            new, old = child.state.get(key, _MISSING), fork.get(key, _MISSING)
            if new == old:
                continue
            if key in changed_by and merged.get(key, _MISSING) != new:
                return Failed(
                    BranchConflictError(
                        f"Branches {changed_by[key]!r} and {branch!r} of {name!r} both changed {key!r}, "
                        "to different values; let one branch own each key",
                        details={"key": key, "branches": [changed_by[key], branch]},
                    )
                )
            changed_by[key] = branch
            if new is _MISSING:
                merged.pop(key, None)
            else:
                merged[key] = new
    return Success(merged, meta={AWAIT_META_KEY: None})


def _check_literal_keys(name: str, branches: dict[str, StepList]) -> None:
    """Refuse two branches whose steps visibly return the same key (a join would likely clash on it)."""
    owner: dict[str, tuple[str, str]] = {}
    for branch, steps in branches.items():
        for step_name, key in _returned_keys(steps):
            other = owner.get(key)
            if other is not None and other[0] != branch:
                raise WorkflowDefinitionError(
                    f"parallel step {name!r}: branches {other[0]!r} (step {other[1]!r}) and {branch!r} "
                    f"(step {step_name!r}) both return {key!r}; the join could not choose between their values"
                )
            owner.setdefault(key, (branch, step_name))


def _returned_keys(steps: StepList) -> Iterator[tuple[str, str]]:
    for step in steps:
        if isinstance(step, StepGroup):
            yield from _returned_keys(step.steps)
        elif isinstance(step, BranchingStep):
            for inner in step.branches.values():
                yield from _returned_keys(inner)
        elif isinstance(step, FunctionStep):
            yield from ((step.name, key) for key in _literal_return_keys(step))


def _literal_return_keys(step: FunctionStep) -> set[str]:
    """The string keys of the dict literals a step function returns; empty where its source is not at hand."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(step.func)))
    except (OSError, TypeError, SyntaxError):
        return set()
    keys: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Dict):
            keys.update(k.value for k in node.value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str))
    return keys


def parallel(name: str, *branches: Step | StepList) -> StepList:
    """Run ``branches`` at the same time, each on its own, and go on when all have completed."""
    lists = [b if isinstance(b, StepList) else StepList([b]) for b in branches]
    if any(not b for b in lists):
        raise WorkflowDefinitionError(f"parallel step {name!r}: a branch needs at least one step")
    return StepList([ParallelStep(name, lists)])
