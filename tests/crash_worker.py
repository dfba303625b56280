"""The worker the crash tests kill: starts one process and runs it in this process until it is killed.

Run by the crash tests (tests/test_crash_recovery.py, tests/test_children_crash.py) with the
venv's python, ``PYTHONPATH`` set to the repository root, and in the environment
``CRASH_DATABASE_URI`` (the test's database) and what the workflow's steps read to know where to
signal and block (see tests/crash_workflow.py and tests/children_crash_workflow.py).

    crash_worker.py [WORKFLOW] [--threads N]

``WORKFLOW`` defaults to ``crash_recovery``. Without ``--threads`` the process runs inline, in
this thread (so a process a step starts runs when that step committed, one after the other);
with it, on a thread-pool executor of N threads (children run at the same time). Either way the
executor that claims the processes is this worker's, so the claims in the database name this
process's pid.
"""

from __future__ import annotations

import argparse
import os
import sys

from tests import children_crash_workflow, crash_workflow  # noqa: F401 (they register their workflows)

from orchestrion.db import init_database
from orchestrion.executors import set_executor
from orchestrion.executors.inline import InlineExecutor
from orchestrion.executors.threadpool import ThreadPoolExecutor
from orchestrion.runtime import current
from orchestrion.services.processes import start_process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("workflow", nargs="?", default=crash_workflow.WORKFLOW_NAME)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    init_database(os.environ["CRASH_DATABASE_URI"], migrate=False)  # the test's fixture migrated it
    set_executor(ThreadPoolExecutor(current(), max_workers=args.threads) if args.threads else InlineExecutor())
    process_id = start_process(args.workflow)
    if args.threads:
        crash_workflow.block_until_killed()  # the pool's threads run the processes
    # Only reached when no step blocked: the test then fails, showing this message.
    print(f"crash_worker: process {process_id} ran to its end instead of blocking", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
