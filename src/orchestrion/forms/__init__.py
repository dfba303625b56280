"""Forms for workflow authors: pydantic-forms pages, re-exported (``pydantic_forms`` imports keep working)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field
from pydantic_forms.core import FormPage as _FormPage
from pydantic_forms.core import post_form, walk_form
from pydantic_forms.exceptions import FormException, FormNotCompleteError, FormOverflowError, FormValidationError
from pydantic_forms.types import FormMeta

__all__ = [
    "FormException",
    "FormNotCompleteError",
    "FormOverflowError",
    "FormPage",
    "FormValidationError",
    "ReadOnlyField",
    "SubmitFormPage",
    "post_form",
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
