"""Forms for workflow authors: pydantic-forms pages, re-exported (``pydantic_forms`` imports keep working).

Named forms (``POST /api/forms/{form_key}``) live in pydantic-forms' one registry, the one
orchestrator-core resolves form keys against: ``register_form("key", generator)`` here or from
``pydantic_forms.core`` is the same.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field
from pydantic_forms.core import FormPage as _FormPage
from pydantic_forms.core import list_forms, post_form, register_form, walk_form
from pydantic_forms.core.shared import FORMS
from pydantic_forms.exceptions import (
    FormException,
    FormNotCompleteError,
    FormNotFoundError,
    FormOverflowError,
    FormValidationError,
)
from pydantic_forms.types import FormMeta

__all__ = [
    "FormException",
    "FormNotCompleteError",
    "FormNotFoundError",
    "FormOverflowError",
    "FormPage",
    "FormValidationError",
    "ReadOnlyField",
    "SubmitFormPage",
    "list_forms",
    "named_form",
    "post_form",
    "register_form",
    "walk_form",
]


class FormPage(_FormPage):
    """A page that is followed by another (the UI labels its button "Next")."""

    meta__: ClassVar[FormMeta | None] = {"hasNext": True}


class SubmitFormPage(_FormPage):
    """The last page of a form (the UI labels its button "Submit")."""

    meta__: ClassVar[FormMeta | None] = {"hasNext": False}


def ReadOnlyField(default: Any, **kwargs: Any) -> Any:  # noqa: N802 - orchestrator-core's name for it
    """A field shown with ``default`` that keeps it whatever the client sends: ``x: str = ReadOnlyField("v")``.

    (pydantic-forms' ``read_only_field(value)`` annotation instead refuses a different value.)
    """
    shown = {"disabled": True, "value": default}
    return Field(
        default,
        frozen=True,
        json_schema_extra={"readOnly": True, "uniforms": shown, "extraProperties": shown},
        **kwargs,
    )


def named_form(form_key: str) -> Any:
    """The form generator registered as ``form_key``; ``FormNotFoundError`` (HTTP 404) when there is none."""
    found = FORMS.get(form_key)
    if found is None:
        raise FormNotFoundError(f"Form {form_key!r} does not exist")
    return found
