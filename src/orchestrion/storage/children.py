"""Child processes on SQL: created, read and retried in the parent step's transaction; aborted with their parent.

``SqlChildren`` is what ``current_step().children`` is for a process the SQL store runs. Every
write goes through the running step's session, so it commits with the step's checkpoint or not at
all: a crash can never leave a parent that believes it started children that do not exist, nor
children started twice (the step that created them is not re-run once its checkpoint committed).
The ids it creates or retries are collected in ``pending``; the executor submits them once the
step committed (and the takeover scan finds any whose submission a crash lost).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrion.db.database import RawJSON
from orchestrion.db.models import ProcessTable, WorkflowTable
from orchestrion.db.sessions import session as step_session
from orchestrion.engine.children import ChildView
from orchestrion.engine.clock import utcnow
from orchestrion.engine.serialization import dumps
from orchestrion.engine.status import FAILED_STATUSES, IN_FLIGHT_STATUSES, TERMINAL_STATUSES, ProcessStatus
from orchestrion.engine.workflow import Workflow, decode_branch
from orchestrion.storage import claims
from orchestrion.storage.checkpoints import write_aborted
from orchestrion.storage.claims import Claim, chain_tip
from orchestrion.storage.tables import update_process
from orchestrion.types import State


class SqlChildren:
    """The children of the process ``claim`` holds, in the running step's transaction."""

    def __init__(self, claim: Claim, pending: list[uuid.UUID]) -> None:
        self.claim = claim
        self.pending = pending

    def spawn(
        self, wf: Workflow, state: State, initial_input: State, *, group: str, branch: str | None = None
    ) -> uuid.UUID:
        child = claims.create_child(
            step_session(),
            wf,
            state,
            initial_input,
            self.claim.user or "SYSTEM",
            parent=self.claim.process_id,
            group=group,
            branch=branch,
        )
        self.pending.append(child)
        return child

    def of(self, group: str) -> list[ChildView]:
        session = step_session()
        # the parent's row lock first (a write: SQLite's write lock, too), then the children as committed
        update_process(session.connection(), self.claim.process_id, {"last_modified_at": utcnow()})
        rows = session.execute(
            select(
                ProcessTable.process_id,
                WorkflowTable.name,
                ProcessTable.branch,
                ProcessTable.last_status,
                ProcessTable.state,
                ProcessTable.failed_reason,
            )
            .join(WorkflowTable, WorkflowTable.workflow_id == ProcessTable.workflow_id)
            .where(ProcessTable.parent_process_id == self.claim.process_id, ProcessTable.child_group == group)
            .order_by(ProcessTable.started_at, ProcessTable.process_id)
        ).all()
        return [
            ChildView(pid, name, _branch_key(branch), ProcessStatus(status), state, reason)
            for pid, name, branch, status, state, reason in rows
        ]

    def retry(self, process_id: uuid.UUID) -> None:
        session = step_session()
        child = session.execute(
            select(ProcessTable).where(ProcessTable.process_id == process_id).with_for_update(of=ProcessTable)
        ).scalar_one_or_none()
        if child is None or ProcessStatus(child.last_status) not in FAILED_STATUSES:
            return  # it moved on meanwhile (someone retried it): nothing to do
        values = {
            "last_status": ProcessStatus.RESUMED.value,
            "run_by": self.claim.user,
            "run_action": "retry",
            "last_row_key": None,  # a retried group sub-step starts a new group row
            "failed_reason": None,
            "traceback": None,
            "claimed_by": None,
            "lease_until": None,
            "last_modified_at": utcnow(),
        }
        update_process(session.connection(), process_id, values)
        session.expire(child)
        self.pending.append(process_id)


def _branch_key(branch: str | None) -> str | None:
    """A branch process's own branch (the last of its path), as the join names it."""
    path = decode_branch(branch)
    return path[-1] if path else None


def descendant_ids(session: Session, parent: uuid.UUID) -> list[uuid.UUID]:
    """The children of ``parent``, theirs, and so on."""
    found: list[uuid.UUID] = []
    level = [parent]
    while level:
        level = list(
            session.execute(select(ProcessTable.process_id).where(ProcessTable.parent_process_id.in_(level))).scalars()
        )
        found.extend(level)
    return found


def abort_descendants(session: Session, parent: uuid.UUID, user: str) -> None:
    """Abort every child (and theirs) of ``parent`` that has not ended, in the caller's transaction.

    One that a live worker runs is asked to stop at its next step boundary; any other ends aborted now.
    """
    now = utcnow()
    parents = [parent]
    while parents:
        rows = session.execute(
            select(ProcessTable)
            .where(
                ProcessTable.parent_process_id.in_(parents),
                ProcessTable.last_status.not_in([s.value for s in TERMINAL_STATUSES]),
            )
            .with_for_update(of=ProcessTable)
        ).scalars()
        parents = []
        for child in rows:
            parents.append(child.process_id)
            owned = child.claimed_by is not None and child.lease_until is not None and child.lease_until > now
            if ProcessStatus(child.last_status) in IN_FLIGHT_STATUSES and owned:
                child.abort_requested = True
                child.abort_requested_by = child.abort_requested_by or user
                continue
            claim = Claim.of(child, child.process_id, "", "", timedelta(0))
            claim.tip = chain_tip(session.connection(), child.process_id, child.seq)
            claim.parent_process_id = None  # its parent is being aborted: there is nobody to wake
            write_aborted(session.connection(), claim, RawJSON(dumps(child.state).decode()), user, now)
            session.expire(child)
        session.flush()
