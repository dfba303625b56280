"""Saving a subscription: write the difference between its snapshot and its current rows.

Everything goes through the running step's session, inside its transaction, with no commit: a
step that fails rolls its subscription changes back with it. Each kind of change is one batched
statement, so a save costs a handful of statements whatever the size of the subscription, and
an unchanged subscription costs none. ``version`` goes up by one on every save that changes
anything; the update is conditional on the version that was loaded, so a concurrent change in
between is detected instead of overwritten. A save that changes anything keeps the version it
produced in the subscription's history (``history.record``: one more statement, same transaction).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from sqlalchemy import Connection, Table, Update, bindparam, delete, insert, select, update

from orchestrion.db import db
from orchestrion.db.domain_models import (
    ProductBlockTable,
    ResourceTypeTable,
    SubscriptionInstanceRelationTable,
    SubscriptionInstanceTable,
    SubscriptionInstanceValueTable,
    SubscriptionTable,
)
from orchestrion.domain.history import record
from orchestrion.domain.snapshot import Rows, Snapshot, rows_of
from orchestrion.errors import BlockInUseError, StaleSubscriptionError

if TYPE_CHECKING:
    from orchestrion.domain.base import SubscriptionModel

_S = cast(Table, SubscriptionTable.__table__)
_I = cast(Table, SubscriptionInstanceTable.__table__)
_V = cast(Table, SubscriptionInstanceValueTable.__table__)
_R = cast(Table, SubscriptionInstanceRelationTable.__table__)


_updates: dict[tuple[str, ...], Update] = {}


def _subscription_update(columns: tuple[str, ...]) -> Update:
    """The subscription row's update of ``columns`` (and its version) if still at the version loaded, built once
    per set of columns: building a statement costs more than running it."""
    if (found := _updates.get(columns)) is not None:
        return found
    statement = (
        update(_S)
        .where(
            _S.c.subscription_id == _param("s_id", _S.c.subscription_id),
            _S.c.version == _param("s_loaded", _S.c.version),
        )
        .values({_S.c[name]: _param(f"s_{name}", _S.c[name]) for name in (*columns, "version")})
    )
    _updates[columns] = statement
    return statement


def _param(name: str, column: Any) -> Any:
    return bindparam(name, type_=column.type)


def save_subscription(model: SubscriptionModel) -> None:
    session = db.session  # the step's transaction; outside a step the scope's session, committed by its owner
    session.flush()  # ORM objects the step added (catalogue rows, say) must exist before our rows refer to them
    snapshot: Snapshot = model._snapshot or Snapshot()
    old, new = snapshot.rows, rows_of(model)
    if snapshot.stored and old == new:
        return
    sid = model.subscription_id
    version = snapshot.version + 1 if snapshot.stored else 1
    connection = session.connection()
    if snapshot.stored:
        changed = {k: v for k, v in new.subscription.items() if old.subscription.get(k) != v}
        params = {"s_id": sid, "s_loaded": snapshot.version, "s_version": version}
        params.update({f"s_{k}": v for k, v in changed.items()})
        if connection.execute(_subscription_update(tuple(changed)), params).rowcount != 1:
            raise StaleSubscriptionError(
                f"subscription {sid} was changed or deleted since it was loaded (at version {snapshot.version})"
            )
    else:
        session.execute(insert(_S).values(subscription_id=sid, version=version, **new.subscription))
    _write_instances(connection, snapshot, old, new, sid)
    record(session, sid, new)
    model._snapshot = Snapshot(new, True, version, snapshot.block_ids, snapshot.resource_type_ids)
    model.version = version


# The rows' statements, built once (executemany: one statement for each kind of change).
_INSERT_INSTANCE = insert(_I).values(
    subscription_instance_id=bindparam("b_id"),
    subscription_id=bindparam("b_owner"),
    product_block_id=bindparam("b_block"),
    label=bindparam("b_label"),
    domain_model_attr=bindparam("b_attr"),
    order_id=bindparam("b_order"),
)
_UPDATE_INSTANCE = (
    update(_I)
    .where(_I.c.subscription_instance_id == bindparam("b_id"))
    .values(
        product_block_id=bindparam("b_block"),
        label=bindparam("b_label"),
        domain_model_attr=bindparam("b_attr"),
        order_id=bindparam("b_order"),
    )
)
_RELATION = (
    (_R.c.in_use_by_id == bindparam("b_parent"))
    & (_R.c.domain_model_attr == bindparam("b_attr"))
    & (_R.c.order_id == bindparam("b_order"))
)
_DELETE_RELATION = delete(_R).where(_RELATION)
_MOVE_RELATION = update(_R).where(_RELATION).values(depends_on_id=bindparam("b_child"))
_INSERT_RELATION = insert(_R).values(
    in_use_by_id=bindparam("b_parent"),
    domain_model_attr=bindparam("b_attr"),
    order_id=bindparam("b_order"),
    depends_on_id=bindparam("b_child"),
)
_VALUE = (
    (_V.c.subscription_instance_id == bindparam("b_instance"))
    & (_V.c.resource_type_id == bindparam("b_type"))
    & (_V.c.order_id == bindparam("b_order"))
)
_DELETE_VALUE = delete(_V).where(_VALUE)
_UPDATE_VALUE = update(_V).where(_VALUE).values(value=bindparam("b_value"))
_INSERT_VALUE = insert(_V).values(
    subscription_instance_id=bindparam("b_instance"),
    resource_type_id=bindparam("b_type"),
    order_id=bindparam("b_order"),
    value=bindparam("b_value"),
)


def _write_instances(connection: Connection, snapshot: Snapshot, old: Rows, new: Rows, sid: UUID) -> None:
    removed = old.instances.keys() - new.instances.keys()
    added = [iid for iid in new.instances if iid not in old.instances]
    changed = [iid for iid in new.instances if iid in old.instances and old.instances[iid] != new.instances[iid]]
    block_ids = _catalogue_ids(
        connection,
        snapshot.block_ids,
        {new.instances[iid].block_name for iid in (*added, *changed)},
        ProductBlockTable.name,
        ProductBlockTable.product_block_id,
        "product block",
    )

    def instance_params(iid: UUID) -> dict[str, Any]:
        state = new.instances[iid]
        return {
            "b_id": iid,
            "b_owner": sid,
            "b_block": block_ids[state.block_name],
            "b_label": state.label,
            "b_attr": state.domain_model_attr,
            "b_order": state.order_id,
        }

    if added:
        connection.execute(_INSERT_INSTANCE, [instance_params(iid) for iid in added])
    if changed:
        connection.execute(_UPDATE_INSTANCE, [instance_params(iid) for iid in changed])
    _write_relations(connection, old.relations, new.relations, removed)
    _write_values(connection, snapshot, old.values, new.values, removed)
    if removed:
        _refuse_if_in_use(connection, removed)
        connection.execute(delete(_I).where(_I.c.subscription_instance_id.in_(removed)))


def _write_relations(connection: Connection, old: dict[Any, UUID], new: dict[Any, UUID], removed: set[UUID]) -> None:
    def params(keys: Iterable[tuple[UUID, str, int]]) -> list[dict[str, Any]]:
        return [{"b_parent": p, "b_attr": a, "b_order": o, "b_child": new.get((p, a, o))} for p, a, o in keys]

    # Rows of removed instances go with them (ON DELETE CASCADE).
    gone = [key for key in old if key not in new and key[0] not in removed]
    moved = [key for key in new if key in old and old[key] != new[key]]
    added = [key for key in new if key not in old]
    if gone:
        connection.execute(_DELETE_RELATION, params(gone))
    if moved:
        connection.execute(_MOVE_RELATION, params(moved))
    if added:
        connection.execute(_INSERT_RELATION, params(added))


def _write_values(
    connection: Connection,
    snapshot: Snapshot,
    old: dict[tuple[UUID, str, int], str | None],
    new: dict[tuple[UUID, str, int], str | None],
    removed: set[UUID],
) -> None:
    gone = [key for key in old if key not in new and key[0] not in removed]
    changed = [key for key in new if key in old and old[key] != new[key]]
    added = [key for key in new if key not in old]
    type_ids = _catalogue_ids(
        connection,
        snapshot.resource_type_ids,
        {name for _, name, _ in (*gone, *changed, *added)},
        ResourceTypeTable.resource_type,
        ResourceTypeTable.resource_type_id,
        "resource type",
    )

    def params(keys: Iterable[tuple[UUID, str, int]]) -> list[dict[str, Any]]:
        return [
            {"b_instance": i, "b_type": type_ids[n], "b_order": o, "b_value": new.get((i, n, o))} for i, n, o in keys
        ]

    if gone:
        connection.execute(_DELETE_VALUE, params(gone))
    if changed:
        connection.execute(_UPDATE_VALUE, params(changed))
    if added:
        connection.execute(_INSERT_VALUE, params(added))


def _catalogue_ids(
    connection: Connection, known: dict[str, UUID], names: set[str], name_column: Any, id_column: Any, kind: str
) -> dict[str, UUID]:
    """Ids of catalogue entries by name, looking up (once per model) the ones not seen yet."""
    missing = names - known.keys()
    if missing:
        found = connection.execute(select(name_column, id_column).where(name_column.in_(missing))).all()
        known.update({name: id_ for name, id_ in found})
        if unknown := sorted(missing - known.keys()):
            raise LookupError(f"{kind} {', '.join(map(repr, unknown))} is not in the catalogue (database)")
    return known


def _refuse_if_in_use(connection: Connection, removed: set[UUID]) -> None:
    users = connection.execute(
        select(_R.c.depends_on_id, _I.c.subscription_id)
        .join(_I, _I.c.subscription_instance_id == _R.c.in_use_by_id)
        .where(_R.c.depends_on_id.in_(removed), _R.c.in_use_by_id.not_in(removed))
    ).all()
    if users:
        described = "; ".join(f"block {block} is used by subscription {sub}" for block, sub in users)
        raise BlockInUseError(f"cannot remove blocks still in use: {described}")
