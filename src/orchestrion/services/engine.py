"""Pausing and continuing the engine."""

from __future__ import annotations

from orchestrion.runtime import current
from orchestrion.services.audit import audited
from orchestrion.storage import process_queries

PAUSE, UNPAUSE = "engine.pause", "engine.unpause"  # the audit log's actions


def pause_engine() -> None:
    """Running processes stop at their next step boundary; starts and resumes are refused until unpaused."""
    with audited(PAUSE, "engine") as note:
        current().store.set_paused(True, within=lambda session, _stopped: note.append(session))


def unpause_engine() -> int:
    """Continue: processes stopped by the pause are handed to the executor again; returns how many."""
    runtime = current()
    with audited(UNPAUSE, "engine") as note:
        stopped = runtime.store.set_paused(
            False, within=lambda session, stopped: note.append(session, continued=len(stopped))
        )
    for process_id in stopped:
        runtime.executor.submit(process_id, resume=True)
    return len(stopped)


def is_engine_paused() -> bool:
    return current().store.is_paused()


def engine_status() -> dict[str, object]:
    """``global_lock`` (paused), ``running_processes``, and ``global_status``: RUNNING, PAUSING (paused,
    steps still finishing) or PAUSED."""
    runtime = current()
    paused = runtime.store.is_paused()
    with runtime.database.read() as session:
        running = process_queries.running_claimed(session)
    state = "RUNNING" if not paused else ("PAUSING" if running else "PAUSED")
    return {"global_lock": paused, "running_processes": running, "global_status": state}
