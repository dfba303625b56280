"""``orchestrion subscription``: list and inspect subscriptions, through the read model the REST API uses."""

from __future__ import annotations

import json
import uuid
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
