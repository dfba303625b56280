"""Versions: orchestrator-ui compares the second word of the first entry with the core version it needs."""

from __future__ import annotations

import strawberry


@strawberry.type
class VersionType:
    application_versions: list[str]
