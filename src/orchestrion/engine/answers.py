"""Completing a step that waits for an answer: a person's form input, or an external system's callback.

The process was suspended (an input step) or awaits a callback; the answer completes the step at
its cursor, and the record of that completion is what the store writes when it resumes the process.
"""

from __future__ import annotations

from orchestrion.engine.clock import utcnow
from orchestrion.engine.outcomes import Success
from orchestrion.engine.runner import StepRecord, make_record
from orchestrion.engine.steps import LensStep, Step
from orchestrion.engine.workflow import Path, Workflow
from orchestrion.types import State


def deep_merge(base: State, extra: State) -> State:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def form_view(step: Step, state: State) -> State:
    """What an input step's form sees: a focussed step its part of the state, any other step all of it."""
    return step.get(state) if isinstance(step, LensStep) else state


def answer_input(
    workflow: Workflow, cursor: Path, step: Step, state: State, answer: State, *, is_task: bool
) -> StepRecord:
    """The record of an input step (or a pushed-on callback wait) completed with the form's ``answer``."""
    if isinstance(step, LensStep):
        merged = step.set(state, deep_merge(step.get(state), answer))
    else:
        merged = deep_merge(state, answer)
    return make_record(workflow, cursor, step, Success(merged), utcnow(), is_task=is_task)[0]


def answer_callback(
    workflow: Workflow, cursor: Path, step: Step, state: State, result: State, *, is_task: bool
) -> StepRecord:
    """The record of a callback wait completed with the external system's ``result`` (under its result key)."""
    return make_record(workflow, cursor, step, Success({**state, **result}), utcnow(), is_task=is_task)[0]
