"""Tamper evidence: the hash chains over history rows (one per process) and audit entries (one in all).

Each row's hash is the SHA-256 of the canonical JSON of its named fields plus the previous row's
hash, so editing a row, or deleting one in the middle, breaks the link to the next. The canonical
JSON is orjson's with keys sorted at every level and no whitespace; times are ISO 8601 in UTC, ids
their text. The writers hash the values they are about to store (the state as the next step sees
it), so checkpoints need no extra query; ``orchestrion audit verify`` recomputes the hashes from
the rows as stored (``storage.verify``). docs/audit.md says exactly what is covered.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

_SORTED = orjson.OPT_SORT_KEYS


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(fields, option=_SORTED)).hexdigest()


def step_hash(
    prev: str | None,
    *,
    step_id: uuid.UUID,
    process_id: uuid.UUID,
    seq: int,
    name: str,
    step_key: str,
    status: str,
    state: Any,
    created_by: str | None,
    action: str | None,
    started_at: datetime,
    completed_at: datetime,
    state_json: bytes | None = None,
) -> str:
    """A history row's hash; ``prev``: the hash of the process's row before it (None for its first).

    ``state_json``: the canonical JSON of ``state``, when the caller has it (the engine writes it so):
    hashed as it is instead of serialising ``state`` again; the hash is the same.
    """
    fields: dict[str, Any] = {
        "prev": prev,
        "step_id": str(step_id),
        "process_id": str(process_id),
        "seq": seq,
        "name": name,
        "step_key": step_key,
        "status": status,
        "created_by": created_by,
        "action": action,
        "started_at": _when(started_at),
        "completed_at": _when(completed_at),
    }
    fields["state"] = state if state_json is None else orjson.Fragment(state_json)  # written as it is
    return _digest(fields)


def step_row_hash(row: Any, prev: str | None) -> str:
    """The hash of a history row as stored (anything with its columns as attributes), linked to ``prev``."""
    return step_hash(
        prev,
        step_id=row.step_id,
        process_id=row.process_id,
        seq=row.seq,
        name=row.name,
        step_key=row.step_key,
        status=row.status,
        state=row.state,
        created_by=row.created_by,
        action=row.action,
        started_at=row.started_at,
        completed_at=row.completed_at,
    )


def audit_hash(entry: Any) -> str:
    """An audit entry's hash (anything with its columns as attributes), linked to its ``prev_hash`` (None for
    the first entry ever)."""
    return _digest(
        {
            "prev": entry.prev_hash,
            "id": entry.id,
            "at": _when(entry.at),
            "user": entry.user,
            "client": entry.client,
            "action": entry.action,
            "target_kind": entry.target_kind,
            "target_id": entry.target_id,
            "details": entry.details,
            "outcome": entry.outcome,
            "reason": entry.reason,
        }
    )
