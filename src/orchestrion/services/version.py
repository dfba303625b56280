"""Which versions this server reports: the orchestrator-core it stands in for, and orchestrion's own.

orchestrator-ui takes the second word of the first entry as the orchestrator-core version and warns
when it is older than the UI supports, so the first entry names the orchestrator-core release whose
API orchestrion serves. One function, for the REST API and GraphQL's ``version`` alike.
"""

from __future__ import annotations

from orchestrion import __version__

COMPATIBLE_CORE_VERSION = "5.5.0"  # the orchestrator-core release whose REST API and data orchestrion follows


def application_versions() -> list[str]:
    """``["orchestrator-core: 5.5.0 (compatible)", "orchestrion: <version>"]``."""
    return [f"orchestrator-core: {COMPATIBLE_CORE_VERSION} (compatible)", f"orchestrion: {__version__}"]
