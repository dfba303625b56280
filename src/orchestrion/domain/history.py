"""Every subscription's history: each transaction that changes a subscription keeps the version it left.

Each writer of subscription rows (``save()``, the in-sync lock, ``set_in_sync``, the lifecycle and
column helpers) calls ``record`` after its write, in its own transaction: a step that rolls back
leaves no version, and reading the current subscription never touches this table. A save already
holds the rows it wrote, so its version costs one INSERT; the other writers change columns only and
read the subscription's rows back (three small queries) so that the snapshot is always whole. Several
changes of one subscription in one transaction are one version: the second updates the row the
first inserted. The snapshot format is described in ``docs/history.md``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from orchestrion.db.domain_models import (
    ProductBlockTable,
    SubscriptionInstanceRelationTable,
    SubscriptionInstanceTable,
    SubscriptionInstanceValueTable,
    SubscriptionTable,
    SubscriptionVersionTable,
)
from orchestrion.db.sessions import connection_of
from orchestrion.db.types import utcnow
from orchestrion.domain.loading import instances_with_values
from orchestrion.domain.snapshot import SUBSCRIPTION_COLUMNS, InstanceState, Rows
from orchestrion.engine.context import current_step, current_step_name

_T = cast(Table, SubscriptionVersionTable.__table__)
_I = SubscriptionInstanceTable
_PENDING = "orchestrion_subscription_versions"  # session.info: (transaction, {subscription: version row})
_VERSION_VALUES = {
    name: bindparam(f"v_{name}", type_=_T.c[name].type)
    for name in ("created_at", "process_id", "step_name", "snapshot")
}
_ROW_ID = bindparam("v_row_id", type_=_T.c.id.type)
_SID = bindparam("v_subscription_id", type_=_T.c.subscription_id.type)
# built once: building a statement cost more than running it; the version is the subscription's next
_INSERT_VERSION = insert(_T).values(
    id=_ROW_ID,
    subscription_id=_SID,
    version=select(func.coalesce(func.max(_T.c.version), 0) + 1).where(_T.c.subscription_id == _SID).scalar_subquery(),
    **_VERSION_VALUES,
)
_UPDATE_VERSION = update(_T).where(_T.c.id == _ROW_ID).values(**_VERSION_VALUES)


def record(
    session: Session, subscription_id: uuid.UUID, rows: Rows | None = None, *, process_id: uuid.UUID | None = None
) -> None:
    """Keep the subscription as this transaction leaves it (``rows``: as just written; None: read it back).

    The step running now names the process and step; ``process_id`` names the process outside a
    step (the transaction that creates a process and reserves its subscription).
    """
    if rows is None:
        rows = stored_rows(session, subscription_id)
    with contextlib.suppress(LookupError):  # outside a step: the process given, if any
        process_id = current_step().process_id
    step_name = current_step_name()
    values = {
        "v_created_at": utcnow(),
        "v_process_id": process_id,
        "v_step_name": step_name,
        "v_snapshot": snapshot_of(subscription_id, rows),
    }
    connection, pending = session.connection(), _pending(session)
    row_id = pending.get(subscription_id)
    if row_id is not None and connection.execute(_UPDATE_VERSION, {"v_row_id": row_id, **values}).rowcount == 1:
        return  # 0 rows: a savepoint took the row back
    row_id = uuid.uuid4()
    connection.execute(_INSERT_VERSION, {"v_row_id": row_id, "v_subscription_id": subscription_id, **values})
    pending[subscription_id] = row_id


def _pending(session: Session) -> dict[uuid.UUID, uuid.UUID]:
    """The versions this transaction wrote so far; a new transaction starts with none."""
    transaction = session.get_transaction()
    held = session.info.get(_PENDING)
    if held is None or held[0] is not transaction:
        held = session.info[_PENDING] = (transaction, {})
    return cast(dict[uuid.UUID, uuid.UUID], held[1])


def stored_rows(session: Session, subscription_id: uuid.UUID) -> Rows:
    """The subscription's rows as the database holds them now, with the other subscriptions' blocks it holds."""
    return stored_rows_of(session, [subscription_id])[subscription_id]


_IDS = bindparam("ids", expanding=True, type_=SubscriptionTable.subscription_id.type)
_OWN = _I.subscription_id.in_(_IDS)
_V, _R, _HELD = SubscriptionInstanceValueTable, SubscriptionInstanceRelationTable, aliased(_I)
_COLUMN_NAMES = (*SUBSCRIPTION_COLUMNS, "product_id")
# built once: building the selects (and their cache keys) cost more than running them
_SUBSCRIPTIONS = select(
    SubscriptionTable.subscription_id, *(getattr(SubscriptionTable, name) for name in _COLUMN_NAMES)
).where(SubscriptionTable.subscription_id.in_(_IDS))
_INSTANCES = instances_with_values(_OWN)
_RELATIONS = (
    select(
        _I.subscription_id,
        _R.in_use_by_id,
        _R.domain_model_attr,
        _R.order_id,
        _R.depends_on_id,
        _HELD.subscription_id,
        ProductBlockTable.name,
    )
    .join(_I, _I.subscription_instance_id == _R.in_use_by_id)
    .join(_HELD, _HELD.subscription_instance_id == _R.depends_on_id)
    .join(ProductBlockTable, ProductBlockTable.product_block_id == _HELD.product_block_id)
    .where(_OWN)
)


def stored_rows_of(session: Session, subscription_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Rows]:
    """``stored_rows`` of several subscriptions in the same three queries (the backfill reads batches)."""
    connection, ids = connection_of(session), {"ids": list(subscription_ids)}
    found = {
        sid: Rows(subscription=dict(zip(_COLUMN_NAMES, values, strict=True)))
        for sid, *values in connection.execute(_SUBSCRIPTIONS, ids)
    }
    ids = {"ids": list(found)}
    for row in connection.execute(_INSTANCES, ids):
        rows, iid = found[row.subscription_id], row.subscription_instance_id
        if iid not in rows.instances:
            rows.instances[iid] = InstanceState(row.name, row.label, row.domain_model_attr, row.order_id)
        if row.resource_type is not None:
            rows.values[(iid, row.resource_type, row.value_order)] = row.value
    for owner, holder, attr, order, held, held_owner, name in connection.execute(_RELATIONS, ids):
        rows = found[owner]
        rows.relations[(holder, attr, order)] = held
        if held_owner != owner:
            rows.foreign[held] = (held_owner, name)
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def snapshot_of(subscription_id: uuid.UUID, rows: Rows) -> dict[str, Any]:
    """The compact JSON of a version: the subscription's columns, its own blocks, and what it refers to."""
    snapshot: dict[str, Any] = {"subscription_id": str(subscription_id)}
    snapshot |= {name: _plain(value) for name, value in rows.subscription.items()}
    text = {iid: str(iid) for iid in rows.instances}  # each id once: str(UUID) is most of the cost
    blocks: dict[str, dict[str, Any]] = {
        text[iid]: {
            "name": state.block_name,
            "label": state.label,
            "field": state.domain_model_attr,
            "position": state.order_id,
            "values": {},
            "holds": {},
        }
        for iid, state in rows.instances.items()
    }
    for (iid, name, _), value in sorted(rows.values.items(), key=lambda item: item[0][2]):
        blocks[text[iid]]["values"].setdefault(name, []).append(value)
    references: dict[str, dict[str, str]] = {}
    for (holder, attr, _), held in sorted(rows.relations.items(), key=lambda item: item[0][2]):
        held_text = text.get(held) or str(held)
        blocks[text[holder]]["holds"].setdefault(attr, []).append(held_text)
        if held not in text and held in rows.foreign:
            owner, name = rows.foreign[held]
            references[held_text] = {"subscription_id": str(owner), "block": name}
    snapshot["blocks"] = blocks
    snapshot["references"] = references
    return snapshot
