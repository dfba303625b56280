"""Clauses for table columns, chosen by the column's type (orchestrator-core's ``inferred_filter``).

- text: a word matches the whole value, ignoring case; ``word*`` a prefix; a phrase its words in
  order; alternatives any of them. A list's free text (bare words of ``query``) finds them anywhere
  in the value instead (``text_contains``).
- UUIDs: a whole UUID matches equal; a partial one matches as text.
- booleans: ``true``/``false``.
- timestamps and integers: ``>=v``, ``<=v``, ``>v``, ``<v`` compare; anything else matches as text.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, String, cast, false, func, inspect, or_, select

from orchestrion.db.search_query import Node, WhereCondGenerator, node_text
from orchestrion.db.types import case_folded
from orchestrion.errors import InvalidInputError

__all__ = ["default_inferred_column_clauses", "filter_exact", "inferred_filter", "python_type_of", "text_contains"]


def _values(node: Node) -> list[Node]:
    return list(node[1]) if node[0] == "ValueGroup" else [node]


def _escaped(node: Node) -> str:
    """The text of a value node for LIKE: ``%``, ``_`` and the escape character in it are literal."""
    return node_text(node).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _pattern(node: Node) -> str:
    """A LIKE pattern for a value node: the whole value, or its start for a prefix word."""
    if node[0] == "PrefixWord" or (node[0] == "Phrase" and node[1] and node[1][-1][0] == "PrefixWord"):
        return _escaped(node) + "%"
    return _escaped(node)


def _like(column: Any, pattern: Callable[[Node], str]) -> WhereCondGenerator:
    """Any of a node's values matches ``pattern`` of it, ignoring case. The column itself, not
    ``coalesce(column, '')``: a missing value matches no pattern either, and PostgreSQL's trigram
    indexes (migration 0016) are built on ``lower(column)``."""
    lowered = case_folded(column)

    def clause(node: Node) -> ColumnElement[bool]:
        return or_(*(lowered.like(pattern(v).lower(), escape="\\") for v in _values(node)))

    return clause


def _text(column: Any) -> WhereCondGenerator:
    return _like(column, _pattern)


def text_contains(column: Any) -> WhereCondGenerator:
    """Free text: a word, prefix or phrase found anywhere in the value, ignoring case (``rt1`` finds
    "Node rt1 (Amsterdam)"), as a list's search box expects; ``field:value`` keeps the field's clause."""
    return _like(column, lambda node: f"%{_escaped(node)}%")


def filter_exact(column: Any, spellings: Iterable[str] = ()) -> WhereCondGenerator:
    """Equal to one of the values, ignoring case (tags, product types, statuses).

    ``spellings``: every value the column can hold (an enum's), each spelled one way. A value is then
    matched to its spelling and the column compared as it is, which its index and the planner's
    statistics serve (``lower(column)`` has neither: at a million processes a status tab's count took
    160 ms where 15 would do, and its total, misjudged a thousandfold, was counted instead of
    estimated); a value that is none of them matches nothing.
    """
    spelled = {str(value).lower(): str(value) for value in spellings}

    def spelling(node: Node) -> ColumnElement[bool]:
        known = [spelled[value] for value in (node_text(v).lower() for v in _values(node)) if value in spelled]
        return column.in_(known) if known else false()

    if spelled:
        return spelling
    lowered = func.lower(column)

    def clause(node: Node) -> ColumnElement[bool]:
        return lowered.in_([node_text(v).lower() for v in _values(node)])

    return clause


def _uuid(column: Any) -> WhereCondGenerator:
    as_text = _text(cast(column, String))

    def clause(node: Node) -> ColumnElement[bool]:
        conditions = []
        for value in _values(node):
            try:
                conditions.append(column == uuid.UUID(node_text(value)))
            except ValueError:
                conditions.append(as_text(value))
        return or_(*conditions)

    return clause


def _boolean(column: Any) -> WhereCondGenerator:
    def clause(node: Node) -> ColumnElement[bool]:
        wanted = {node_text(v).lower() for v in _values(node)}
        if not wanted <= {"true", "false"}:
            raise InvalidInputError(f"{', '.join(sorted(wanted))}: a yes/no field takes true or false")
        return column.in_([w == "true" for w in wanted])

    return clause


def _datetime(text: str) -> datetime:
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"{text!r} is not a date (ISO 8601: 2026-12-01 or 2026-12-01T10:00:00+00:00)") from None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidInputError(f"{text!r} is not an integer") from None


_COMPARISONS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    ">=": lambda c, v: c >= v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    "<": lambda c, v: c < v,
}


def _comparable(column: Any, convert: Callable[[str], Any]) -> WhereCondGenerator:
    as_text = _text(cast(column, String))

    def clause(node: Node) -> ColumnElement[bool]:
        conditions = []
        for value in _values(node):
            text = node_text(value)
            op = next((o for o in _COMPARISONS if text.startswith(o)), None)
            conditions.append(_COMPARISONS[op](column, convert(text[len(op) :])) if op else as_text(value))
        return or_(*conditions)

    return clause


def python_type_of(column: Any) -> type:
    """The Python type of a column's values (a type decorator's: its underlying type's)."""
    return getattr(column.type, "impl_instance", column.type).python_type


def inferred_filter(column: Any) -> WhereCondGenerator:
    """The clause for a column, by its Python type."""
    python_type = python_type_of(column)
    if python_type is str:
        return _text(column)
    if python_type is uuid.UUID:
        return _uuid(column)
    if python_type is bool:
        return _boolean(column)
    if python_type is datetime:
        return _comparable(column, _datetime)
    if python_type is int:
        return _comparable(column, _integer)
    return lambda node: false()


def through(column: Any, key: Any, clause: WhereCondGenerator) -> WhereCondGenerator:
    """``clause`` on a joined table, as ``column IN (SELECT key WHERE clause)``: a process's workflow, a
    subscription's product. The list's own table then answers it alone, so its total is counted
    without the join (``listing.counted_alone``)."""

    def through_key(node: Node) -> ColumnElement[bool]:
        return column.in_(select(key).where(clause(node)))

    return through_key


def default_inferred_column_clauses(table: Any) -> dict[str, WhereCondGenerator]:
    """A clause for every column of an ORM table, by column key."""
    return {key: inferred_filter(column) for key, column in inspect(table).columns.items()}
