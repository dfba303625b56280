"""Running forms outside a process: replaying pages through a generator, and the named forms of ``/api/forms``.

A named form (``register_form``) is a form generator like a workflow's, submitted page by page:
510 with the next page while pages are missing, 400 for a page that does not validate, and the
form's result once it is complete. Nothing is stored. orchestrator-core runs named forms as async
generators (pydantic-forms' asynchronous ``post_form``, whose result is the last value yielded);
orchestrion takes those and plain generators alike.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_forms.core import asynchronous
from pydantic_forms.core.translations import translations
from pydantic_forms.exceptions import FormValidationError
from pydantic_i18n import PydanticI18n

from orchestrion.db.sessions import database_scope
from orchestrion.errors import FormGeneratorError, OrchestrionError
from orchestrion.forms import FormException, named_form, post_form
from orchestrion.runtime import current
from orchestrion.types import State


def _post_async(form: Any, state: State, pages: list[State]) -> State:
    """An async generator form, replayed on an event loop of its own (in this thread's context)."""
    replay = asynchronous.post_form(form, state, pages)
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # the usual case: a worker thread of the API, or a script
        return asyncio.run(replay)
    with ThreadPoolExecutor(1) as pool:  # called from async code: a loop runs here already
        context = contextvars.copy_context()
        return pool.submit(context.run, asyncio.run, replay).result()


def run_form(form: Any, state: State, pages: list[State], what: str) -> State:
    """Replay the form over the pages; the form code's own failure is reported as such, with its reason."""
    try:
        if inspect.isasyncgenfunction(form):
            return _post_async(form, state, pages)
        return post_form(form, state, pages)
    except (FormException, OrchestrionError):
        raise
    except Exception as e:
        raise FormGeneratorError(f"The form of {what} failed: {type(e).__name__}: {e}") from e


def submit_form(form_key: str, pages: list[State], user_model: Any = None) -> State:
    """The result of the named form filled with ``pages``; its generator starts from ``form_key`` and ``user_model``."""
    form = named_form(form_key)
    with database_scope(current().database):  # the form's db.session
        return run_form(form, {"form_key": form_key, "user_model": user_model}, pages, f"form {form_key!r}")


def refused_field(field: str, message: str, value: Any) -> FormValidationError:
    """A form answer refused after the form itself accepted it, as the form would have refused it.

    The same 400 with ``validation_errors`` on ``field`` as a failed page: clients show it on the field.
    """
    error = ValidationError.from_exception_data(
        "Form",
        [InitErrorDetails(type=PydanticCustomError("refused", message), loc=(field,), input=value)],
    )
    return FormValidationError("Form", error, PydanticI18n(translations))
