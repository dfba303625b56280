"""The ``orchestrion`` command line (Typer)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrion import __version__
from orchestrion.cli.audit import audit_app, cli_caller
from orchestrion.cli.database import db_app
from orchestrion.cli.errors import Cli
from orchestrion.cli.imports import Imports, import_modules
from orchestrion.cli.output import echo_table, readable_help, when
from orchestrion.cli.processes import process_app
from orchestrion.cli.progress import progress
from orchestrion.cli.subscriptions import subscription_app
from orchestrion.logs import configure_logging
from orchestrion.settings import app_settings
from orchestrion.utils.allocator import tune_allocator
from orchestrion.utils.startup_objects import freeze_startup_objects

if TYPE_CHECKING:
    from orchestrion.catalogue import CatalogueReport

configure_logging(app_settings.LOG_LEVEL)
readable_help()

app = Cli(
    help="orchestrion: workflows for the lifecycle of customer subscriptions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # a bug's traceback as Python prints it: complete, and without local values
)
catalogue_app = typer.Typer(help="Products, product blocks, resource types and workflow links.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(process_app, name="process")
app.add_typer(subscription_app, name="subscription")
scheduler_app = typer.Typer(
    help="Run tasks on cron or interval schedules stored in the database; several schedulers may run, one fires.",
    no_args_is_help=True,
)
app.add_typer(scheduler_app, name="scheduler")
app.add_typer(audit_app, name="audit")


def _version(shown: bool) -> None:
    if shown:
        typer.echo(f"orchestrion {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """orchestrion: workflows for the lifecycle of customer subscriptions."""


@app.command()
def run(
    imports: Imports = [],  # noqa: B006 - Typer reads the default; it is never mutated
    host: Annotated[str, typer.Option(help="Interface to listen on")] = app_settings.HOST,
    port: Annotated[int, typer.Option(help="Port to listen on")] = app_settings.PORT,
    catalogue: Annotated[
        str | None,
        typer.Option(metavar="FILE", help="Catalogue file (JSON or YAML) to load at startup, idempotently"),
    ] = None,
) -> None:
    """Start the API server with in-process workers (SQLite by default: no other service needed)."""
    import uvicorn

    from orchestrion.app import OrchestratorCore

    tune_allocator()
    import_modules(imports)
    typer.echo(f"orchestrion: database {app_settings.database_display()}")
    application = OrchestratorCore()
    if catalogue:
        with cli_caller():
            report = load_catalogue(catalogue)
        typer.echo(f"orchestrion: catalogue {catalogue} {'loaded' if report.changed else 'already up to date'}")
    application.register_graphql()  # what its startup would do first, done here: the schema is then frozen too
    freeze_startup_objects()
    typer.echo(f"orchestrion: web UI at http://{host}:{port}/")
    typer.echo(f"orchestrion: API docs at http://{host}:{port}/api/docs")
    uvicorn.run(application, host=host, port=port, log_level=app_settings.LOG_LEVEL.lower())


@app.command()
def worker(
    imports: Imports = [],  # noqa: B006 - Typer reads the default; it is never mutated
    concurrency: Annotated[int, typer.Option(help="Processes this worker runs at once (threads)")] = (
        app_settings.MAX_WORKERS
    ),
    queues: Annotated[
        str,
        typer.Option(help="Comma-separated kinds of work to take (queues, after CELERY_QUEUE_PREFIX)"),
    ] = "new_workflows,new_tasks,resumes",
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve this worker's Prometheus metrics (step durations) on this port")
    ] = None,
) -> None:
    """Run a Celery worker: it takes process ids from the broker (CELERY_BROKER_URL) and runs the processes.

    Start as many as you like, on as many machines: the database decides which worker runs a process, so a duplicated message cannot run it twice. A worker that dies has its processes taken over by the others within 4/3 of PROCESS_LEASE_SECONDS, however long their queues; SIGTERM (or Ctrl+C) stops it gracefully: each running process finishes its current step and is handed back.
    """  # noqa: E501 - Typer keeps line breaks inside a paragraph, so the paragraph is one line
    from orchestrion.db import init_database
    from orchestrion.executors.celery import KINDS, run_worker

    tune_allocator()
    kinds = [q.strip() for q in queues.split(",") if q.strip()]
    if not kinds or set(kinds) - set(KINDS):
        raise typer.BadParameter(f"choose from {', '.join(KINDS)}", param_hint="--queues")
    import_modules(imports)
    init_database(wait=True)  # a worker restarted during a database outage comes up once it is back
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port)
    freeze_startup_objects()
    run_worker(concurrency, kinds, app_settings.LOG_LEVEL)


@catalogue_app.command("load")
def catalogue_load(
    file: Annotated[str, typer.Argument(help="Catalogue file (JSON or YAML)")],
) -> None:
    """Make the catalogue in the database match FILE. Loading it twice changes nothing; nothing is removed."""
    from orchestrion.db import init_database
    from orchestrion.errors import InvalidInputError

    init_database()
    try:
        with cli_caller():
            report = load_catalogue(file)
    except InvalidInputError as e:  # the file cannot be read, or its catalogue is inconsistent
        typer.echo(f"Catalogue not loaded: {e}", err=True)
        raise typer.Exit(2) from None
    for line in report.lines():
        typer.echo(line)
    typer.echo("Catalogue loaded." if report.changed else "Catalogue already up to date.")


def load_catalogue(file: str) -> CatalogueReport:
    """Load a catalogue file, recorded in the audit log (done with what changed, or refused with why)."""
    from orchestrion.catalogue import apply_catalogue, entry_count, load_file
    from orchestrion.errors import InvalidInputError
    from orchestrion.services.audit import audited

    with audited("catalogue.load", "catalogue", file) as note:
        try:
            data = load_file(file)
        except OSError as e:  # recorded as refused, and told as it always was
            raise InvalidInputError(f"{file}: {e.strerror or e}") from e
        with progress("Loading catalogue", entry_count(data)) as advance, note.write() as session:  # a bar at a tty
            report = apply_catalogue(session, data, advance)
            note.details.update(created=report.created, updated=report.updated)
    return report


@catalogue_app.command("check")
def catalogue_check(imports: Imports = []) -> None:  # noqa: B006 - Typer reads the default; it is never mutated
    """Compare the registered domain models with the catalogue in the database; exit 1 on any mismatch."""
    from orchestrion.db import init_database
    from orchestrion.domain.catalogue_diff import catalogue_mismatches

    import_modules(imports)
    with init_database().read() as session:
        mismatches = catalogue_mismatches(session)
    for line in mismatches:
        typer.echo(line)
    if mismatches:
        raise typer.Exit(1)
    typer.echo("The catalogue matches the domain models.")


@scheduler_app.command("run")
def scheduler_run(imports: Imports = []) -> None:  # noqa: B006 - Typer reads the default; it is never mutated
    """Run a scheduler on its own ('orchestrion run' has one built in). Stops cleanly on Ctrl+C or SIGTERM.

    Start as many as you like: they elect one leader through the database, and a standby takes over within seconds when the leader stops or dies. The tasks it starts run in this process's executor.
    """  # noqa: E501 - Typer keeps line breaks inside a paragraph, so the paragraph is one line
    import signal

    from orchestrion.db import init_database
    from orchestrion.executors import set_executor
    from orchestrion.scheduler.runner import Scheduler

    tune_allocator()
    import_modules(imports)
    init_database(wait=True)
    scheduler = Scheduler()
    freeze_startup_objects()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: scheduler.request_stop())
    typer.echo(
        f"orchestrion scheduler {scheduler.holder}: running on {app_settings.database_display()}; Ctrl+C stops it"
    )
    scheduler.run()
    executor = set_executor(None)
    if executor is not None:
        executor.shutdown(wait=True)


@scheduler_app.command("list")
def scheduler_list() -> None:
    """Show the schedules (times in UTC) and which scheduler currently leads."""
    from orchestrion.db import init_database
    from orchestrion.scheduler.leader import current_leader
    from orchestrion.scheduler.schedules import list_schedules

    database = init_database()
    rows = []
    for s in list_schedules(database):
        trigger = f"cron {s.cron_expression}" if s.trigger == "cron" else f"every {s.interval_seconds}s"
        on = "yes" if s.enabled else "no"
        last = (when(s.next_run_at), when(s.last_run_at), s.last_error or "")
        rows.append((s.name, s.workflow_name, trigger, on, *last))
    echo_table(("NAME", "TASK", "TRIGGER", "ON", "NEXT RUN", "LAST RUN", "LAST ERROR"), rows)
    leader = current_leader(database)
    typer.echo(f"\nLeader: {leader.holder} (lease until {when(leader.lease_until)})" if leader else "\nLeader: none")


@scheduler_app.command("force")
def scheduler_force(
    name: Annotated[str, typer.Argument(help="Schedule name (or id)")],
    imports: Imports = [],  # noqa: B006 - Typer reads the default; it is never mutated
) -> None:
    """Run a schedule's task now, here, outside its timetable; prints the process id and status."""
    from orchestrion.db import init_database
    from orchestrion.db.types import utcnow
    from orchestrion.executors import set_executor
    from orchestrion.executors.inline import InlineExecutor
    from orchestrion.scheduler.runner import run_now
    from orchestrion.services.processes import wait_for_process

    import_modules(imports)
    database = init_database()
    set_executor(InlineExecutor())
    fired = run_now(database, name, utcnow())
    if fired.process_id is None:
        typer.echo(f"Task not started: {fired.error}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{fired.process_id} {wait_for_process(fired.process_id, 0).value}")


@scheduler_app.command("add")
def scheduler_add(
    name: Annotated[str, typer.Argument(help="A unique name for the schedule")],
    task: Annotated[str, typer.Argument(help="The task (SYSTEM workflow) to run")],
    cron: Annotated[str | None, typer.Option(help="Cron expression in UTC, e.g. '30 2 * * *'")] = None,
    every: Annotated[int | None, typer.Option(help="Interval in seconds")] = None,
    input_: Annotated[
        str, typer.Option("--input", metavar="JSON", help="JSON list of form pages for the task")
    ] = "[{}]",
    misfire: Annotated[
        str, typer.Option(help="A run missed while no scheduler ran: 'run_once' (fire once) or 'skip'")
    ] = "run_once",
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it switched off")] = False,
    imports: Imports = [],  # noqa: B006 - Typer reads the default; it is never mutated
) -> None:
    """Add a schedule: give exactly one of --cron and --every."""
    from pydantic import ValidationError

    from orchestrion.db import init_database
    from orchestrion.db.types import utcnow
    from orchestrion.errors import OrchestrionError
    from orchestrion.scheduler.schedules import ScheduleSpec, create_schedule

    import_modules(imports)
    if (cron is None) == (every is None):
        raise typer.BadParameter("give exactly one of --cron and --every")
    try:
        pages = json.loads(input_)
        spec = ScheduleSpec(
            name=name,
            workflow_name=task,
            trigger="cron" if cron is not None else "interval",
            cron_expression=cron,
            interval_seconds=every,
            user_inputs=pages if isinstance(pages, list) else [pages],
            enabled=not disabled,
            misfire_policy=misfire,
        )
        with cli_caller():
            created = create_schedule(init_database(), spec, utcnow())
    except (json.JSONDecodeError, ValidationError, OrchestrionError) as e:
        typer.echo(f"Schedule not added: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Added {created.name}: {created.workflow_name}, next run {when(created.next_run_at)} UTC")


@scheduler_app.command("remove")
def scheduler_remove(name: Annotated[str, typer.Argument(help="Schedule name (or id)")]) -> None:
    """Delete a schedule (built-in ones too; to pause one instead, disable it through the API)."""
    from orchestrion.db import init_database
    from orchestrion.scheduler.schedules import delete_schedule

    with cli_caller():
        delete_schedule(init_database(), name)
    typer.echo(f"Removed {name}")


if __name__ == "__main__":
    app()
