"""The engine writes a state as canonical JSON, and the history's hash over those bytes is the hash
docs/audit.md defines (over the state parsed back, serialised with sorted keys), which
``audit verify`` recomputes from the stored row."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest

from orchestrion.db.chain import step_hash
from orchestrion.engine.serialization import canonical_dumps, canonical_roundtrip


@dataclasses.dataclass
class Reversed:
    zeta: int
    alpha: dict[str, int]


STATES: list[dict[str, Any]] = [
    {},
    {"b": 1, "a": {"d": [3, {"z": None, "y": 1.5}], "c": "é ✓"}},
    {"when": datetime(2026, 12, 1, 12, 30, tzinfo=UTC), "naive": datetime(2026, 1, 1), "id": uuid.UUID(int=7)},
    {"amount": Decimal("1.10"), "tags": {"only"}, "span": Reversed(1, {"y": 2, "x": 1}), "big": 1e300},
    {"nested": {"state": {"status": "s", "started_at": "t"}}, "status": "x", "state": "y"},
]


def _hash(state: Any, state_json: bytes | None = None) -> str:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    return step_hash(
        "0" * 64,
        step_id=uuid.UUID(int=1),
        process_id=uuid.UUID(int=2),
        seq=3,
        name="Step",
        step_key="Step",
        status="success",
        state=state,
        created_by=None,
        action="start",
        started_at=at,
        completed_at=at,
        state_json=state_json,
    )


@pytest.mark.parametrize("state", STATES, ids=["empty", "nested", "times", "json forms", "field names"])
def test_the_hash_over_the_written_bytes_is_the_hash_over_the_state_read_back(state: dict[str, Any]) -> None:
    parsed, raw, canonical = canonical_roundtrip(state)

    assert canonical
    assert raw == orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS)
    assert _hash(None, raw) == _hash(parsed)


def test_a_state_with_keys_that_are_not_text_is_stored_but_not_taken_as_canonical() -> None:
    raw, canonical = canonical_dumps({1: "int", "1": "text", "a": 0})

    assert not canonical  # the two keys "1" collide: read back, only one is left
    assert orjson.loads(raw)["a"] == 0
