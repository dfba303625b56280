"""``/api/forms/{form_key}``: fill a named form page by page (``register_form``), as orchestrator-core serves it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from orchestrion.api.openapi import error_responses
from orchestrion.api.security import Principal, current_user
from orchestrion.services.forms import submit_form

router = APIRouter()


@router.post("/{form_key}", responses=error_responses(510))
def new_form(
    form_key: str,
    pages: Annotated[list[dict[str, Any]], Body(description="The form pages filled so far")],
    user: Annotated[Principal, Depends(current_user)],
) -> dict[str, Any]:
    """The form's result once every page validates; 510 with the next page, 400 for a bad page, 404 unknown key."""
    return submit_form(form_key, pages, user_model=user)
