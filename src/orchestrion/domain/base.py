"""Domain models: products, product blocks and subscriptions, one class per lifecycle status.

A product is modelled by a family of classes: a base class (``is_base=True`` for a subscription,
``product_block_name=...`` for a block) whose fields are lenient, and subclasses registered for
lifecycle statuses (``lifecycle=[...]``) whose fields are stricter. Loading picks the class for
the subscription's status; ``from_other_lifecycle`` moves a model to another status by
re-validating it against that status's class, so a subscription cannot become active with data
an active subscription must have missing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self, cast
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from orchestrion.db.types import as_uuid, utcnow
from orchestrion.domain.fields import BlockField, ValueField, classify
from orchestrion.domain.lifecycle import ProductLifecycle, check_lifecycle_change
from orchestrion.domain.loading import load_block, load_product, load_subscription
from orchestrion.domain.registry import (
    BLOCK_MODEL_REGISTRY,
    SUBSCRIPTION_MODEL_REGISTRY,
    class_for_lifecycle,
    register_base,
    register_lifecycles,
)
from orchestrion.domain.relations import block_depends_on_ids, block_in_use_by_ids, in_use_by_instance_ids
from orchestrion.domain.saving import save_subscription
from orchestrion.errors import InvalidInputError
from orchestrion.types import SubscriptionLifecycle

if TYPE_CHECKING:
    from orchestrion.db.domain_models import SubscriptionInstanceTable, SubscriptionTable

__all__ = ["IncompatibleModelError", "ProductBlockModel", "ProductLifecycle", "ProductModel", "SubscriptionModel"]


class IncompatibleModelError(InvalidInputError):
    """A concrete model class was asked to load a subscription of another product or lifecycle status."""


class ProductModel(BaseModel):
    """The catalogue product a subscription is on (read-only from the subscription's point of view)."""

    model_config = ConfigDict(validate_assignment=True)

    product_id: UUID
    name: str
    description: str
    product_type: str
    tag: str
    status: ProductLifecycle
    created_at: datetime | None = None
    end_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class FieldSpecs:
    blocks: dict[str, BlockField]
    values: dict[str, ValueField]


class DomainModel(BaseModel):
    """What blocks and subscriptions share: lifecycle families and the split of their fields."""

    model_config = ConfigDict(validate_assignment=True, validate_default=True)

    __base_type__: ClassVar[type[DomainModel] | None] = None
    __lifecycle__: ClassVar[tuple[SubscriptionLifecycle, ...]] = ()
    _builtin_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def _register_lifecycles(cls, lifecycle: Iterable[SubscriptionLifecycle | str] | None) -> None:
        if lifecycle is None:
            return
        if cls.__base_type__ is None:
            raise TypeError(f"{cls.__name__} declares lifecycle=... but derives from no base class of its family")
        cls.__lifecycle__ = tuple(SubscriptionLifecycle(status) for status in lifecycle)
        register_lifecycles(cls.__base_type__, cls, list(cls.__lifecycle__))

    @classmethod
    def _family(cls) -> type[DomainModel]:
        return cls.__base_type__ or cls

    @classmethod
    def _check_serves(cls, status: SubscriptionLifecycle) -> None:
        """Refuse a status whose class is not ``cls`` or a base of it (orchestrator-core's rule).

        ``Node(NodeProvisioning)`` serves a provisioning subscription (its data must then satisfy
        ``Node``); ``NodeProvisioning`` cannot serve an active one. A status no class of the family
        is registered for is served by the family's base class, so by every class of the family.
        The base class itself (lenient by design) serves every status.
        """
        if cls is cls._family():
            return
        needed = class_for_lifecycle(cls._family(), status)
        if not issubclass(cls, needed):
            raise IncompatibleModelError(
                f"{cls.__name__} cannot hold a {status.value} subscription: that status needs {needed.__name__} "
                f"(or a class derived from it)"
            )

    @classmethod
    def _fields(cls) -> FieldSpecs:
        return _field_specs(cls)


@functools.cache
def _field_specs(cls: type[DomainModel]) -> FieldSpecs:
    """Classify a class's fields once, on first use (annotations may be forward references until then)."""
    if not cls.__pydantic_complete__:
        cls.model_rebuild()  # raises, naming the unresolved annotation, rather than caching a wrong split
    blocks: dict[str, BlockField] = {}
    values: dict[str, ValueField] = {}
    for name, info in cls.model_fields.items():
        if name in cls._builtin_fields:
            continue
        spec = classify(name, info)
        if isinstance(spec, BlockField):
            blocks[name] = spec
        else:
            values[name] = spec
    return FieldSpecs(blocks, values)


def initial_blocks(cls: type[DomainModel], owner: UUID, given: dict[str, Any]) -> dict[str, Any]:
    """Empty blocks for the block fields not in ``given``: required ones created, lists at their minimum."""
    blocks: dict[str, Any] = {}
    for field in cls._fields().blocks.values():
        if field.name in given:
            continue
        count = field.min_items if field.is_list else (0 if field.optional else 1)
        if count and len(field.candidates) != 1:
            raise TypeError(
                f"{cls.__name__}.{field.name} needs a block but accepts several kinds, so none can be created "
                f"for it; make it optional in this class"
            )
        created = [field.candidates[0].new(owner) for _ in range(count)]
        blocks[field.name] = created if field.is_list else (created[0] if created else None)
    return blocks


class ProductBlockModel(DomainModel):
    """A product block: resource values and nested blocks, owned by one subscription.

    A block field may hold a block owned by another subscription; it is saved as a reference and
    never copied or changed through this subscription.
    """

    __product_block_name__: ClassVar[str] = ""
    _builtin_fields = frozenset({"name", "subscription_instance_id", "owner_subscription_id", "label"})

    name: str = ""
    subscription_instance_id: UUID = Field(default_factory=uuid4)
    owner_subscription_id: UUID
    label: str | None = None

    def __init_subclass__(
        cls,
        *,
        product_block_name: str | None = None,
        lifecycle: Iterable[SubscriptionLifecycle | str] | None = None,
        **kwargs: Any,
    ) -> None:
        # The class keywords are handled in __pydantic_init_subclass__, once the fields exist.
        super().__init_subclass__(**kwargs)

    @classmethod
    def __pydantic_init_subclass__(
        cls,
        *,
        product_block_name: str | None = None,
        lifecycle: Iterable[SubscriptionLifecycle | str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if product_block_name is not None:
            cls.__product_block_name__ = product_block_name
            cls.__base_type__ = cls
            cls.__lifecycle__ = ()
            register_base(cls)
            BLOCK_MODEL_REGISTRY[product_block_name] = cls
        cls._register_lifecycles(lifecycle)

    @field_validator("name", mode="before")
    @classmethod
    def _default_name(cls, value: Any) -> Any:
        return value or cls.__product_block_name__

    @classmethod
    def new(cls, subscription_id: UUID | str, **kwargs: Any) -> Self:
        """A new block owned by ``subscription_id``, with empty blocks for its required block fields."""
        owner = as_uuid(subscription_id)
        kwargs |= initial_blocks(cls, owner, kwargs)
        return cls(owner_subscription_id=owner, **kwargs)

    def in_use_by_ids(self) -> list[UUID]:
        """Instance ids of the stored blocks (in any subscription) that hold this block."""
        return block_in_use_by_ids(self.subscription_instance_id)

    def depends_on_ids(self) -> list[UUID]:
        """Instance ids of the stored blocks this block holds."""
        return block_depends_on_ids(self.subscription_instance_id)

    @classmethod
    def from_db(
        cls,
        subscription_instance_id: UUID | str | None = None,
        subscription_instance: SubscriptionInstanceTable | None = None,
        status: SubscriptionLifecycle | str | None = None,
    ) -> Self:
        """A stored block on its own, by instance id (or row), as the class for its owner's status.

        On ``ProductBlockModel`` itself the block's name picks the family; on a block class the
        status must be one the class serves (see ``SubscriptionModel.from_subscription``).
        """
        if subscription_instance is not None:
            subscription_instance_id = subscription_instance.subscription_instance_id
        if subscription_instance_id is None:
            raise TypeError("from_db needs a subscription_instance_id or a subscription_instance")
        return load_block(cls, subscription_instance_id, status)

    @classmethod
    def model_class_for(cls, block_name: str, status: SubscriptionLifecycle | str) -> type[ProductBlockModel]:
        """The class to load a stored block of this name with, for its owner's ``status``."""
        status = SubscriptionLifecycle(status)
        if cls.__base_type__ is None:
            family = BLOCK_MODEL_REGISTRY.get(block_name)
            if family is None:
                raise LookupError(f"no domain model is registered for product block {block_name!r}")
            found = class_for_lifecycle(family, status)
            assert issubclass(found, ProductBlockModel)
            return found
        if cls.__product_block_name__ != block_name:
            raise IncompatibleModelError(
                f"{cls.__name__} models {cls.__product_block_name__!r} blocks, not {block_name!r}"
            )
        cls._check_serves(status)
        return cls

    @property
    def db_model(self) -> SubscriptionInstanceTable | None:
        """This block's row, in the current session (the step's, or the scope's: see ``db.session``)."""
        from orchestrion.db import SubscriptionInstanceTable, db

        return db.session.get(SubscriptionInstanceTable, self.subscription_instance_id)

    @property
    def subscription(self) -> SubscriptionTable | None:
        """The subscription that owns this block (its row), None while the block is not stored."""
        row = self.db_model
        return row.subscription if row is not None else None

    @property
    def in_use_by(self) -> list[SubscriptionInstanceTable]:
        """The stored blocks (rows, in any subscription) that hold this block."""
        row = self.db_model
        return list(row.in_use_by) if row is not None else []

    @property
    def depends_on(self) -> list[SubscriptionInstanceTable]:
        """The stored blocks (rows) this block holds."""
        row = self.db_model
        return list(row.depends_on) if row is not None else []


class SubscriptionModel(DomainModel):
    """A customer's subscription on a product; its blocks are the product's blocks, filled in."""

    _builtin_fields = frozenset(
        {
            "product",
            "customer_id",
            "subscription_id",
            "description",
            "status",
            "insync",
            "start_date",
            "end_date",
            "note",
            "version",
        }
    )

    product: ProductModel
    customer_id: str
    subscription_id: UUID = Field(default_factory=uuid4)
    description: str = "Initial subscription"
    status: SubscriptionLifecycle = SubscriptionLifecycle.INITIAL
    insync: bool = False
    start_date: datetime | None = None
    end_date: datetime | None = None
    note: str | None = None
    version: int = 1

    # What was last loaded or saved, so save() writes only the difference (see domain.saving).
    _snapshot: Any = PrivateAttr(default=None)

    def __init_subclass__(
        cls,
        *,
        is_base: bool = False,
        lifecycle: Iterable[SubscriptionLifecycle | str] | None = None,
        **kwargs: Any,
    ) -> None:
        # The class keywords are handled in __pydantic_init_subclass__, once the fields exist.
        super().__init_subclass__(**kwargs)

    @classmethod
    def __pydantic_init_subclass__(
        cls,
        *,
        is_base: bool = False,
        lifecycle: Iterable[SubscriptionLifecycle | str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if is_base:
            cls.__base_type__ = cls
            cls.__lifecycle__ = ()
            register_base(cls)
        cls._register_lifecycles(lifecycle)

    @classmethod
    def model_class_for(cls, product_name: str, status: SubscriptionLifecycle | str) -> type[SubscriptionModel]:
        """The class to load a subscription of this product and status with, called on ``cls``.

        On ``SubscriptionModel`` itself the registry decides; on a concrete class the product must
        be of its family and the status one it serves: the class registered for the status, or a
        class derived from it (``_check_serves``).
        """
        status = SubscriptionLifecycle(status)
        registered = SUBSCRIPTION_MODEL_REGISTRY.get(product_name)
        if cls is SubscriptionModel:
            if registered is None:
                raise LookupError(f"no domain model is registered for product {product_name!r}")
            found = class_for_lifecycle(registered._family(), status)
            assert issubclass(found, SubscriptionModel)
            return found
        if registered is not None and registered._family() is not cls._family():
            raise IncompatibleModelError(
                f"{cls.__name__} does not model product {product_name!r} ({registered.__name__} does)"
            )
        cls._check_serves(status)
        return cls

    @classmethod
    def from_product_id(
        cls,
        product_id: UUID | str,
        customer_id: str | UUID,
        status: SubscriptionLifecycle | str = SubscriptionLifecycle.INITIAL,
        description: str | None = None,
        insync: bool = False,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        note: str | None = None,
    ) -> Self:
        """A new, unsaved subscription: fixed inputs from the product, empty blocks where required."""
        product, fixed_inputs = load_product(product_id)
        model_cls = cls.model_class_for(product.name, status)
        subscription_id = uuid4()
        data: dict[str, Any] = {
            "product": product,
            "customer_id": str(customer_id),
            "subscription_id": subscription_id,
            "description": description or f"Initial subscription of {product.description}",
            "status": status,
            "insync": insync,
            "start_date": start_date,
            "end_date": end_date,
            "note": note,
        }
        for field in model_cls._fields().values.values():
            if field.name in fixed_inputs:
                data[field.name] = field.decode_item(fixed_inputs[field.name])
        data |= initial_blocks(model_cls, subscription_id, data)
        model = model_cls.model_validate(data)
        assert isinstance(model, cls)
        return model

    @classmethod
    def from_subscription(cls, subscription_id: UUID | str) -> Self:
        """Load a subscription with the class for its product and lifecycle status."""
        return load_subscription(cls, subscription_id)

    @classmethod
    def from_other_lifecycle(cls, other: SubscriptionModel, status: SubscriptionLifecycle | str) -> SubscriptionModel:
        """``other`` as the class for ``status``, validated against it.

        Sets ``start_date`` on the first move to active and ``end_date`` on termination. Refuses
        (ValueError) a move that subscriptions using this one's blocks cannot follow, such as
        terminating a subscription an active one still uses.
        """
        status = SubscriptionLifecycle(status)
        target = cast(type[SubscriptionModel], class_for_lifecycle(type(other)._family(), status))
        if other._snapshot is not None and other._snapshot.stored:
            check_lifecycle_change(other.subscription_id, status)
        data = other.model_dump(exclude_computed_fields=True)  # computed fields are derived, not moved
        data["status"] = status
        if status is SubscriptionLifecycle.ACTIVE and data["start_date"] is None:
            data["start_date"] = utcnow()
        if status is SubscriptionLifecycle.TERMINATED:
            data["end_date"] = utcnow()
        model = target.model_validate(data)
        assert isinstance(model, SubscriptionModel)
        model._snapshot = other._snapshot
        return model

    def __eq__(self, other: object) -> bool:
        # Equal data is equal, whatever was loaded before (pydantic would compare the snapshot too).
        if not isinstance(other, BaseModel):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def save(self) -> None:
        """Write what changed since load through the current step's session (no commit)."""
        try:
            type(self)._check_serves(self.status)
        except IncompatibleModelError as e:
            # Only from_other_lifecycle validates data for a new status; a bare status change would skip that.
            raise IncompatibleModelError(
                f"{e}; use SubscriptionModel.from_other_lifecycle to change the status"
            ) from None
        save_subscription(self)

    def in_use_by_ids(self) -> list[UUID]:
        """Instance ids of other subscriptions' blocks that hold one of this subscription's blocks."""
        return in_use_by_instance_ids(self.subscription_id)
