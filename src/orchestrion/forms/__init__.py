"""Forms for workflow authors: pydantic-forms pages, re-exported (``pydantic_forms`` imports keep working)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_forms.core import FormPage as _FormPage
from pydantic_forms.core import post_form, walk_form
from pydantic_forms.exceptions import FormNotCompleteError, FormOverflowError, FormValidationError
from pydantic_forms.types import FormMeta
from pydantic_forms.validators import read_only_field

__all__ = [
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


# orchestrator-core's name for pydantic-forms' read-only field: shown, and always its given value.
ReadOnlyField = read_only_field
