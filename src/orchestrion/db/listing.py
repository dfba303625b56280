"""Paged, sorted, filtered lists: one parser and one way of applying it, for every list the APIs serve.

orchestrator-core's REST conventions (``range=first,end``, ``sort=field,ASC|DESC,...``,
``filter=field,value,...`` where ``a-b`` or ``a|b`` means either) and its GraphQL ones (``first``
and ``after`` offsets, ``sortBy``, ``filterBy``) both come down to a ``ListQuery``: a page, sort
keys and filters, applied to a select by a ``ListSpec`` that names what a list may be sorted and
filtered on.

Totals are counted, except on PostgreSQL beyond ``ESTIMATE_ABOVE`` rows: counting a million rows
takes longer than any page, so there the count stops and the planner's estimate is the total (an
``Estimate``, which the REST API flags with ``X-Total-Count-Estimated: true``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ClauseElement, ColumnElement, Executable, Select, func, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler

from orchestrion.db.types import case_folded
from orchestrion.errors import InvalidInputError

MAX_PAGE = 10_000
ESTIMATE_ABOVE = 20_000  # more rows than PostgreSQL counts within a page's time budget on a small machine
# a guess of more rows than this is taken without counting (the bounded count of a status tab: 15 ms)
TRUST_ABOVE = 4 * ESTIMATE_ABOVE
ESTIMATED_HEADER = "X-Total-Count-Estimated"


class QueryError(InvalidInputError):
    """A bad page, sort or filter (answered with 400)."""


@dataclass(frozen=True)
class Page:
    """Rows ``first`` up to, not including, ``end`` (orchestrator-core's ``range=first,end``)."""

    first: int = 0
    end: int = 100

    @property
    def size(self) -> int:
        return self.end - self.first

    def headers(self, entity: str, total: int) -> dict[str, str]:
        """``Content-Range`` (orchestrator-core's total), flagged when the total is an estimate."""
        headers = {"Content-Range": f"{entity} {self.first}-{self.end}/{total}"}
        if isinstance(total, Estimate):
            headers[ESTIMATED_HEADER] = "true"
        return headers


class Estimate(int):
    """A total that is PostgreSQL's estimate, not a count."""


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON) <query>``, its parameters bound as the query's own."""

    inherit_cache = False

    def __init__(self, query: Select[Any]) -> None:
        self.query = query


@compiles(_Explain)
def _compile_explain(element: _Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.query, **kw)


def planned_rows(session: Session, query: Select[Any]) -> int | None:
    """How many rows PostgreSQL's planner expects ``query`` to return (None on another database)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return int(session.execute(_Explain(query.order_by(None))).scalar_one()[0]["Plan"]["Plan Rows"])


_COLUMN_STATISTICS = text(
    "SELECT most_common_vals::text::text[], most_common_freqs, null_frac FROM pg_stats "
    "WHERE schemaname = current_schema() AND tablename = :table AND attname = :column"
)


def frequent_values(session: Session, table: str, column: str, rows: int) -> set[str] | None:
    """The values of ``column`` that PostgreSQL's statistics say may have more than ``ESTIMATE_ABOVE`` of the
    table's ``rows`` rows (its most common values, with their shares): those whose count may need an estimate.

    None when that cannot be told: no statistics (not analysed yet, another database), or the values
    outside the most common ones may be that many together. The planner's estimates come from
    these statistics, so planning each other value would find it smaller anyway.
    """
    if session.get_bind().dialect.name != "postgresql":
        return None
    found = session.execute(_COLUMN_STATISTICS, {"table": table, "column": column}).first()
    if found is None:
        return None
    values, shares, null_share = found[0] or [], found[1] or [], found[2] or 0.0
    if (1.0 - sum(shares) - null_share) * rows > ESTIMATE_ABOVE:
        return None
    return {value for value, share in zip(values, shares, strict=True) if share * rows > ESTIMATE_ABOVE}


def count(session: Session, query: Select[Any], at_least: int = 0) -> int:
    """How many rows ``query`` matches (``at_least``: rows known to exist): counted, or on PostgreSQL an
    ``Estimate`` when there are more than ``ESTIMATE_ABOVE``.

    The planner's guess decides only when it expects far more (``TRUST_ABOVE``); below, PostgreSQL
    counts, up to ``ESTIMATE_ABOVE`` rows: the guess misjudges text and combined filters by orders of
    magnitude both ways (18 subscriptions taken for 20,690, so an estimate was shown; 69,231
    processes for 4,500, so all were counted, in 130 ms). Past that count the total is the larger of
    the guess and the rows known: an under-guess shows as just over ``ESTIMATE_ABOVE``.
    """
    query = query.order_by(None)
    if (planned := planned_rows(session, query)) is None:
        return int(session.execute(select(func.count()).select_from(query.subquery())).scalar_one())
    if planned > TRUST_ABOVE or at_least > ESTIMATE_ABOVE:  # a deep page has seen more than a count would take
        return Estimate(max(planned, at_least))
    bounded = select(func.count()).select_from(query.limit(ESTIMATE_ABOVE + 1).subquery())
    if (counted := int(session.execute(bounded).scalar_one())) <= ESTIMATE_ABOVE:
        return counted
    return Estimate(max(planned, counted, at_least))


def total(session: Session, query: Select[Any], first: int, rows: int, more: bool) -> int:
    """A page that ends the list (``more`` false, from its start or with rows) tells the total without counting."""
    if not more and (rows or not first):
        return first + rows
    return count(session, query, first + rows)


@dataclass(frozen=True)
class ListQuery:
    page: Page = field(default_factory=Page)
    sort: Sequence[tuple[str, str]] = ()  # (field, "ASC" | "DESC")
    filters: Sequence[tuple[str, str]] = ()  # (field, value)


def parse_range(value: str | None) -> Page:
    if not value:
        return Page()
    try:
        first, end = (int(v) for v in value.split(","))
    except ValueError:
        raise QueryError("range is first,end (e.g. range=0,20 for the first twenty)") from None
    return page(first, end)


def page(first: int, end: int) -> Page:
    if first < 0 or end < first or end - first > MAX_PAGE:
        raise QueryError(f"a page must satisfy 0 <= first <= end and cover at most {MAX_PAGE} items")
    return Page(first, end)


def _pairs(values: list[str], what: str) -> list[tuple[str, str]]:
    if len(values) % 2:
        raise QueryError(f"{what} takes field,value pairs")
    return list(zip(values[::2], values[1::2], strict=True))


def parse_rest(range_: str | None, sort: str | None, filter_: str | None) -> ListQuery:
    """The REST query parameters; a last sort field without a direction sorts ascending."""
    sort_values = sort.split(",") if sort else []
    if len(sort_values) % 2:
        sort_values.append("ASC")
    return ListQuery(
        parse_range(range_),
        _pairs(sort_values, "sort"),
        _pairs(filter_.split(",") if filter_ else [], "filter"),
    )


def any_of(value: str) -> list[str]:
    """``a-b-c`` (orchestrator-core's list syntax) or ``a|b``: each of the values."""
    return [v for v in value.replace("|", "-").split("-") if v]


def contains(column: Any, value: str) -> ColumnElement[bool]:
    return case_folded(column).contains(value.lower(), autoescape=True)


def truth(value: str) -> bool:
    if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
        raise QueryError(f"{value!r} is not true or false")
    return value.lower() in ("true", "yes", "1")


@dataclass(frozen=True)
class ListSpec:
    """What one list can be sorted by (columns) and filtered on (value -> condition), and its fixed order."""

    entity: str
    sorts: Mapping[str, Any]
    filters: Mapping[str, Callable[[str], ColumnElement[bool]]]
    tiebreak: Sequence[Any]  # after the requested sort: a stable, unique order

    def apply(self, query: Select[Any], listing: ListQuery) -> Select[Any]:
        for name, value in listing.filters:
            if name not in self.filters:
                raise QueryError(f"cannot filter on {name!r}; choose from {', '.join(sorted(self.filters))}")
            query = query.where(self.filters[name](value))
        return query.order_by(*self.order(listing))

    def order(self, listing: ListQuery) -> list[Any]:
        """The requested sort, then the tiebreak: the ``ORDER BY`` of ``apply``."""
        order = []
        for name, direction in listing.sort:
            if name not in self.sorts or direction.upper() not in ("ASC", "DESC"):
                raise QueryError(
                    f"cannot sort by {name!r} {direction!r}; choose field,ASC|DESC from {', '.join(sorted(self.sorts))}"
                )
            column = self.sorts[name]
            order.append(column.asc() if direction.upper() == "ASC" else column.desc())
        return [*order, *self.tiebreak]

    def fetch_ids(
        self,
        session: Session,
        ids: Select[Any],
        listing: ListQuery,
        read: Callable[[], list[Any] | None] | None = None,
        counted: Select[Any] | None = None,
    ) -> tuple[list[Any], int]:
        """The first column of ``ids`` on one page, in order, and the total: the first half of a deferred join.

        ``ids`` selects as few columns and tables as the order and filters need, so a deep page is read
        off an index instead of carrying whole rows past the offset; the caller fetches the page's
        rows by id (``in_order``). ``read``: another way to the same page's ids (None from it: this
        page is read the usual way after all); ``counted``: a cheaper query with as many rows as match.
        """
        applied = self.apply(ids, listing)
        first, size = listing.page.first, listing.page.size
        page = read() if read else None
        if page is None:
            page = list(session.scalars(applied.offset(first).limit(size)))
        return page, total(session, applied if counted is None else counted, first, len(page), len(page) >= size)

    def fetch(self, session: Session, query: Select[Any], listing: ListQuery) -> tuple[list[Any], int]:
        """One page of ``query``'s rows, and how many rows match in all (see ``count``)."""
        applied = self.apply(query, listing)
        first, size = listing.page.first, listing.page.size
        rows = session.execute(applied.offset(first).limit(size)).all()
        return list(rows), total(session, applied, first, len(rows), len(rows) >= size)


def counted_alone(query: Select[Any], key: Any) -> Select[Any]:
    """A query with as many rows as ``query``: ``key`` and its conditions, on ``key``'s table alone, unless a
    condition names a column of another table (then ``query`` itself).

    What ``offset_page`` counts. A list's query joins what its page shows (a process's workflow, a
    subscription's product), and SQLite joins every row it counts: orchestrator-ui's completed tab
    read 81,000 processes' rows for their workflows (18 ms) where the status index counts them (3 ms).
    Conditions on a joined table belong in a subquery (``key_column IN (SELECT ...)``) to be counted so.
    Only for a query whose joins give each of ``key``'s rows exactly one row (inner joins to the row
    a non-null foreign key names): a join that drops or repeats rows changes the count.
    """
    where = query.whereclause
    alone = select(key) if where is None else select(key).where(where)
    return alone if len(alone.get_final_froms()) == 1 else query


def in_order(rows: Iterable[Any], ids: Sequence[Any], key: Callable[[Any], Any]) -> list[Any]:
    """``rows`` (fetched by id) in the order of ``ids``."""
    position = {value: i for i, value in enumerate(ids)}
    return sorted(rows, key=lambda row: position[key(row)])


def offset_page(
    session: Session, query: Select[Any], first: int, after: int, counted: Select[Any] | None = None
) -> tuple[list[Any], int]:
    """GraphQL's pages: up to ``first + 1`` rows from offset ``after`` (the extra one says whether more
    follow), and how many rows match in all (``counted``: a cheaper query with as many rows)."""
    if first < 0 or after < 0:
        raise QueryError("first and after must not be negative")
    rows = session.execute(query.offset(after).limit(first + 1)).all() if first else []
    more = len(rows) > first or not first
    return list(rows), total(session, query if counted is None else counted, after, min(len(rows), first), more)
