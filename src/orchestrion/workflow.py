"""The authoring API: what workflow code imports (``from orchestrion.workflow import ...``)."""

from orchestrion.engine.outcomes import (
    Abort,
    AwaitingCallback,
    Complete,
    Failed,
    Outcome,
    Skipped,
    Success,
    Suspend,
    Waiting,
)
from orchestrion.engine.status import ProcessStatus, StepStatus
from orchestrion.engine.steps import (
    Step,
    StepGroup,
    StepList,
    abort,
    begin,
    callback_step,
    conditional,
    done,
    focussteps,
    init,
    inputstep,
    retrystep,
    step,
    step_group,
    steplens,
)
from orchestrion.engine.workflow import Workflow, WorkflowDefinitionError, make_workflow, workflow

# orchestrator-core calls the outcome type ``Process``.
Process = Outcome

__all__ = [
    "Abort",
    "AwaitingCallback",
    "Complete",
    "Failed",
    "Outcome",
    "Process",
    "ProcessStatus",
    "Skipped",
    "Step",
    "StepGroup",
    "StepList",
    "StepStatus",
    "Success",
    "Suspend",
    "Waiting",
    "Workflow",
    "WorkflowDefinitionError",
    "abort",
    "begin",
    "callback_step",
    "conditional",
    "done",
    "focussteps",
    "init",
    "inputstep",
    "make_workflow",
    "retrystep",
    "step",
    "step_group",
    "steplens",
    "workflow",
]
