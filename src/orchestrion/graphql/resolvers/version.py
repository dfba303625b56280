"""The ``version`` query."""

from __future__ import annotations

from orchestrion.graphql.schemas.version import VersionType
from orchestrion.graphql.types import OrchestratorInfo
from orchestrion.services.version import application_versions


async def resolve_version(info: OrchestratorInfo) -> VersionType:
    return VersionType(application_versions=application_versions())
