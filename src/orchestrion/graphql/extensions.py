"""Schema extensions: the problems resolvers reported go into the answer's ``errors``, next to the data."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension


class ErrorCollector(SchemaExtension):
    """Adds ``context.errors`` (filters that could not be applied, ...) to the result's errors."""

    def on_execute(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        result = self.execution_context.result
        collected = getattr(context, "errors", None)
        if result is not None and collected:
            result.errors = [*(result.errors or []), *collected]
