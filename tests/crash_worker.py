"""The worker the crash test kills: starts one ``crash_recovery`` process and runs it in this process.

Run by tests/test_crash_recovery.py with the venv's python, ``PYTHONPATH`` set to the repository
root, and in the environment ``CRASH_DATABASE_URI`` (the test's database) and ``CRASH_SIGNAL_FILE``
(written by ``step_two`` when it is in the middle of its transaction; it then blocks until killed).
The process is created and claimed by this worker's executor, so the claim in the database names
this process's pid.
"""

from __future__ import annotations

import os
import sys

from tests import crash_workflow

from orchestrion.db import init_database
from orchestrion.executors import set_executor
from orchestrion.executors.inline import InlineExecutor
from orchestrion.services.processes import start_process


def main() -> int:
    init_database(os.environ["CRASH_DATABASE_URI"], migrate=False)  # the test's fixture migrated it
    set_executor(InlineExecutor())
    process_id = start_process(crash_workflow.WORKFLOW_NAME)
    # Only reached when step_two did not block: the test then fails, showing this message.
    print(f"crash_worker: process {process_id} ran to its end instead of blocking in step_two", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
