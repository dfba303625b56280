"""Workflows: a form plus a step list, with step identities the runner resumes by.

A position in a workflow is a *path* of step identities (``("Provision",)``, or
``("Group", "Sub step")`` inside a step group), never a list index; the fingerprint of the whole
tree of identities is recorded with every process, so a changed workflow is noticed.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from orchestrion.engine.forms import StateForm, empty_form, state_form
from orchestrion.engine.steps import BranchingStep, PureStep, Step, StepGroup, StepList, done, init
from orchestrion.errors import OrchestrionError
from orchestrion.targets import Target

Path = tuple[str, ...]


class WorkflowDefinitionError(OrchestrionError, ValueError):
    """A workflow that could never run correctly; raised when it is defined, not when it runs."""


class Workflow:
    """A named workflow. Calling it is an error: the engine runs its ``steps``."""

    def __init__(
        self,
        name: str,
        description: str,
        steps: StepList,
        *,
        target: Target = Target.SYSTEM,
        initial_input_form: Callable[..., Any] | None = None,
        authorize_callback: Callable[..., Any] | None = None,
        retry_auth_callback: Callable[..., Any] | None = None,
        run_predicate: RunPredicate | None = None,
    ) -> None:
        if not isinstance(steps, StepList):
            raise WorkflowDefinitionError(f"workflow {name!r} must return a StepList (init >> ... >> done)")
        _check_frame(name, steps)
        self._forks = _branching_steps(name, steps)
        self.name = name
        self.description = description
        self.steps = steps
        self.target = Target(target)
        self.initial_input_form: StateForm = (
            state_form(initial_input_form, f"Initial form of {name!r}") if initial_input_form else empty_form
        )
        self.authorize_callback = authorize_callback
        self.retry_auth_callback = retry_auth_callback or authorize_callback
        self.run_predicate = run_predicate
        self.__doc__ = description

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(f"workflow {self.name!r} is run by the engine (start_process), not called")

    def __repr__(self) -> str:
        return f"Workflow({self.name!r}, target={self.target.value})"

    @property
    def is_task(self) -> bool:
        return self.target == Target.SYSTEM

    @cached_property
    def fingerprint(self) -> str:
        """Identifies the step tree; processes record it, so a changed step list is detected."""
        return hashlib.sha256(repr(_shape(self.steps)).encode()).hexdigest()[:40]

    @cached_property
    def _leaves(self) -> dict[Path, tuple[Step, Path | None]]:
        """Every leaf step by path, with the path that follows it: the runner's O(1) map of the workflow."""
        paths = list(_leaf_paths(self.steps, ()))
        return {path: (step, paths[i + 1][0] if i + 1 < len(paths) else None) for i, (path, step) in enumerate(paths)}

    @cached_property
    def reserved_keys(self) -> tuple[str, ...]:
        """The state keys of the subscriptions this workflow's steps lock (``Step.reserves``), in order."""
        return tuple(dict.fromkeys(step.reserves for step, _ in self._leaves.values() if step.reserves))

    def first_path(self) -> Path:
        return next(iter(self._leaves))

    def step_at(self, path: Path) -> Step:
        """The step a path points at; ``KeyError`` when the workflow has no such step (it changed)."""
        if (leaf := self._leaves.get(path)) is not None:
            return leaf[0]
        return _resolve(self.steps, path)

    def next_path(self, path: Path) -> Path | None:
        """The leaf step after ``path``; leaving a group continues after the group. None at the end."""
        return self._leaves[path][1]

    def branch_of(self, stored: str | None) -> Workflow | None:
        """The workflow a process runs: this one, or for a parallel branch (``stored``: its path as its
        process keeps it, ``[fork, branch, fork, branch, ...]`` from here down) that branch's. None when
        this workflow no longer has that branch."""
        path = decode_branch(stored)
        if len(path) % 2:
            return None
        wf: Workflow = self
        for fork, key in zip(path[::2], path[1::2], strict=True):
            found = wf._forks.get(fork)
            if found is None or key not in found.branches:
                return None
            wf = branch_workflow(found, key, self.name)
        return wf

    def group_start(self, path: Path) -> Path:
        """The first leaf of the top-level step ``path`` is in (to restart a callback group)."""
        return next(p for p in self._leaves if p[0] == path[0])


def encode_branch(path: list[str]) -> str:
    """A branch path as stored with its process (JSON: names may hold any character)."""
    return json.dumps(path)


def decode_branch(text: str | None) -> list[str]:
    return list(json.loads(text)) if text else []


def _leaf_paths(steps: StepList, prefix: Path) -> Iterator[tuple[Path, Step]]:
    for key, step in zip(steps.keys(), steps, strict=True):
        if isinstance(step, StepGroup):
            yield from _leaf_paths(step.steps, (*prefix, key))
        else:
            yield (*prefix, key), step


def _resolve(steps: StepList, path: Path) -> Step:
    if not path:
        raise KeyError(path)
    node: Step | None = None
    for key in path:
        if node is not None:
            if not isinstance(node, StepGroup):
                raise KeyError(path)
            steps = node.steps
        keys = steps.keys()
        if key not in keys:
            raise KeyError(path)
        node = steps[keys.index(key)]
    assert node is not None
    return node


def _shape(steps: StepList) -> list[Any]:
    return [_step_shape(k, s) for k, s in zip(steps.keys(), steps, strict=True)]


def _step_shape(key: str, step: Step) -> Any:
    if isinstance(step, StepGroup):
        return [key, _shape(step.steps)]
    if isinstance(step, BranchingStep):
        return [key, {branch: _shape(steps) for branch, steps in step.branches.items()}]
    return key


def _branching_steps(name: str, steps: StepList) -> dict[str, BranchingStep]:
    """The forks of a step list (also inside step groups) by name; a branch process finds its fork by it."""
    found: dict[str, BranchingStep] = {}
    for step in steps:
        inner = _branching_steps(name, step.steps) if isinstance(step, StepGroup) else {}
        if isinstance(step, BranchingStep):
            inner = {step.name: step}
        for fork, at in inner.items():
            if fork in found:
                raise WorkflowDefinitionError(f"workflow {name!r} has two parallel steps named {fork!r}; rename one")
            found[fork] = at
    return found


def branch_workflow(fork: BranchingStep, key: str, root_name: str) -> Workflow:
    """The workflow of one branch: ``init >> branch >> done``, named like the workflow it belongs to
    (its processes use that workflow's row). Built once per fork, branch and name."""
    cache: dict[tuple[str, str], Workflow] = fork.__dict__.setdefault("_branch_workflows", {})
    found = cache.get((key, root_name))
    if found is None:
        steps = fork.branches[key]
        found = cache[(key, root_name)] = Workflow(root_name, f"Branch {key!r} of {fork.name!r}", init >> steps >> done)
    return found


def _check_frame(name: str, steps: StepList) -> None:
    if not steps:
        raise WorkflowDefinitionError(f"workflow {name!r} has no steps; write init >> ... >> done")
    if steps[0] is not init[0]:
        raise WorkflowDefinitionError(f"workflow {name!r} must start with init (it starts with {steps[0].name!r})")
    last = steps[-1]
    if not (last is done[0] or (isinstance(last, PureStep) and last.name in ("Done", "Abort"))):
        raise WorkflowDefinitionError(f"workflow {name!r} must end with done (it ends with {last.name!r})")
    if last.predicate is not None:
        raise WorkflowDefinitionError(f"workflow {name!r} must end with done that always runs, not a conditional one")


def make_workflow(
    f: Callable[[], StepList],
    description: str,
    initial_input_form: Callable[..., Any] | None,
    target: Target,
    steps: StepList,
    authorize_callback: Callable[..., Any] | None = None,
    retry_auth_callback: Callable[..., Any] | None = None,
    run_predicate: RunPredicate | None = None,
) -> Workflow:
    wf = Workflow(
        f.__name__,
        description,
        steps,
        target=target,
        initial_input_form=initial_input_form,
        authorize_callback=authorize_callback,
        retry_auth_callback=retry_auth_callback,
        run_predicate=run_predicate,
    )
    wf.__module__ = f.__module__
    wf.__wrapped__ = f  # type: ignore[attr-defined]
    return wf


def workflow(
    description: str = "",
    initial_input_form: Callable[..., Any] | None = None,
    target: Target = Target.SYSTEM,
    authorize_callback: Callable[..., Any] | None = None,
    retry_auth_callback: Callable[..., Any] | None = None,
    run_predicate: RunPredicate | None = None,
) -> Callable[[Callable[[], StepList]], Workflow]:
    """Turn a function returning ``init >> ... >> done`` into a workflow. The function runs once, now."""

    def decorator(f: Callable[[], StepList]) -> Workflow:
        if inspect.signature(f).parameters:
            raise WorkflowDefinitionError(f"workflow function {f.__name__!r} must take no arguments")
        return make_workflow(
            f, description, initial_input_form, target, f(), authorize_callback, retry_auth_callback, run_predicate
        )

    return decorator


@dataclass(frozen=True)
class PredicateContext:
    """What a workflow's ``run_predicate`` is told when someone asks to start it."""

    workflow: Workflow
    workflow_key: str


@dataclass(frozen=True)
class RunPredicatePass:
    """Returned by a ``run_predicate`` to allow the start."""

    def __bool__(self) -> bool:
        return True


@dataclass(frozen=True)
class RunPredicateFail:
    """Returned by a ``run_predicate`` to refuse the start; ``message`` is the reason the caller is given."""

    message: str

    def __bool__(self) -> bool:
        return False


RunPredicateResult = RunPredicatePass | RunPredicateFail
RunPredicate = Callable[[PredicateContext], RunPredicateResult | bool]
