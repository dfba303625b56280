"""``orchestrion db``: the database schema, orchestrion's alone or with an application's own migrations.

Run in a directory with an ``alembic.ini`` (an orchestrator-core application's), the commands use
that configuration, its ``env.py`` and its version locations, plus orchestrion's revisions; so
``orchestrion db upgrade heads`` (or the application's ``python main.py db upgrade heads``) creates
orchestrion's schema and runs the application's data migrations in one go.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

db_app = typer.Typer(help="Database schema: orchestrion's, and an application's migrations.", no_args_is_help=True)

IniOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        metavar="FILE",
        help="The application's alembic.ini (default: ./alembic.ini when there is one)",
        dir_okay=False,
    ),
]


def _config(ini: Path | None):  # type: ignore[no-untyped-def]
    from orchestrion.db.migrate import alembic_config, application_config

    if ini is None and Path("alembic.ini").is_file():
        ini = Path("alembic.ini")
    if ini is not None:
        if not ini.is_file():
            raise typer.BadParameter(f"{ini} does not exist", param_hint="--config")
        return application_config(ini)
    from orchestrion.settings import app_settings

    return alembic_config(app_settings.DATABASE_URI.get_secret_value())


@db_app.command("upgrade")
def upgrade(
    revision: Annotated[str, typer.Argument(help="Revision to upgrade to; 'heads' is every branch's newest")] = "heads",
    config: IniOption = None,
) -> None:
    """Create or upgrade the schema (DATABASE_URI), with the application's migrations when there is an alembic.ini."""
    from alembic import command

    from orchestrion.cli.progress import migration_progress

    with migration_progress("Migrating"):
        command.upgrade(_config(config), revision)
    typer.echo(f"Database upgraded to {revision}")


@db_app.command("downgrade", context_settings={"ignore_unknown_options": True})  # so "-1" is a revision
def downgrade(
    revision: Annotated[
        str | None,
        typer.Argument(
            help="Revision to go back to: -1 (one step), data@-1, a revision id, data@base. "
            "Default: one step of the application's branch when there is an alembic.ini, else of orchestrion's"
        ),
    ] = None,
    config: IniOption = None,
) -> None:
    """Undo migrations down to REVISION."""
    from alembic import command

    from orchestrion.db.migrate import application_branches

    alembic_config = _config(config)
    revision = revision or "-1"
    if revision.startswith("-") and revision[1:].isdigit() and alembic_config.config_file_name:
        # An application's database has two heads (orchestrion's and the application's), so "-1" alone is
        # ambiguous: it means the application's branch, the one whose author runs this.
        branches = application_branches(alembic_config)
        if len(branches) == 1:
            revision = f"{branches[0]}@{revision}"
    command.downgrade(alembic_config, revision)
    typer.echo(f"Database downgraded to {revision}")


@db_app.command("heads")
def heads(config: IniOption = None) -> None:
    """Show the newest revision of every branch."""
    from alembic import command

    command.heads(_config(config), verbose=True)


@db_app.command("history")
def history(config: IniOption = None) -> None:
    """List the revisions, newest first."""
    from alembic import command

    command.history(_config(config))
