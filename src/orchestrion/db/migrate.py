"""Apply the bundled Alembic migrations, alone or together with an application's own.

The same revisions serve SQLite and PostgreSQL. An orchestrator-core application keeps its
migrations (a ``data`` branch that ``depends_on`` a schema revision) in its own directory with an
``alembic.ini``: ``orchestrion db upgrade heads`` run there applies orchestrion's schema and the
application's revisions together, through the application's ``env.py``, as orchestrator-core's
command does. Starting orchestrion (``init_database``) only ever brings orchestrion's own branch
up to date, also in a database that holds an application's revisions as well.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from alembic.util import coerce_resource_to_filename
from sqlalchemy import Connection, inspect, text

from orchestrion.db.database import Database

MIGRATIONS = Path(__file__).with_name("migrations")
VERSIONS = MIGRATIONS / "versions"
_SEPARATORS = {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}


def alembic_config(uri: str) -> Config:
    """Orchestrion's migrations on their own (``script_location`` is orchestrion's)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", uri.replace("%", "%%"))
    return config


def application_config(ini: str | Path) -> Config:
    """An application's ``alembic.ini`` with orchestrion's revisions added to its version locations.

    Without ``version_locations`` Alembic looks in ``<script_location>/versions``; that stays, with
    orchestrion's directory next to it, joined by whatever separator the file asks for
    (``path_separator``, or the older ``version_path_separator``).
    """
    config = Config(str(ini))
    key = next((k for k in ("path_separator", "version_path_separator") if config.get_main_option(k)), None)
    separator = _SEPARATORS.get(config.get_main_option(key) or "space", " ") if key else " "
    locations = config.get_main_option("version_locations")
    if not locations:
        script_location = config.get_main_option("script_location") or str(Path(ini).parent)
        locations = str(Path(coerce_resource_to_filename(script_location)) / "versions")
    if str(VERSIONS) not in locations.split(separator):
        config.set_main_option("version_locations", f"{locations}{separator}{VERSIONS}".replace("%", "%%"))
    return config


def application_branches(config: Config) -> list[str]:
    """The branch labels of an application's revisions (orchestrator-core applications have ``data``)."""
    ours = {r.revision for r in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()}
    labels: set[str] = set()
    for rev in ScriptDirectory.from_config(config).walk_revisions():
        if rev.revision not in ours:
            labels.update(rev.branch_labels)
    return sorted(labels)


@contextmanager
def _migration_connection(database: Database) -> Iterator[Connection]:
    """A connection for migrations; on SQLite without foreign-key enforcement while tables are rebuilt.

    SQLite can only change a column by rebuilding its table, which a foreign key pointing at the
    table forbids; the pragma is only honoured outside a transaction, so it is set first, and the
    keys are checked before the connection goes back to the pool.
    """
    with database.engine.connect() as connection:
        if database.is_sqlite:
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            yield connection
        finally:
            if database.is_sqlite:
                raw = connection.connection.dbapi_connection
                problems = raw.execute("PRAGMA foreign_key_check").fetchall()  # type: ignore[union-attr]
                raw.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
                if problems:
                    raise RuntimeError(f"migrations left broken foreign keys: {problems[:5]}")


def _applied(connection: Connection) -> set[str]:
    if not inspect(connection).has_table("alembic_version"):
        return set()
    return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def upgrade(database: Database, revision: str = "heads") -> None:
    """Bring orchestrion's schema up to date (a no-op when it is)."""
    config = alembic_config(database.uri)
    script = ScriptDirectory.from_config(config)
    ours = {r.revision for r in script.walk_revisions()}
    with _migration_connection(database) as connection:
        applied = _applied(connection)
        if applied <= ours:  # only orchestrion's revisions (or none): Alembic does it all
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            connection.commit()
            return
        _upgrade_own_branch(connection, script, applied & ours, database.is_sqlite)


def _upgrade_own_branch(connection: Connection, script: ScriptDirectory, current: set[str], sqlite: bool) -> None:
    """Run orchestrion's pending revisions where an application's revisions share the version table.

    Alembic refuses to plan an upgrade while the version table names revisions it cannot find (the
    application's); orchestrion's branch is linear, so its pending revisions are run here, in order,
    and its row in the version table moves to the new head.
    """
    head = script.get_current_head()
    if not current:  # only an application's revisions: orchestrion's position is unknown, so do nothing rash
        raise RuntimeError(
            "The database's version table holds an application's revisions but none of orchestrion's; "
            "bring it up to date with `orchestrion db upgrade heads` where the application's alembic.ini is"
        )
    start = next(iter(current))
    if start == head:
        return
    pending = list(script.iterate_revisions(head, start))
    context = MigrationContext.configure(connection, opts={"render_as_batch": sqlite})
    with Operations.context(context):
        for rev in reversed(pending):
            rev.module.upgrade()
    connection.execute(
        text("UPDATE alembic_version SET version_num = :v WHERE version_num = :s"), {"v": head, "s": start}
    )
    connection.commit()
