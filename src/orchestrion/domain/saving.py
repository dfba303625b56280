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

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from sqlalchemy import Connection, Delete, Insert, Table, Update, and_, bindparam, delete, insert, select, update

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


@cache
def _subscription_update(columns: tuple[str, ...]) -> Update:
    """The subscription row's update of ``columns`` (and its version) if still at the version loaded, built once
    per set of columns: building a statement costs more than running it."""
    return (
        update(_S)
        .where(
            _S.c.subscription_id == _param("s_id", _S.c.subscription_id),
            _S.c.version == _param("s_loaded", _S.c.version),
        )
        .values({_S.c[name]: _param(f"s_{name}", _S.c[name]) for name in (*columns, "version")})
    )


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


@dataclass(frozen=True)
class _Slots:
    """Rows that each hold one value in a slot keyed by three columns (a block's relations, its resource
    values): the statements that write the difference between two versions of them, built once."""

    delete: Delete
    update: Update
    insert: Insert

    @classmethod
    def of(cls, table: Table, keys: dict[str, str], value: tuple[str, str]) -> _Slots:
        """``keys``: the slot's columns and their bind names; ``value``: the value's column and bind name."""
        slot = and_(*(table.c[column] == bindparam(name) for column, name in keys.items()))
        column, name = value
        own: dict[str, Any] = {column: bindparam(name)}
        return cls(
            delete(table).where(slot),
            update(table).where(slot).values(own),
            insert(table).values({**{c: bindparam(n) for c, n in keys.items()}, **own}),
        )

    def write(
        self, connection: Connection, diff: tuple[list[Any], list[Any], list[Any]], params: Callable[[list[Any]], Any]
    ) -> None:
        """Delete, update and insert the slots of ``diff`` (``_diff``); ``params``: their bind values."""
        for statement, keys in zip((self.delete, self.update, self.insert), diff, strict=True):
            if keys:
                connection.execute(statement, params(keys))


_RELATIONS = _Slots.of(
    _R, {"in_use_by_id": "b_parent", "domain_model_attr": "b_attr", "order_id": "b_order"}, ("depends_on_id", "b_child")
)
_VALUES = _Slots.of(
    _V,
    {"subscription_instance_id": "b_instance", "resource_type_id": "b_type", "order_id": "b_order"},
    ("value", "b_value"),
)


def _diff(old: dict[Any, Any], new: dict[Any, Any], removed: set[UUID]) -> tuple[list[Any], list[Any], list[Any]]:
    """The slots (keyed by their instance first) gone, changed and added from ``old`` to ``new``; the slots of
    removed instances go with them (ON DELETE CASCADE)."""
    gone = [key for key in old if key not in new and key[0] not in removed]
    changed = [key for key in new if key in old and old[key] != new[key]]
    return gone, changed, [key for key in new if key not in old]


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

    _RELATIONS.write(connection, _diff(old, new, removed), params)


def _write_values(
    connection: Connection,
    snapshot: Snapshot,
    old: dict[tuple[UUID, str, int], str | None],
    new: dict[tuple[UUID, str, int], str | None],
    removed: set[UUID],
) -> None:
    diff = _diff(old, new, removed)
    type_ids = _catalogue_ids(
        connection,
        snapshot.resource_type_ids,
        {name for keys in diff for _, name, _ in keys},
        ResourceTypeTable.resource_type,
        ResourceTypeTable.resource_type_id,
        "resource type",
    )

    def params(keys: Iterable[tuple[UUID, str, int]]) -> list[dict[str, Any]]:
        return [
            {"b_instance": i, "b_type": type_ids[n], "b_order": o, "b_value": new.get((i, n, o))} for i, n, o in keys
        ]

    _VALUES.write(connection, diff, params)


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
