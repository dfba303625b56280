"""``orchestrion process``: start, list, inspect and drive processes, through the services the REST API uses.

Commands that move a process on (start, resume, retry) run it here, in this command, until it
stops (completes, fails, or waits for input or a callback), and print its id and status.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import typer

from orchestrion.cli.audit import cli_caller
from orchestrion.cli.imports import Imports, import_modules
from orchestrion.cli.output import echo_count, echo_table, when
from orchestrion.engine.status import ProcessStatus

process_app = typer.Typer(help="Start, list, inspect, retry, resume, abort and delete processes.", no_args_is_help=True)

ProcessId = Annotated[uuid.UUID, typer.Argument(help="Process id")]
FormInput = Annotated[
    str, typer.Option("--input", metavar="JSON", help="JSON list of form pages (or one page as an object)")
]


def _pages(input_: str) -> list[dict[str, Any]]:
    try:
        pages = json.loads(input_)
    except json.JSONDecodeError as e:
        raise typer.BadParameter(f"not JSON: {e}", param_hint="--input") from e
    return pages if isinstance(pages, list) else [pages]


def _run_here() -> None:
    """Open the database and run the processes this command moves on in this Python process."""
    from orchestrion.db import init_database
    from orchestrion.executors import set_executor
    from orchestrion.executors.inline import InlineExecutor

    init_database()
    set_executor(InlineExecutor())


def _echo_status(process_id: uuid.UUID) -> None:
    from orchestrion.services.processes import wait_for_process

    typer.echo(f"{process_id} {wait_for_process(process_id, 0).value}")


@process_app.command("start")
def process_start(
    workflow: Annotated[str, typer.Argument(help="Workflow name")],
    input_: FormInput = "[]",
    imports: Imports = [],  # noqa: B006 - Typer reads the default; it is never mutated
    user: Annotated[str, typer.Option(help="Who starts it")] = "SYSTEM",
) -> None:
    """Start a workflow and run it here until it stops; prints the process id and status."""
    from orchestrion.services.processes import start_process

    import_modules(imports)
    pages = _pages(input_)
    _run_here()
    _echo_status(start_process(workflow, pages, user=user))


@process_app.command("list")
def process_list(
    status: Annotated[
        list[ProcessStatus],
        typer.Option(help=f"Only processes in this status (repeatable: any of them): {', '.join(ProcessStatus)}"),
    ] = [],  # noqa: B006 - Typer reads the default; it is never mutated
    workflow: Annotated[str | None, typer.Option(help="Only workflows whose name contains this")] = None,
    tasks: Annotated[
        bool | None, typer.Option("--tasks/--no-tasks", help="Only tasks, or only processes that are not tasks")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Show at most this many")] = 20,
) -> None:
    """List processes, newest first (times in UTC), filtered as the REST API's process list is."""
    from orchestrion.db import init_database
    from orchestrion.db.listing import ListQuery, page
    from orchestrion.services.process_views import process_page

    filters = [("status", "|".join(s.value for s in status))] if status else []
    if workflow:
        filters.append(("workflow", workflow))
    if tasks is not None:
        filters.append(("is_task", str(tasks)))
    init_database()
    items, total = process_page(ListQuery(page(0, limit), filters=filters))
    rows = [
        (
            str(p["process_id"]),
            p["workflow_name"],
            p["last_status"],
            p["last_step"] or "",
            when(p["started_at"]),
            ", ".join(s["description"] for s in p["subscriptions"]),
        )
        for p in items
    ]
    echo_table(("PROCESS", "WORKFLOW", "STATUS", "LAST STEP", "STARTED", "SUBSCRIPTIONS"), rows)
    echo_count(len(items), total, "process", "processes")


@process_app.command("show")
def process_show(
    process_id: ProcessId,
    imports: Imports = [],  # noqa: B006 - Typer reads the default; it is never mutated
) -> None:
    """Print a process with its steps as JSON; with its workflow imported (-i), also the steps to come and its form."""
    from fastapi.encoders import jsonable_encoder

    from orchestrion.db import init_database
    from orchestrion.services.process_views import process_detail

    import_modules(imports)
    init_database()
    typer.echo(json.dumps(jsonable_encoder(process_detail(process_id)), indent=2))


@process_app.command("resume")
def process_resume(
    process_id: ProcessId,
    input_: FormInput = "[{}]",
    imports: Imports = [],  # noqa: B006 - Typer reads the default; it is never mutated
    user: Annotated[str, typer.Option(help="Who resumes it")] = "SYSTEM",
) -> None:
    """Answer a suspended process's form and run it here until it stops; prints its id and status.

    'orchestrion process show ID -i MODULE' prints the form it waits for (its "form" key).
    """
    from orchestrion.services.processes import resume_process

    import_modules(imports)
    pages = _pages(input_)
    _run_here()
    resume_process(process_id, pages, user=user)
    _echo_status(process_id)


@process_app.command("retry")
def process_retry(
    process_id: ProcessId,
    imports: Imports = [],  # noqa: B006 - Typer reads the default; it is never mutated
    user: Annotated[str, typer.Option(help="Who retries it")] = "SYSTEM",
) -> None:
    """Run a failed (or waiting) process again from its failed step, here, until it stops; prints its id and status."""
    from orchestrion.services.processes import resume_process

    import_modules(imports)
    _run_here()
    resume_process(process_id, user=user)
    _echo_status(process_id)


@process_app.command("abort")
def process_abort(
    process_id: ProcessId,
    imports: Imports = [],  # noqa: B006 - Typer reads the default; it is never mutated
    user: Annotated[str, typer.Option(help="Who aborts it")] = "SYSTEM",
) -> None:
    """Abort a process; one that is running stops at its next step boundary. Prints its id and status."""
    from orchestrion.db import init_database
    from orchestrion.services.processes import abort_process

    import_modules(imports)
    init_database()
    typer.echo(f"{process_id} {abort_process(process_id, user=user).value}")


@process_app.command("delete")
def process_delete(process_id: ProcessId) -> None:
    """Delete a process and its history (refused while a worker runs it)."""
    from orchestrion.db import init_database
    from orchestrion.services.processes import delete_process

    init_database()
    with cli_caller():
        delete_process(process_id)
    typer.echo(f"Deleted {process_id}")
