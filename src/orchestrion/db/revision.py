"""Whether a database's schema is at orchestrion's newest revision, asked without loading Alembic.

A server that starts on an up-to-date database (every start but the first after an upgrade) then
never imports Alembic and its templates, about 10 MiB it would keep for its whole life. ``HEAD``
must name the newest revision in ``migrations/versions``; a test compares it with Alembic's.
"""

from __future__ import annotations

from sqlalchemy import inspect, text

from orchestrion.db.database import Database

HEAD = "0020"


def at_head(database: Database) -> bool:
    """True when the version table holds ``HEAD`` (an application's revisions may be beside it)."""
    with database.engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        return HEAD in set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
