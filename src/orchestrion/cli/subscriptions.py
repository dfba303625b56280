"""``orchestrion subscription``: list and inspect subscriptions, through the read model the REST API uses."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer

from orchestrion.cli.imports import Imports, import_modules
from orchestrion.cli.output import echo_count, echo_table, when

subscription_app = typer.Typer(help="List and inspect subscriptions.", no_args_is_help=True)


@subscription_app.command("list")
def subscription_list(
    query: Annotated[
        str | None, typer.Argument(help="Text in the description, the product's name or the customer")
    ] = None,
    status: Annotated[str | None, typer.Option(help="Lifecycle status, e.g. active ('a|b': either)")] = None,
    product: Annotated[str | None, typer.Option(help="Product name or product type")] = None,
    customer: Annotated[str | None, typer.Option(help="Customer id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Show at most this many")] = 20,
) -> None:
    """List subscriptions by description, filtered as the REST API's subscription list is."""
    from orchestrion.db import init_database
    from orchestrion.db.listing import ListQuery, page
    from orchestrion.services.subscription_views import subscription_page

    given = {"status": status, "product": product, "customer": customer}
    filters = [(name, value) for name, value in given.items() if value]
    init_database()
    items, total = subscription_page(ListQuery(page(0, limit), [("description", "ASC")], filters), query)
    rows = [
        (
            str(s["subscription_id"]),
            s["description"],
            s["product"]["name"],
            s["status"],
            "yes" if s["insync"] else "no",
            s["customer_id"],
            when(s["start_date"]),
        )
        for s in items
    ]
    echo_table(("SUBSCRIPTION", "DESCRIPTION", "PRODUCT", "STATUS", "IN SYNC", "CUSTOMER", "STARTED"), rows)
    echo_count(len(items), total, "subscription", "subscriptions")


@subscription_app.command("show")
def subscription_show(
    subscription_id: Annotated[uuid.UUID, typer.Argument(help="Subscription id")],
    imports: Imports = [],  # noqa: B006 - Typer reads the default; it is never mutated
    row: Annotated[bool, typer.Option("--row", help="Print the subscription's row, not its domain model")] = False,
) -> None:
    """Print a subscription as JSON: its domain model with every block, or with --row (or no model) its row.

    The domain model is the product's registered class: import the module that defines it with -i.
    """
    from fastapi.encoders import jsonable_encoder

    from orchestrion.db import init_database
    from orchestrion.domain import SUBSCRIPTION_MODEL_REGISTRY, domain_model_json
    from orchestrion.services.subscription_views import subscription_detail

    import_modules(imports)
    init_database()
    found = subscription_detail(subscription_id)
    product = found["product"]["name"]
    if not row and product not in SUBSCRIPTION_MODEL_REGISTRY:
        typer.echo(f"No domain model is registered for {product!r} (import it with -i); its row:", err=True)
    shown = found if row or product not in SUBSCRIPTION_MODEL_REGISTRY else domain_model_json(subscription_id)
    typer.echo(json.dumps(jsonable_encoder(shown), indent=2))


@subscription_app.command("history")
def subscription_history(
    subscription_id: Annotated[uuid.UUID, typer.Argument(help="Subscription id")],
    version: Annotated[int | None, typer.Option("--version", min=1, metavar="N", help="Print version N")] = None,
    at: Annotated[
        str | None,
        typer.Option(metavar="TIME", help="Print the version current at this ISO 8601 time (UTC without an offset)"),
    ] = None,
    diff: Annotated[
        tuple[int, int] | None,
        typer.Option(metavar="FROM TO", help="Print what changed from version FROM (0: before the first) to TO"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Show at most this many versions")] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help="The list as one JSON object per line, with each version's changes")
    ] = False,
) -> None:
    """List a subscription's versions, newest first; or print one version (--version, --at) or a diff (--diff).

    A version (with the subscription as it was, under "subscription") and a diff are JSON, as
    GET /api/subscriptions/ID/versions/N and /diff answer them.
    """
    from fastapi.encoders import jsonable_encoder

    from orchestrion.db import init_database
    from orchestrion.services import subscription_history as history

    if sum(choice is not None for choice in (version, at, diff)) > 1:
        raise typer.BadParameter("give one of --version, --at and --diff")
    moment = _moment(at) if at is not None else None
    init_database()
    if version is not None:
        shown = history.version(subscription_id, version)
    elif moment is not None:
        shown = history.version_at(subscription_id, moment)
    elif diff is not None:
        shown = history.versions_diff(subscription_id, *diff)
    else:
        _echo_versions(subscription_id, limit, as_json)
        return
    typer.echo(json.dumps(jsonable_encoder(shown), indent=2))


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint="--at") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _echo_versions(subscription_id: uuid.UUID, limit: int, as_json: bool) -> None:
    from fastapi.encoders import jsonable_encoder

    from orchestrion.db.listing import page
    from orchestrion.services.subscription_history import versions_page

    items, total = versions_page(subscription_id, page(0, limit))
    if as_json:
        for item in items:
            typer.echo(json.dumps(jsonable_encoder(item), sort_keys=True))
        return
    rows = [
        (str(v["version"]), when(v["created_at"]), str(v["process_id"] or "-"), v["step_name"] or "-", v["summary"])
        for v in items
    ]
    echo_table(("VERSION", "TIME", "PROCESS", "STEP", "CHANGES"), rows)
    echo_count(len(items), total, "version", "versions")
