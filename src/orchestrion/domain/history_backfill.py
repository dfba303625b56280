"""A first version for every subscription that has none, so its history has somewhere to start.

Subscriptions stored before the history existed (revision 0011), or written by code that went
around ``history.record`` (raw SQL in an application's migration), have no version: nothing to say
what they were at version N, nothing to diff against. Opening the database (``open_database``,
after the migrations) gives each such subscription version 1 holding its state now, with no
process and ``step_name`` ``BACKFILL``. It is not a migration because the snapshot is the
application's own code (``history.snapshot_of``), which later revisions must not be pinned to.

Idempotent: a subscription with any version is left alone, so a second run writes nothing and
costs one query. Each batch locks its subscriptions' rows, and every writer of a subscription
changes its row before it records a version: a change that comes later waits and numbers its
version 2; one that committed first is seen by the re-check, and the backfill skips that
subscription. Rows locked by a running step are skipped: that step records the version itself.
"""

from __future__ import annotations

import uuid

from sqlalchemy import exists, insert, select

from orchestrion.db.database import Database
from orchestrion.db.domain_models import SubscriptionTable, SubscriptionVersionTable
from orchestrion.db.types import utcnow
from orchestrion.domain.history import snapshot_of, stored_rows_of

BACKFILL = "backfill"  # the step_name of a version the backfill wrote
BATCH = 500  # subscriptions per transaction: three queries and one insert each

_S, _V = SubscriptionTable, SubscriptionVersionTable


def backfill(database: Database) -> int:
    """Give every subscription without a version its version 1 (its state now); how many got one."""
    written = 0
    unversioned = ~exists().where(_V.subscription_id == _S.subscription_id)
    while True:
        with database.write() as session:
            batch = session.scalars(
                select(_S.subscription_id).where(unversioned).limit(BATCH).with_for_update(skip_locked=True)
            ).all()
            if not batch:
                return written
            # A version committed between the query's snapshot and its lock (PostgreSQL): leave it be.
            versioned = set(session.scalars(select(_V.subscription_id).where(_V.subscription_id.in_(batch))))
            rows = stored_rows_of(session, [sid for sid in batch if sid not in versioned])
            if rows:
                now = utcnow()
                session.execute(
                    insert(_V),
                    [
                        {
                            "id": uuid.uuid4(),
                            "subscription_id": sid,
                            "version": 1,
                            "created_at": now,
                            "process_id": None,
                            "step_name": BACKFILL,
                            "snapshot": snapshot_of(sid, found),
                        }
                        for sid, found in rows.items()
                    ],
                )
            written += len(rows)
