"""The ``orchestrion`` command line (Typer)."""

from __future__ import annotations

import importlib
import json
import uuid
from typing import Annotated

import typer

from orchestrion.logs import configure_logging
from orchestrion.settings import app_settings

configure_logging(app_settings.LOG_LEVEL)

app = typer.Typer(help="orchestrion: workflows for the lifecycle of customer subscriptions.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
process_app = typer.Typer(help="Start and inspect processes.", no_args_is_help=True)
catalogue_app = typer.Typer(help="Products, product blocks, resource types and workflow links.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(process_app, name="process")

Imports = Annotated[
    list[str],
    typer.Option("--import", "-i", help="Python module that registers workflows (repeatable), e.g. examples"),
]


def _import(modules: list[str]) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise typer.BadParameter(f"cannot import {module!r}: {e}", param_hint="--import") from e


@app.command()
def run(
    imports: Imports = [],  # noqa: B006 - Typer reads the default; it is never mutated
    host: Annotated[str, typer.Option(help="Interface to listen on")] = app_settings.HOST,
    port: Annotated[int, typer.Option(help="Port to listen on")] = app_settings.PORT,
) -> None:
    """Start the API server with in-process workers (SQLite by default: no other service needed)."""
    import uvicorn

    from orchestrion.app import OrchestratorCore

    _import(imports)
    typer.echo(f"orchestrion: database {app_settings.DATABASE_URI}")
    application = OrchestratorCore()
    typer.echo(f"orchestrion: API docs at http://{host}:{port}/api/docs")
    uvicorn.run(application, host=host, port=port, log_level=app_settings.LOG_LEVEL.lower())


@db_app.command("upgrade")
def db_upgrade(
    uri: Annotated[str | None, typer.Option(help="Database URI (default: DATABASE_URI)")] = None,
) -> None:
    """Create or upgrade the database schema to the latest version."""
    from orchestrion.db import init_database

    database = init_database(uri)
    typer.echo(f"Database at the latest schema: {database.uri.split('@')[-1]}")


@catalogue_app.command("load")
def catalogue_load(
    file: Annotated[str, typer.Argument(help="Catalogue file (JSON or YAML)")],
) -> None:
    """Make the catalogue in the database match FILE. Loading it twice changes nothing; nothing is removed."""
    from orchestrion.catalogue import CatalogueError, ensure_catalogue, load_file
    from orchestrion.db import init_database

    init_database()
    try:
        report = ensure_catalogue(load_file(file))
    except (CatalogueError, OSError) as e:
        typer.echo(f"Catalogue not loaded: {e}", err=True)
        raise typer.Exit(2) from None
    for line in report.lines():
        typer.echo(line)
    typer.echo("Catalogue loaded." if report.changed else "Catalogue already up to date.")


@process_app.command("start")
def process_start(
    workflow: Annotated[str, typer.Argument(help="Workflow name")],
    input_: Annotated[str, typer.Option("--input", help="JSON list of form pages (or one page as an object)")] = "[]",
    imports: Imports = [],  # noqa: B006 - Typer reads the default; it is never mutated
    user: Annotated[str, typer.Option(help="Who starts it")] = "SYSTEM",
) -> None:
    """Start a workflow and run it here until it stops; prints the process id and status."""
    from pydantic_forms.exceptions import FormNotCompleteError, FormValidationError

    from orchestrion.db import init_database
    from orchestrion.executors import set_executor
    from orchestrion.executors.inline import InlineExecutor
    from orchestrion.services.processes import start_process, wait_for_process

    _import(imports)
    try:
        pages = json.loads(input_)
    except json.JSONDecodeError as e:
        raise typer.BadParameter(f"not JSON: {e}", param_hint="--input") from e
    init_database()
    set_executor(InlineExecutor())
    try:
        process_id = start_process(workflow, pages if isinstance(pages, list) else [pages], user=user)
    except FormNotCompleteError as e:
        typer.echo(f"The form needs another page:\n{json.dumps(e.form, indent=2)}", err=True)
        raise typer.Exit(2) from None
    except FormValidationError as e:
        typer.echo(f"Invalid input: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{process_id} {wait_for_process(process_id, 0).value}")


@process_app.command("show")
def process_show(process_id: Annotated[uuid.UUID, typer.Argument(help="Process id")]) -> None:
    """Print a process with its steps as JSON."""
    from fastapi.encoders import jsonable_encoder

    from orchestrion.api.processes import show
    from orchestrion.db import init_database

    init_database()
    typer.echo(json.dumps(jsonable_encoder(show(process_id)), indent=2))


if __name__ == "__main__":
    app()
