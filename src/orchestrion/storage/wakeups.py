"""Waking a parent: in the transaction in which one of its children ends, under the parent's row lock.

The child's transaction locks the parent's row, counts the group's children by status (its own
new status included) and, when the parent's recorded ``WakeCondition`` is met, marks the parent
``resumed`` for any worker to claim. The parent's waiting step takes the same row lock before it
reads its children (``SqlChildren.of``), so a child ending while the parent decides to wait is
either counted by the parent or wakes it afterwards: no wake-up is lost. A parent that failed
because children failed is woken the same way once none of them is failed any more (a child
retried to completion lets its parent go on).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, func, select

from orchestrion.db.statements import FastStatement, RawConnection
from orchestrion.engine.children import WakeCondition
from orchestrion.engine.status import FAILED_STATUSES, ProcessStatus
from orchestrion.storage.tables import P, update_process

_PARENT = FastStatement(
    select(P.c.last_status, P.c.awaiting_children)
    .where(P.c.process_id == bindparam("parent", type_=P.c.process_id.type))
    .with_for_update()
)
_COUNTS = FastStatement(
    select(P.c.last_status, func.count())
    .where(
        P.c.parent_process_id == bindparam("parent", type_=P.c.process_id.type),
        P.c.child_group == bindparam("group", type_=P.c.child_group.type),
    )
    .group_by(P.c.last_status)
)
WAKE_ACTION = "children"  # the action a woken parent's history rows name (by SYSTEM)


def wake_parent(
    connection: Connection | RawConnection, parent: uuid.UUID | None, group: str | None, now: datetime
) -> uuid.UUID | None:
    """A process just ended (in this transaction): if it is a child of ``parent`` in ``group``, wake the
    parent when it may go on; the parent woken, or None (also for a process that is nobody's child)."""
    if parent is None or group is None:
        return None
    found = _PARENT.fetchone(connection, {"parent": parent})
    if found is None or found[1] is None:
        return None
    status, condition = ProcessStatus(found[0]), WakeCondition.from_json(_json(found[1]))
    if condition.group != group:
        return None
    rows = _COUNTS.execute(connection, {"parent": parent, "group": group}).fetchall()
    counts = {ProcessStatus(s): int(n) for s, n in rows}
    if status == ProcessStatus.AWAITING_CHILDREN:
        wake = condition.met(counts)
    else:  # failed because of its children: go on once none is failed any more
        wake = status in FAILED_STATUSES and not any(counts.get(s) for s in FAILED_STATUSES)
    if wake:
        values = {
            "last_status": ProcessStatus.RESUMED.value,
            "claimed_by": None,
            "lease_until": None,
            "run_by": "SYSTEM",
            "run_action": WAKE_ACTION,
            "failed_reason": None,
            "traceback": None,
            "last_modified_at": now,
        }
        update_process(connection, parent, values)
    return parent if wake else None


def _json(value: Any) -> dict[str, Any]:
    """The column as the bare driver returns it: a dict on PostgreSQL (JSONB), text on SQLite."""
    return dict(orjson.loads(value) if isinstance(value, str | bytes) else value)
