"""The step DSL: steps, step lists and the decorators that make them.

A step is a callable ``State -> Outcome`` with a name. ``StepList`` chains them with ``>>``. Step
groups and callback steps hold their own step list; the runner walks into them and records the
whole group as one history row. Nothing here touches a database: database work happens in the
transaction the runner opens around each step.
"""

from __future__ import annotations

import inspect
import secrets
import types
import typing
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, overload

import structlog

from orchestrion.config.assignee import Assignee
from orchestrion.engine.context import current_step
from orchestrion.engine.forms import state_form
from orchestrion.engine.injection import Injector, process_result
from orchestrion.engine.outcomes import (
    Abort,
    AwaitingCallback,
    Complete,
    Failed,
    Outcome,
    Skipped,
    Success,
    Suspend,
    Waiting,
)
from orchestrion.types import State

logger = structlog.get_logger(__name__)

Predicate = Callable[[State], bool]
Authorizer = Callable[..., Any]


class Step:
    """One unit of work. Subclasses decide what calling it does."""

    name: str
    form: Callable[[State], Any] | None = None
    assignee: Assignee = Assignee.SYSTEM
    resume_auth_callback: Authorizer | None = None
    retry_auth_callback: Authorizer | None = None
    predicate: Predicate | None = None
    # The state key of a subscription this step locks (``unsync``): a process of a workflow with
    # such a step reserves that subscription in the transaction that creates it, so a second start
    # on the same subscription is refused at once rather than failing at this step.
    reserves: str | None = None

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("a step needs a non-empty name")
        self.name = name

    def __call__(self, state: State) -> Outcome:
        raise NotImplementedError

    def __rshift__(self, other: Step | StepList) -> StepList:
        return StepList([self]) >> other

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def copy(self) -> Step:
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone


class StepList(list[Step]):
    """An ordered, reusable list of steps; ``>>`` appends a step or another list and is associative."""

    def __init__(self, steps: Iterable[Step] = ()) -> None:
        steps = list(steps)
        for s in steps:
            _check_step(s)
        super().__init__(steps)

    def __rshift__(self, other: Step | StepList) -> StepList:
        if isinstance(other, StepList):
            return StepList([*self, *other])
        if isinstance(other, Step):
            return StepList([*self, other])
        raise ValueError(f"only steps and step lists can be chained with >>, not {type(other).__name__}: {other!r}")

    @overload  # type: ignore[override]
    def __getitem__(self, index: int) -> Step: ...

    @overload
    def __getitem__(self, index: slice) -> StepList: ...

    def __getitem__(self, index: int | slice) -> Step | StepList:
        if isinstance(index, slice):
            return StepList(super().__getitem__(index))
        return super().__getitem__(index)

    def map(self, f: Callable[[Step], Step]) -> StepList:
        return StepList(f(s) for s in self)

    def keys(self) -> list[str]:
        """Step identities: the name, with ``#n`` for its n-th repeat in this list."""
        seen: dict[str, int] = {}
        keys = []
        for s in self:
            n = seen[s.name] = seen.get(s.name, 0) + 1
            keys.append(s.name if n == 1 else f"{s.name}#{n}")
        return keys

    def __repr__(self) -> str:
        return f"StepList({[s.name for s in self]})"


def _check_step(s: object) -> None:
    if not isinstance(s, Step):
        raise ValueError(f"a step list holds steps only, not {type(s).__name__}: {s!r}")


class PureStep(Step):
    """A built-in step that only changes the outcome type (``init``, ``done``, ``abort``)."""

    def __init__(self, name: str, outcome: type[Outcome]) -> None:
        super().__init__(name)
        self._outcome = outcome

    def __call__(self, state: State) -> Outcome:
        return self._outcome(state)


class FunctionStep(Step):
    """A step made from a function: arguments from the state, the returned dict merged into it."""

    def __init__(
        self,
        name: str,
        func: Callable[..., State | None],
        *,
        on_error: type[Failed | Waiting] = Failed,
        retry_auth_callback: Authorizer | None = None,
    ) -> None:
        super().__init__(name)
        self.func = func
        self.on_error = on_error
        self.retry_auth_callback = retry_auth_callback
        self._inject = Injector(func, f"Step {name!r}")
        self.__doc__ = func.__doc__
        self.__wrapped__ = func
        _check_return_annotation(func, name)

    def __call__(self, state: State) -> Outcome:
        try:
            result = self.func(**self._inject(state))
            if result is None:
                return Success(state)
            if not isinstance(result, dict):
                raise TypeError(
                    f"Step {self.name!r} returned {type(result).__name__}; a step must return a dict or None"
                )
            process_result(result)
        except Exception as e:
            # The process's record keeps the traceback; the log says it happened, where operators look.
            logger.warning("Step failed", step=self.name, outcome=self.on_error.__name__.lower(), exc_info=e)
            return self.on_error(e)
        return Success({**state, **result})


def _check_return_annotation(func: Callable[..., Any], name: str) -> None:
    try:  # resolves the strings ``from __future__ import annotations`` leaves behind
        annotation = typing.get_type_hints(func).get("return", inspect.Signature.empty)
    except Exception:  # an unresolvable forward reference: nothing to check
        return
    if not _returns_state(annotation):
        raise TypeError(f"Step {name!r} is annotated to return {annotation!r}; a step returns a dict (State) or None")


def _returns_state(annotation: Any) -> bool:
    if annotation in (inspect.Signature.empty, None, type(None), Any):
        return True
    origin = typing.get_origin(annotation) or annotation
    if origin in (typing.Union, types.UnionType):
        return all(_returns_state(arg) for arg in typing.get_args(annotation))
    return (isinstance(origin, type) and issubclass(origin, dict)) or getattr(origin, "__name__", "") == "Mapping"


def step(name: str, retry_auth_callback: Authorizer | None = None) -> Callable[[Callable[..., Any]], FunctionStep]:
    """Turn a function into a step; an exception fails the process (retry by a person)."""

    def decorator(func: Callable[..., Any]) -> FunctionStep:
        return FunctionStep(name, func, retry_auth_callback=retry_auth_callback)

    return decorator


def retrystep(name: str, retry_auth_callback: Authorizer | None = None) -> Callable[[Callable[..., Any]], FunctionStep]:
    """Like ``step``, but an exception makes the process ``waiting``: it is retried automatically."""

    def decorator(func: Callable[..., Any]) -> FunctionStep:
        return FunctionStep(name, func, on_error=Waiting, retry_auth_callback=retry_auth_callback)

    return decorator


class InputStep(Step):
    """Suspends the process with a form; resuming validates the form and merges its answer."""

    def __init__(
        self,
        name: str,
        form: Callable[..., Any],
        assignee: Assignee,
        resume_auth_callback: Authorizer | None,
        retry_auth_callback: Authorizer | None,
    ) -> None:
        super().__init__(name)
        self.form = state_form(form, f"Input step {name!r}")
        self.assignee = Assignee(assignee)
        self.resume_auth_callback = resume_auth_callback
        self.retry_auth_callback = retry_auth_callback

    def __call__(self, state: State) -> Outcome:
        return Suspend(state)


def inputstep(
    name: str,
    assignee: Assignee = Assignee.SYSTEM,
    resume_auth_callback: Authorizer | None = None,
    retry_auth_callback: Authorizer | None = None,
) -> Callable[[Callable[..., Any]], InputStep]:
    """Turn a form (a generator of form pages, or a function returning one page) into an input step."""

    def decorator(func: Callable[..., Any]) -> InputStep:
        return InputStep(name, func, assignee, resume_auth_callback, retry_auth_callback)

    return decorator


class StepGroup(Step):
    """Several steps shown and recorded as one; the runner walks into ``steps``."""

    def __init__(self, name: str, steps: StepList, retry_auth_callback: Authorizer | None = None) -> None:
        super().__init__(name)
        if not isinstance(steps, StepList) or not steps:
            raise ValueError(f"step group {name!r} needs a non-empty StepList")
        self.steps = steps
        self.retry_auth_callback = retry_auth_callback

    def __call__(self, state: State) -> Outcome:
        raise TypeError("a step group is run by the runner, step by step")


def step_group(
    name: str, steps: StepList, extract_form: bool = True, retry_auth_callback: Authorizer | None = None
) -> StepGroup:
    """Group steps into one step. (Forms of sub-steps are always found: the runner knows which sub-step waits.)"""
    return StepGroup(name, steps, retry_auth_callback)


class BranchingStep(Step):
    """A step whose ``branches`` (step lists by key) each run as a child process of their own.

    The workflow resolves a branch process's steps from its path (``Workflow.branch``); the step
    itself forks and joins (``engine.parallel``).
    """

    branches: dict[str, StepList]


class CallbackEndpointStep(Step):
    """Creates the single-use callback token; the route goes into the state, the token into engine data."""

    def __init__(self, name: str, route_key: str) -> None:
        super().__init__(name)
        self.route_key = route_key

    def __call__(self, state: State) -> Outcome:
        token = secrets.token_urlsafe(32)
        route = current_step().callback_route(token)
        return Success({**state, self.route_key: route}, meta={"callback_token": token})


class AwaitCallbackStep(Step):
    """Stops the process until the external system posts to the callback route."""

    def __init__(self, name: str, result_key: str, timeout: timedelta | None) -> None:
        super().__init__(name)
        self.result_key = result_key
        self.timeout = timeout

    def __call__(self, state: State) -> Outcome:
        return AwaitingCallback(state, meta={"callback_timeout": self.timeout})


class CallbackGroup(StepGroup):
    """A step group that hands a callback route to ``action_step`` and resumes when it is called."""

    @property
    def await_step(self) -> AwaitCallbackStep:
        return next(s for s in self.steps if isinstance(s, AwaitCallbackStep))


def callback_step(
    name: str,
    action_step: Step,
    validate_step: Step,
    result_key: str | None = None,
    callback_route_key: str = "callback_route",
    timeout: int | float | timedelta | None = None,
) -> CallbackGroup:
    """Run ``action_step`` with a callback route, wait for the callback, then run ``validate_step``.

    The posted JSON lands in the state under ``result_key`` (default ``callback_result``). With a
    ``timeout`` (seconds or a timedelta) an unanswered callback fails the process, and a retry
    starts the group again with a new token.
    """
    if timeout is not None and not isinstance(timeout, timedelta):
        timeout = timedelta(seconds=timeout)
    steps = StepList(
        [
            CallbackEndpointStep(f"{name} - Create endpoint", callback_route_key),
            action_step,
            AwaitCallbackStep(f"{name} - Await callback", result_key or "callback_result", timeout),
            validate_step,
        ]
    )
    return CallbackGroup(name, steps)


def _as_steplist(steps: Step | StepList) -> StepList:
    return steps if isinstance(steps, StepList) else StepList([steps])


def conditional(pred: Predicate) -> Callable[[Step | StepList], StepList]:
    """Run the given steps only when ``pred(state)`` holds; otherwise they are recorded as ``skipped``.

    The predicate is evaluated for each step when it is reached, so an earlier step can change it.
    The runner only runs the leaves of a step group, so a group passes the predicate to its sub-steps.
    """

    def wrap(steps: Step | StepList) -> StepList:
        def with_predicate(s: Step) -> Step:
            if isinstance(s, StepGroup):
                group = typing.cast(StepGroup, s.copy())
                group.steps = wrap(s.steps)
                return group
            clone = s.copy()
            outer = s.predicate
            clone.predicate = pred if outer is None else (lambda state: outer(state) and pred(state))
            return clone

        return _as_steplist(steps).map(with_predicate)

    return wrap


class LensStep(Step):
    """Runs a step on a view of the state and writes the result back through ``set``.

    A predicate the inner step already had (``focussteps(k)(conditional(p)(s))``) sees the view.
    """

    def __init__(self, inner: Step, get: Callable[[State], State], set_: Callable[[State, State], State]) -> None:
        if isinstance(inner, StepGroup):
            raise ValueError(f"step group {inner.name!r} cannot be focussed; focus its steps instead")
        super().__init__(inner.name)
        self.inner = inner
        self.get = get
        self.set = set_
        self.form = inner.form
        self.assignee = inner.assignee

    def __call__(self, state: State) -> Outcome:
        view = self.get(state)
        if self.inner.predicate is not None and not self.inner.predicate(view):
            return Skipped(state)
        outcome = self.inner(view)
        if isinstance(outcome, Failed | Waiting):
            return outcome
        return type(outcome)(self.set(state, outcome.s), meta=outcome.meta)


def steplens(
    get: Callable[[State], State], set: Callable[[State, State], State]
) -> Callable[[Step | StepList], StepList]:
    """Run steps on part of the state: ``get`` picks it out, ``set`` puts the step's result back."""

    def wrap(steps: Step | StepList) -> StepList:
        return _as_steplist(steps).map(lambda s: LensStep(s, get, set))

    return wrap


def focussteps(key: str) -> Callable[[Step | StepList], StepList]:
    """Run steps on the sub-dict ``state[key]`` (``{}`` when absent) and store their result there."""
    return steplens(lambda state: state.get(key) or {}, lambda state, sub: {**state, key: sub})


def _pure(name: str, outcome: type[Outcome]) -> StepList:
    return StepList([PureStep(name, outcome)])


begin = StepList()
init = _pure("Start", Success)
done = _pure("Done", Complete)
abort = _pure("Abort", Abort)

__all__ = [
    "Step",
    "StepGroup",
    "StepList",
    "abort",
    "begin",
    "callback_step",
    "conditional",
    "done",
    "focussteps",
    "init",
    "inputstep",
    "retrystep",
    "step",
    "step_group",
    "steplens",
]
