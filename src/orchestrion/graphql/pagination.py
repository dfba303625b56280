"""Pages of the GraphQL lists: orchestrator-core's offset pagination (``first``, ``after``).

``startCursor`` is the offset of the page's first item (null for an empty page), ``endCursor`` that
of its last, ``hasNextPage`` whether items follow (resolvers fetch one more than ``first`` to
know), ``totalItems`` how many match in all; ``sortFields``/``filterFields`` say what the list can
be sorted and filtered on (clients enable their column controls by them).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import strawberry

T = TypeVar("T")

MAX_PAGE_SIZE = 1_000_000  # orchestrator-ui asks for "everything" as first: 1000000


@strawberry.federation.type(shareable=True, description="Where a page lies in its list")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: int | None
    end_cursor: int | None
    total_items: int | None
    sort_fields: list[str]
    filter_fields: list[str]


@strawberry.type(description="A page of a list, and where it lies in the list")
class Connection(Generic[T]):
    page_info: PageInfo
    page: list[T]


EMPTY_PAGE: Connection[Any] = Connection(
    page=[],
    page_info=PageInfo(
        has_next_page=False,
        has_previous_page=False,
        start_cursor=0,
        end_cursor=-1,
        total_items=0,
        sort_fields=[],
        filter_fields=[],
    ),
)


def to_graphql_result_page(
    items: list[Any],
    first: int,
    after: int,
    total: int | None,
    sort_fields: list[str] | None = None,
    filter_fields: list[str] | None = None,
) -> Connection[Any]:
    """The page of ``items`` (up to ``first + 1`` fetched from offset ``after``)."""
    page = items[:first]
    return Connection(
        page=page,
        page_info=PageInfo(
            has_next_page=len(items) > first,
            has_previous_page=after > 0,
            start_cursor=after if page else None,
            end_cursor=after + len(page) - 1,
            total_items=total or 0,
            sort_fields=sort_fields or [],
            filter_fields=filter_fields or [],
        ),
    )
