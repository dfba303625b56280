"""Walking the hash chains (``orchestrion audit verify``): the first broken link of the history and of the audit log.

Each row's hash is recomputed from the row as stored and compared with the one it carries, and its
``prev_hash`` with the hash of the row before it; a process's rows must be numbered 1, 2, ... up
to the process's own ``seq``, audit entries without gaps. So an edited row, a row deleted in the
middle and a history cut short are each found, with what differs. Rows are streamed in order, so
memory stays flat however long the history is.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from orchestrion.db.chain import audit_hash, step_row_hash
from orchestrion.db.models import AuditLogTable, ProcessStepTable, ProcessTable
from orchestrion.storage.audit import RETENTION_ACTION

_BATCH = 1000


@dataclass(frozen=True)
class Break:
    """The first link that does not hold: in which chain, at which row, and what differs."""

    chain: str  # "process <id>" or "audit log"
    row: str  # "step 3 (<step id>)", "entry 12", ...
    what: str


@dataclass(frozen=True)
class ChainReport:
    chains: int  # processes (the history) or 1 (the audit log)
    rows: int
    broken: Break | None


def _hash_differs(stored: str | None, computed: str) -> str:
    return f"its content does not match its hash (stored {stored}, computed from the row {computed})"


def verify_history(session: Session, process_ids: Collection[uuid.UUID] | None = None) -> ChainReport:
    """Every process's chain of history rows (or only those of ``process_ids``); stops at the first break.

    Each row comes with its process's ``seq`` (None: no such process), so only the row before is held.
    """
    steps = ProcessStepTable
    query = select(steps, ProcessTable.seq).outerjoin(ProcessTable, ProcessTable.process_id == steps.process_id)
    if process_ids is not None:
        query = query.where(steps.process_id.in_(process_ids))
    rows = session.execute(query.order_by(steps.process_id, steps.seq).execution_options(yield_per=_BATCH))
    processes = count = 0
    prev: ProcessStepTable | None = None
    expected: int | None = None  # the seq of the process of ``prev``
    for row, process_seq in rows:
        count += 1
        if prev is None or row.process_id != prev.process_id:
            if prev is not None and (broken := _cut_short(prev.process_id, prev, expected)):
                return ChainReport(processes, count, broken)
            prev, expected, processes = None, process_seq, processes + 1
        if broken := _step_break(row, prev):
            return ChainReport(processes, count, broken)
        prev = row
    if prev is not None and (broken := _cut_short(prev.process_id, prev, expected)):
        return ChainReport(processes, count, broken)
    emptied = select(ProcessTable.process_id, ProcessTable.seq).where(
        ProcessTable.seq > 0, ~exists().where(steps.process_id == ProcessTable.process_id)
    )
    if process_ids is not None:
        emptied = emptied.where(ProcessTable.process_id.in_(process_ids))
    for process_id, seq in session.execute(emptied.order_by(ProcessTable.process_id).limit(1)):  # every row gone
        return ChainReport(processes, count, _cut_short(process_id, None, seq))
    return ChainReport(processes, count, None)


def _step_break(row: ProcessStepTable, prev: ProcessStepTable | None) -> Break | None:
    chain, where = f"process {row.process_id}", f"step {row.seq} ({row.step_id})"
    expected_seq = prev.seq + 1 if prev is not None else 1
    if row.seq != expected_seq:
        return Break(chain, where, f"step {expected_seq} is missing (deleted): the history jumps to step {row.seq}")
    expected_prev = prev.row_hash if prev is not None else None
    if row.prev_hash != expected_prev:
        return Break(chain, where, f"it links to {row.prev_hash}, but the row before it hashes to {expected_prev}")
    computed = step_row_hash(row, row.prev_hash)
    return Break(chain, where, _hash_differs(row.row_hash, computed)) if computed != row.row_hash else None


def _cut_short(process_id: uuid.UUID, last: ProcessStepTable | None, expected: int | None) -> Break | None:
    seq = last.seq if last is not None else 0
    if expected is None:
        return Break(f"process {process_id}", f"step {seq}", "the history rows belong to no process")
    if seq != expected:
        return Break(f"process {process_id}", f"step {seq}", f"the process's last step is {expected}: rows are missing")
    return None


def verify_audit_log(session: Session) -> ChainReport:
    """The audit log's one chain. Its first entry may follow entries the retention sweep removed: then the
    sweep's own entry says which (``through_id``, ``through_hash``), and the first entry must link to those."""
    entries: Iterator[AuditLogTable] = session.execute(
        select(AuditLogTable).order_by(AuditLogTable.id).execution_options(yield_per=_BATCH)
    ).scalars()
    count = 0
    prev: AuditLogTable | None = None
    for entry in entries:
        count += 1
        broken = _entry_break(entry, prev) if prev is not None else _first_entry_break(session, entry)
        if broken is not None:
            return ChainReport(1, count, broken)
        prev = entry
    return ChainReport(1 if count else 0, count, None)


def _first_entry_break(session: Session, entry: AuditLogTable) -> Break | None:
    if entry.prev_hash is None and entry.id == 1:
        return _content_break(entry)
    sweeps = session.execute(select(AuditLogTable.details).where(AuditLogTable.action == RETENTION_ACTION)).scalars()
    removed = [d for d in sweeps if isinstance(d, dict)]
    if not any(d.get("through_id") == entry.id - 1 and d.get("through_hash") == entry.prev_hash for d in removed):
        return Break(
            "audit log",
            f"entry {entry.id}",
            f"entries before it are missing, and no retention sweep recorded removing them (it links to "
            f"{entry.prev_hash})",
        )
    return _content_break(entry)


def _entry_break(entry: AuditLogTable, prev: AuditLogTable) -> Break | None:
    if entry.id != prev.id + 1:
        return Break("audit log", f"entry {entry.id}", f"entry {prev.id + 1} is missing (deleted)")
    if entry.prev_hash != prev.row_hash:
        what = f"it links to {entry.prev_hash}, but entry {prev.id} hashes to {prev.row_hash}"
        return Break("audit log", f"entry {entry.id}", what)
    return _content_break(entry)


def _content_break(entry: AuditLogTable) -> Break | None:
    computed = audit_hash(entry)
    if computed == entry.row_hash:
        return None
    return Break("audit log", f"entry {entry.id}", _hash_differs(entry.row_hash, computed))
