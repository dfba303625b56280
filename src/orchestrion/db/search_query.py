"""orchestrator-core's search mini-language, for the ``query`` argument of the GraphQL lists.

    node*  status:active  description:"core link"  tag:(PORT|NODE)  -insync:true  (a | b) c

Terms are ANDed; ``|`` between terms means OR; ``-`` negates a term; ``word*`` matches a prefix;
``"..."`` is a phrase; ``key:value`` matches one field (``key:(a|b)`` either value), a bare word any
of the list's text fields. The tree uses orchestrator-core's node shapes (``("Word", "node")``,
``("PrefixWord", "no")``, ``("Phrase", [words])``, ``("ValueGroup", [values])``, ``("KVTerm", (key,
value))``, ``("Negation", term)``, ``("Group", [and-expressions])``, ``("AndExpression", [terms])``,
``("Query", [and-expressions])``), so clause functions written for it carry over.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, not_, or_, true

from orchestrion.errors import InvalidInputError
from orchestrion.names import camel_to_snake

Node = tuple[str, Any]
# Turns a value node (a word, prefix word, phrase or value group) into a condition on one field.
WhereCondGenerator = Callable[[Node], ColumnElement[bool]]


class ParseError(InvalidInputError):
    """A query that does not follow the grammar (answered as a GraphQL error, the list left empty)."""


_SPECIAL = '|-*():"'
_TOKEN = re.compile(r'\s+|[|*():"]|-(?=\S)|[^\s|*():"]+')


def _tokens(source: str) -> list[str]:
    tokens = []
    for match in _TOKEN.finditer(source):
        text = match.group()
        if not text.isspace():
            tokens.append(text)
    return [*tokens, ""]  # "" ends the query


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _tokens(source)
        self.pos = 0

    def peek(self) -> str:
        return self.tokens[self.pos]

    def take(self, expected: str | None = None) -> str:
        token = self.tokens[self.pos]
        if expected is not None and token != expected:
            raise ParseError(f"expected {expected or 'the end of the query'!r}, found {token or 'the end'!r}")
        self.pos += 1
        return token

    def is_word(self) -> bool:
        token = self.peek()
        return bool(token) and token not in _SPECIAL

    def query(self) -> Node:
        expressions = []
        while True:
            if (expression := self.and_expression()) is not None:
                expressions.append(expression)
            if self.peek() in ("", ")"):
                return "Query", expressions
            self.take("|")

    def and_expression(self) -> Node | None:
        terms = []
        while (term := self.term()) is not None:
            terms.append(term)
        return ("AndExpression", terms) if terms else None

    def term(self) -> Node | None:
        if self.peek() == "-":
            self.take()
            positive = self.positive_term()
            return ("Negation", positive) if positive is not None else None
        return self.positive_term()

    def positive_term(self) -> Node | None:
        if self.peek() == "(":
            self.take()
            group = self.query()
            self.take(")")
            return "Group", group[1]
        value = self.value()
        if value is None or self.peek() != ":":
            return value
        self.take(":")
        matched = self.value_group() if self.peek() == "(" else self.value()
        if matched is None or (matched[0] == "Phrase" and not matched[1]):
            raise ParseError(f"{value[1]}: needs a value")
        return "KVTerm", (value, matched)

    def value(self) -> Node | None:
        if self.peek() == '"':
            return self.phrase()
        return self.search_word() if self.is_word() else None

    def search_word(self) -> Node:
        word = self.take()
        if self.peek() == "*":
            self.take()
            return "PrefixWord", word
        return "Word", word

    def phrase(self) -> Node:
        self.take('"')
        words = []
        while self.is_word():
            words.append(self.search_word())
        self.take('"')
        return "Phrase", words

    def value_group(self) -> Node:
        self.take("(")
        values = []
        while (value := self.value()) is not None:
            values.append(value)
            if self.peek() != "|":
                break
            self.take("|")
        self.take(")")
        if not values:
            raise ParseError("a value group needs at least one value")
        return "ValueGroup", values


def parse(source: str) -> Node:
    """The parse tree of a query; ``ParseError`` says what is wrong with it."""
    parser = _Parser(source)
    tree = parser.query()
    parser.take("")
    return tree


def node_text(node: Node) -> str:
    """A value node as text: a phrase's words joined by spaces."""
    kind, value = node
    if kind == "Phrase":
        return " ".join(word for _, word in value)
    return str(value)


def negated(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    """``clause`` did not match: also where it is unknown, on a missing (NULL) value (``-note:x`` finds
    the subscriptions without a note too)."""
    return not_(func.coalesce(clause, false()))


def where(
    tree: Node, clauses: Mapping[str, WhereCondGenerator], free_text: WhereCondGenerator | None
) -> ColumnElement[bool]:
    """The condition a parse tree stands for: ``key:value`` terms through ``clauses`` (by snake_case
    key), bare words and phrases through ``free_text``."""

    def term(node: Node) -> ColumnElement[bool]:
        kind, value = node
        if kind == "Negation":
            return negated(term(value))
        if kind == "Group":
            return or_(*(conjunction(e) for e in value)) if value else true()
        if kind == "KVTerm":
            (_, key), matched = value
            clause = clauses.get(camel_to_snake(key))
            if clause is None:
                raise ParseError(f"cannot search on {key!r}; choose from {', '.join(sorted(clauses))}")
            return clause(matched)
        if free_text is None:
            raise ParseError(f"{node_text(node)!r} needs a field (field:value)")
        return free_text(node)

    def conjunction(node: Node) -> ColumnElement[bool]:
        return and_(*(term(t) for t in node[1]))

    _, expressions = tree
    return or_(*(conjunction(e) for e in expressions)) if expressions else true()
