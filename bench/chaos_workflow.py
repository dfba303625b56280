"""The workflow of the chaos suite (bench/chaos.py), imported by the servers and workers it starts (``-i``).

``chaos``: ``init >> Effect 1 >> Effect 2 >> Effect 3 >> done``. Each effect step inserts one row
into the application table ``chaos_effects`` (created by the harness) through the step's own
session, so the row commits exactly when the step's checkpoint does, then sleeps for a random
while of up to ``CHAOS_STEP_SECONDS`` (default 0.2), so that kills and terminated database
connections land in the middle of steps. After the run, exactly one row per (process, step) means
no effect was lost or done twice.
"""

from __future__ import annotations

import os
import random
import time

from sqlalchemy import text

from orchestrion.db import session
from orchestrion.targets import Target
from orchestrion.types import State, UUIDstr
from orchestrion.workflow import Step, StepList, done, init, step, workflow
from orchestrion.workflows import register_workflow

WORKFLOW_NAME = "chaos"
EFFECT_STEPS = ("Effect 1", "Effect 2", "Effect 3")
STEP_SECONDS_ENV = "CHAOS_STEP_SECONDS"
EFFECTS_DDL = (
    "CREATE TABLE chaos_effects (process_id uuid NOT NULL, step text NOT NULL, pid int NOT NULL, "
    "at timestamptz NOT NULL DEFAULT clock_timestamp())"
)


def _effect_step(name: str) -> Step:
    @step(name)
    def effect(process_id: UUIDstr) -> State:
        session().execute(
            text("INSERT INTO chaos_effects (process_id, step, pid) VALUES (:process_id, :step, :pid)"),
            {"process_id": str(process_id), "step": name, "pid": os.getpid()},
        )
        time.sleep(random.uniform(0, float(os.environ.get(STEP_SECONDS_ENV, "0.2"))))
        return {}

    return effect


@workflow("Chaos suite: three steps with counted effects", target=Target.CREATE)
def chaos() -> StepList:
    steps = init
    for name in EFFECT_STEPS:
        steps = steps >> _effect_step(name)
    return steps >> done


register_workflow(chaos, WORKFLOW_NAME)
