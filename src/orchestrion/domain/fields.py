"""How a domain model's fields map onto the database.

A field typed as a product block (or a list, Optional or union of blocks) is a *block field*:
its blocks are subscription instances linked by relations. Every other declared field is a
*value field*: a resource type on a block, a fixed input on a subscription. Values are stored as
text, one row per item: types whose JSON form is a string (str, UUID, datetime, IP addresses,
Decimal, string enums) as that string, everything else (numbers, booleans, integer enums,
unions, nested data) as JSON text, so ``5`` and ``"5"`` stay different. ``None`` is a NULL value,
and a list that is ``None`` (rather than empty) is a single NULL row at position -1.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import annotated_types
import orjson
from pydantic import TypeAdapter
from pydantic.fields import FieldInfo

if TYPE_CHECKING:
    from orchestrion.domain.base import ProductBlockModel

NONE_LIST_ORDER = -1  # the order_id of the row that stores a list field set to None


@dataclass(frozen=True, slots=True)
class BlockField:
    """A field holding blocks: which block classes it accepts and how many."""

    name: str
    candidates: tuple[type[ProductBlockModel], ...]
    is_list: bool
    optional: bool
    min_items: int
    max_items: int | None

    def class_for(self, block_name: str) -> type[ProductBlockModel] | None:
        """The accepted class for a stored block of this name (a union field picks by name)."""
        for candidate in self.candidates:
            if candidate.__product_block_name__ == block_name:
                return candidate
        return None

    def blocks(self, value: Any) -> list[ProductBlockModel]:
        """The field's blocks in order (none when it is None)."""
        if value is None:
            return []
        return list(value) if self.is_list else [value]


@dataclass(frozen=True, slots=True)
class ValueField:
    """A resource type (on a block) or fixed input (on a subscription), with its text codec."""

    name: str
    is_list: bool
    as_text: bool  # stored as the plain string of its JSON form, not as JSON text

    def encode(self, dumped: Any) -> list[tuple[int, str | None]]:
        """Rows ``(order_id, value)`` for the field's JSON-mode dump."""
        if not self.is_list:
            return [(0, self._encode_item(dumped))]
        if dumped is None:
            return [(NONE_LIST_ORDER, None)]
        return [(i, self._encode_item(item)) for i, item in enumerate(dumped)]

    def decode(self, rows: Iterable[tuple[int, str | None]]) -> Any:
        """The value to validate, from its stored rows (sorted by order_id)."""
        rows = list(rows)
        if not self.is_list:
            return self.decode_item(rows[0][1])
        if rows and rows[0][0] == NONE_LIST_ORDER:
            return None
        return [self.decode_item(text) for _, text in rows]

    def _encode_item(self, item: Any) -> str | None:
        if item is None:
            return None
        if self.as_text and isinstance(item, str):
            return item
        return orjson.dumps(item).decode()

    def decode_item(self, text: str | None) -> Any:
        if text is None or self.as_text:
            return text
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:  # written by hand or by another tool: let validation judge the text
            return text


def _strip_annotated(annotation: Any, metadata: list[Any]) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        metadata.extend(annotation.__metadata__)
        annotation = annotation.__origin__
    return annotation


def _union_members(annotation: Any) -> tuple[list[Any], bool]:
    """The members of a union (or the annotation itself) without None, and whether None was one."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = typing.get_args(annotation)
        return [m for m in members if m is not type(None)], type(None) in members
    return [annotation], False


def _is_block_class(annotation: Any) -> bool:
    from orchestrion.domain.base import ProductBlockModel

    return isinstance(annotation, type) and issubclass(annotation, ProductBlockModel)


def _length_bounds(metadata: list[Any]) -> tuple[int, int | None]:
    low, high = 0, None
    for item in metadata:
        if isinstance(item, annotated_types.Len):
            low, high = item.min_length, item.max_length
        elif isinstance(item, annotated_types.MinLen):
            low = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            high = item.max_length
    return low, high


def _stored_as_text(annotation: Any) -> bool:
    try:
        schema = TypeAdapter(annotation).json_schema(mode="serialization")
    except Exception:  # types without a JSON schema are written as JSON text
        return False
    return schema.get("type") == "string"


def classify(name: str, info: FieldInfo) -> BlockField | ValueField:
    """Decide from a field's annotation whether it holds blocks or values."""
    metadata = list(info.metadata)
    members, optional = _union_members(_strip_annotated(info.annotation, metadata))
    single = _strip_annotated(members[0], metadata) if len(members) == 1 else None
    is_list = typing.get_origin(single) in (list, Sequence)  # Sequence: covariant, for lifecycle subclasses
    if is_list:
        (item,) = typing.get_args(single) or (Any,)
        members, _ = _union_members(_strip_annotated(item, []))
    blocks = [m for m in members if _is_block_class(m)]
    if not blocks:
        item_type = members[0] if len(members) == 1 else typing.Union[tuple(members)]  # noqa: UP007
        return ValueField(name, is_list, _stored_as_text(item_type))
    if len(blocks) != len(members):
        raise TypeError(f"field {name!r} mixes product blocks with other types: {info.annotation!r}")
    low, high = _length_bounds(metadata) if is_list else (0, None)
    return BlockField(name, tuple(blocks), is_list, optional, low, high)
