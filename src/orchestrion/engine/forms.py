"""Forms as the engine sees them: whatever shape an author writes, ``state -> generator of pages``.

Authors write a generator of form pages, or a function returning a single page; its parameters
are filled from the state like a step's. The engine and the API only ever see the normalised form.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from typing import Any

from pydantic import BaseModel
from pydantic_forms.core import FormPage

from orchestrion.engine.injection import Injector
from orchestrion.types import State

StateForm = Callable[[State], Generator[Any, Any, State]]


def state_form(func: Callable[..., Any], label: str) -> StateForm:
    inject = Injector(func, label)
    if inspect.isgeneratorfunction(func):

        def generator_form(state: State) -> Generator[Any, Any, State]:
            result = yield from func(**inject(state))
            return result or {}

        return generator_form

    def single_page_form(state: State) -> Generator[Any, Any, State]:
        page = func(**inject(state))
        user_input: BaseModel = yield page
        return user_input.model_dump()

    return single_page_form


def empty_form(state: State) -> Generator[Any, Any, State]:
    """A workflow without a form still asks once, so an empty POST never starts it by accident."""
    yield FormPage
    return {}
