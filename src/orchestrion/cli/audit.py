"""``orchestrion audit``: the operator audit log (list, as a table or JSON lines) and the hash chains (verify).

Commands that change what the audit log records (``catalogue load``, ``scheduler add|remove``,
``process delete``) run as ``cli_caller()``: the entries name the OS user, and no client address.
"""

from __future__ import annotations

import getpass
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from orchestrion.cli.output import echo_count, echo_table, when

audit_app = typer.Typer(help="The operator audit log and the history's tamper evidence.", no_args_is_help=True)


@contextmanager
def cli_caller() -> Iterator[None]:
    """Audited operations inside are the OS user's (``cli`` when it has no name)."""
    from orchestrion.services.audit import acting_as

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container, say)
        user = "cli"
    with acting_as(user):
        yield


@audit_app.command("list")
def audit_list(
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. subscription.delete (a|b: either)")] = None,
    user: Annotated[str | None, typer.Option(help="Only this user's entries")] = None,
    outcome: Annotated[str | None, typer.Option(help="done or refused")] = None,
    since: Annotated[str | None, typer.Option(metavar="TIME", help="From this ISO 8601 time on")] = None,
    until: Annotated[str | None, typer.Option(metavar="TIME", help="Before this ISO 8601 time")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Show at most this many")] = 20,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many of the newest first")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line, every field (for export)")] = False,
) -> None:
    """List audit log entries, newest first, filtered as GET /api/audit-log/ is."""
    from orchestrion.db import init_database
    from orchestrion.db.listing import ListQuery, page
    from orchestrion.services.audit import page as audit_page

    given = {"action": action, "user": user, "outcome": outcome, "since": since, "until": until}
    init_database()
    items, total = audit_page(ListQuery(page(offset, offset + limit), (), [(k, v) for k, v in given.items() if v]))
    if as_json:
        for item in items:
            typer.echo(json.dumps({**item, "at": item["at"].isoformat()}, sort_keys=True))
        return
    rows = [
        (
            str(e["id"]),
            when(e["at"]),
            e["user"] or "-",
            e["client"] or "-",
            e["action"],
            f"{e['target_kind']} {e['target_id'] or ''}".rstrip(),
            e["outcome"] + (f": {e['reason']}" if e["reason"] else ""),
        )
        for e in items
    ]
    echo_table(("ID", "AT", "USER", "CLIENT", "ACTION", "TARGET", "OUTCOME"), rows)
    echo_count(len(items), total, "entry", "entries")


@audit_app.command("verify")
def audit_verify(
    process: Annotated[
        list[uuid.UUID] | None, typer.Option(metavar="ID", help="Only this process's history (repeatable)")
    ] = None,
) -> None:
    """Walk the hash chains of the process history and of the audit log; exit 1 at the first broken link."""
    from orchestrion.db import init_database
    from orchestrion.services.audit import verify

    init_database()
    history, log = verify(process)
    broken = False
    counts = (f"{history.rows} rows of {history.chains} processes", f"{log.rows} entries")
    for name, report, count in (("history", history, counts[0]), ("audit log", log, counts[1])):
        if report.broken is None:
            typer.echo(f"{name}: OK ({count})")
            continue
        broken = True
        b = report.broken
        typer.echo(f"{name}: BROKEN at {b.chain}, {b.row}: {b.what}", err=True)
    if broken:
        raise typer.Exit(1)
