"""The authoring API: what workflow code imports (``from orchestrion.workflow import ...``)."""

from orchestrion.engine.children import await_children
from orchestrion.engine.outcomes import (
    Abort,
    AwaitingCallback,
    AwaitingChildren,
    Complete,
    Failed,
    Outcome,
    Skipped,
    Success,
    Suspend,
    Waiting,
)
from orchestrion.engine.parallel import parallel
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
from orchestrion.engine.workflow import (
    PredicateContext,
    RunPredicate,
    RunPredicateFail,
    RunPredicatePass,
    RunPredicateResult,
    Workflow,
    WorkflowDefinitionError,
    make_workflow,
    workflow,
)
from orchestrion.services.children import start_child

# orchestrator-core calls the outcome type ``Process``.
Process = Outcome

__all__ = [
    "Abort",
    "AwaitingCallback",
    "AwaitingChildren",
    "Complete",
    "Failed",
    "Outcome",
    "PredicateContext",
    "Process",
    "ProcessStatus",
    "RunPredicate",
    "RunPredicateFail",
    "RunPredicatePass",
    "RunPredicateResult",
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
    "await_children",
    "begin",
    "callback_step",
    "conditional",
    "done",
    "focussteps",
    "init",
    "inputstep",
    "make_workflow",
    "parallel",
    "retrystep",
    "start_child",
    "step",
    "step_group",
    "steplens",
    "workflow",
]
