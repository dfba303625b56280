"""``/api/version``: the versions this server reports (orchestrator-core has only GraphQL's ``version``)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from orchestrion.services.version import application_versions

router = APIRouter()


class VersionSchema(BaseModel):
    application_versions: list[str]


@router.get("", response_model=VersionSchema)
def version() -> VersionSchema:
    """The orchestrator-core version served (first, as orchestrator-ui reads it), then orchestrion's."""
    return VersionSchema(application_versions=application_versions())
