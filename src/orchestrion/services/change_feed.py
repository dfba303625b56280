"""Live updates: a feed of committed changes to processes, subscriptions and the engine switch.

The feed reads what is *committed* in the database (processes by ``last_modified_at``, the engine
row by ``changed_at``) a few times a second while anyone listens. So a listener never sees work
that was rolled back, and changes made by workers in other processes or on other machines reach
every API server without a message bus.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from orchestrion.db import Database
from orchestrion.db.failures import is_transient
from orchestrion.storage import process_queries, switch

logger = structlog.get_logger(__name__)

# Commits from workers with slightly different clocks (or long transactions) can carry a
# last_modified_at a little before the last poll; look back this far and drop what was sent.
_LOOKBACK = timedelta(seconds=5)


@dataclass(frozen=True)
class Change:
    """One change, in orchestrator-core's websocket message shape (plus the new status)."""

    type: str  # "processes" | "subscriptions" | "engineStatus"
    id: str | None = None
    status: str | None = None

    def message(self) -> dict[str, Any]:
        value: dict[str, Any] = {"type": self.type}
        if self.id is not None:
            value["id"] = self.id
        if self.status is not None:
            value["status"] = self.status
        return {"name": "invalidateCache", "value": value}


class ChangeFeed:
    """Polls for committed changes while there are listeners and fans them out to each listener's queue."""

    def __init__(self, database: Database, interval: float = 0.5) -> None:
        self.database = database
        self.interval = interval
        self._listeners: set[asyncio.Queue[Change]] = set()
        self._task: asyncio.Task[None] | None = None
        self._since: datetime | None = None
        self._sent: dict[tuple[str, datetime], None] = {}
        self._engine_changed: datetime | None = None

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue[Change]]:
        """A queue of changes committed from now on, for as long as the block runs."""
        queue: asyncio.Queue[Change] = asyncio.Queue(maxsize=1000)
        if not self._listeners:
            await asyncio.to_thread(self.prime)
        self._listeners.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        try:
            yield queue
        finally:
            self._listeners.discard(queue)

    async def _run(self) -> None:
        while self._listeners:
            await asyncio.sleep(self.interval)
            try:
                changes = await asyncio.to_thread(self.poll)
            except Exception as e:  # the feed outlives a database outage (or a bad poll); listeners stay
                if is_transient(e):
                    logger.warning("Live updates: the database is unavailable; polling again", error=str(e))
                else:
                    logger.exception("Live updates: polling for changes failed; polling again")
                continue
            for change in changes:
                for queue in list(self._listeners):
                    if queue.full():
                        queue.get_nowait()  # a slow listener loses the oldest, never blocks the others
                    queue.put_nowait(change)

    def prime(self) -> None:
        """Start from now: what is already committed is not news."""
        with self.database.read() as session:
            latest = process_queries.latest_change(session)
            self._engine_changed = switch.engine_changed_at(session)
            recent = process_queries.changed_since(session, latest - _LOOKBACK) if latest is not None else []
            self._sent = {(str(r.process_id), r.last_modified_at): None for r in recent}
        self._since = latest

    def poll(self) -> list[Change]:
        """Changes committed since the last poll."""
        changes: list[Change] = []
        with self.database.read() as session:
            rows = process_queries.changed_since(session, self._since - _LOOKBACK if self._since else None)
            fresh = [r for r in rows if (str(r.process_id), r.last_modified_at) not in self._sent]
            if fresh:
                linked = process_queries.subscriptions_worked_on(session, [r.process_id for r in fresh])
                changes += [Change("processes", str(r.process_id), r.last_status) for r in fresh]
                changes += [Change("subscriptions", str(s)) for s in linked]
            engine = switch.engine_changed_at(session)
        for r in fresh:
            self._sent[(str(r.process_id), r.last_modified_at)] = None
        if rows:
            self._since = max(self._since or rows[-1].last_modified_at, rows[-1].last_modified_at)
            cutoff = self._since - _LOOKBACK
            self._sent = {key: None for key in self._sent if key[1] >= cutoff}
        if engine is not None and engine != self._engine_changed:
            self._engine_changed = engine
            changes.append(Change("engineStatus"))
        return changes
