"""``/api/translations/{locale}``: the form labels orchestrator-ui shows (``forms.fields``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from orchestrion.runtime import current
from orchestrion.services.translations import LOCALE_PATTERN, translations

router = APIRouter()


@router.get("/{locale}")
def get_translations(locale: Annotated[str, Path(pattern=LOCALE_PATTERN, examples=["en-GB"])]) -> dict[str, Any]:
    """orchestrion's labels with ``TRANSLATIONS_DIR/<locale>.json`` merged over them; ``{}`` for a locale nobody has."""
    return translations(locale, current().settings.TRANSLATIONS_DIR)
