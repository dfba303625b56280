"""The ``customers`` query: orchestrion knows one customer, the configured default."""

from __future__ import annotations

from orchestrion.graphql.pagination import Connection, to_graphql_result_page
from orchestrion.graphql.schemas.customer import CustomerType, default_customer
from orchestrion.graphql.types import GraphqlFilter, GraphqlSort, OrchestratorInfo
from orchestrion.graphql.utils import create_resolver_error_handler
from orchestrion.names import camel_to_snake

_FIELDS = ("customer_id", "fullname", "shortcode")


async def resolve_customer(
    info: OrchestratorInfo,
    filter_by: list[GraphqlFilter] | None = None,
    sort_by: list[GraphqlSort] | None = None,
    first: int = 1,
    after: int = 0,
) -> Connection[CustomerType]:
    customer = default_customer(info)
    matches = after == 0
    for item in filter_by or []:
        key = camel_to_snake(item.field)
        if key not in _FIELDS:
            create_resolver_error_handler(info)(
                "Invalid filter arguments",
                invalid_filters=[item.field],
                valid_filter_keys=["customerId", "fullname", "shortcode"],
            )
            continue
        matches = matches and getattr(customer, key).lower() in [v.lower() for v in item.value.split("|")]
    fields = ["customerId", "fullname", "shortcode"]
    return to_graphql_result_page([customer] if matches else [], first, after, int(matches), fields, fields)
