"""Data loaders: what the items of a page need, read for the whole page in one query.

A resolver asks ``load(info, batch, key)``; the keys asked for during one tick of the event loop
go to ``batch(session, keys)`` together, in a worker thread with a read session of its own, and
each resolver gets its value. So a page of 100 processes with their subscriptions and products
costs one query for the page and one per kind of nested data, not one per process.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from strawberry.dataloader import DataLoader

from orchestrion.db.sessions import database_scope
from orchestrion.graphql.types import OrchestratorInfo

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Batch = Callable[[Session, list[Any]], dict[Any, Any]]


def _loader(info: OrchestratorInfo, batch: Batch, default: Callable[[], Any]) -> DataLoader[Any, Any]:
    loaders = info.context.loaders
    key = f"{batch.__module__}.{batch.__qualname__}"
    if key not in loaders:
        database = info.context.runtime.database

        def read(keys: list[Any]) -> list[Any]:
            with database.read() as session:
                found = batch(session, keys)
            return [found[k] if k in found else default() for k in keys]

        async def load_many(keys: Sequence[Any]) -> list[Any]:
            return await run_in_threadpool(read, list(keys))

        loaders[key] = DataLoader(load_fn=load_many)
    return loaders[key]


async def load(info: OrchestratorInfo, batch: Batch, key: Any, default: Callable[[], Any] = lambda: None) -> Any:
    """The value ``batch`` finds for ``key`` (``default()`` when it finds none), batched per request."""
    return await _loader(info, batch, default).load(key)


async def load_many(
    info: OrchestratorInfo, batch: Batch, keys: list[Any], default: Callable[[], Any] = lambda: None
) -> list[Any]:
    """``load`` for several keys at once."""
    return list(await _loader(info, batch, default).load_many(keys))


async def in_scope(info: OrchestratorInfo, call: Callable[..., V], *args: Any) -> V:
    """Run ``call`` (domain code, which reads through ``db.session``) off the event loop, in a database
    scope of its own: resolvers run side by side, and a session must not be shared between threads."""
    database = info.context.runtime.database

    def run() -> V:
        with database_scope(database):
            return call(*args)

    return await run_in_threadpool(run)


async def in_thread(info: OrchestratorInfo, read: Callable[[Session], V]) -> V:
    """Run ``read`` with a read session of its own, off the event loop."""
    database = info.context.runtime.database

    def run() -> V:
        with database.read() as session:
            return read(session)

    return await run_in_threadpool(run)
