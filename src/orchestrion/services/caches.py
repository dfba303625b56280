"""The caches orchestrator-ui's settings page offers to flush, and its search-index reset: orchestrion has neither.

orchestrator-core keeps caches in Redis and a search index in PostgreSQL; orchestrion reads its
tables directly, so there is nothing to flush or rebuild. The page still lists one harmless cache
name, so its buttons work and say so; the REST API (``/api/settings``) and GraphQL's
``settings.cacheNames`` answer the same ``CACHE_NAMES``.
"""

from __future__ import annotations

from orchestrion.errors import InvalidInputError

CACHE_NAMES: dict[str, str] = {"all": "orchestrion keeps no cache: nothing to flush"}


def clear_cache(name: str) -> int:
    """Flush the cache ``name``: how many keys went (always 0); a name ``CACHE_NAMES`` lacks is refused."""
    if name not in CACHE_NAMES:
        raise InvalidInputError(f"Invalid cache name {name!r}; known: {', '.join(CACHE_NAMES)}")
    return 0


def reset_search_index() -> None:
    """Nothing to rebuild: orchestrion's lists and searches query the tables themselves."""
