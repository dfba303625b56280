"""Text no database can store is refused once, for every route, before a handler sees it.

A NUL character (``%00`` in the path or the query, ``\\u0000`` in JSON) or a lone surrogate
(``\\ud800`` in JSON) makes PostgreSQL fail the statement even when the text is only compared with
a column (a filter, a search, a name in the path), and neither database stores it. Rather than every
filter and handler guarding against it, this dependency of the whole app answers 400.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection, Request

from orchestrion.db.types import texts_storable
from orchestrion.errors import UnstorableTextError


async def refuse_unstorable_text(connection: HTTPConnection) -> None:
    """FastAPI dependency of every route: the path, the query parameters and a JSON body must be storable text."""
    path = connection.scope["path"]
    # A line break at the end of the path also matches a route's pattern up to its ``$`` (Python's
    # ``$`` matches before a final newline): ``/api/workflows/%0A`` would reach the list route.
    if not texts_storable(path) or "\n" in path or "\r" in path:
        raise UnstorableTextError("path")
    for name, value in connection.query_params.multi_items():
        if not texts_storable(name) or not texts_storable(value):
            raise UnstorableTextError(f"query parameter {name!r}")
    if not isinstance(connection, Request) or "json" not in connection.headers.get("content-type", ""):
        return
    try:
        body = await connection.json()  # parsed once: FastAPI's own parse of the body is cached
    except ValueError:
        return  # not JSON after all: the route's own parsing says so, if it reads the body
    if not texts_storable(body):
        raise UnstorableTextError("request body")
