"""What each target's decorator wraps around the author's steps."""

from __future__ import annotations

import pytest

from orchestrion.db import Database
from orchestrion.targets import Target
from orchestrion.testing import WorkflowInstanceForTests, run_workflow
from orchestrion.types import State
from orchestrion.workflow import StepList, begin, step
from orchestrion.workflows.utils import (
    NoProductError,
    create_workflow,
    ensure_provisioning_status,
    modify_workflow,
    reconcile_workflow,
    task,
    terminate_workflow,
    validate_workflow,
)


@step("Mine")
def mine() -> State:
    return {}


def _names(decorator: object) -> list[str]:
    @decorator  # type: ignore[operator]
    def wf() -> StepList:
        return begin >> mine

    return [s.name for s in wf.steps]


LINK, LOCK, UNLOCK = "Create Process Subscription relation", "Lock subscription", "Unlock subscription"


@pytest.mark.parametrize(
    ("decorator", "target", "names"),
    [
        (create_workflow("c"), Target.CREATE, ["Start", "Mine", "Set subscription to 'active'", UNLOCK, "Done"]),
        (modify_workflow("m"), Target.MODIFY, ["Start", LINK, LOCK, "Mine", UNLOCK, "Done"]),
        (
            terminate_workflow("t"),
            Target.TERMINATE,
            ["Start", LINK, LOCK, "Mine", "Set subscription to 'terminated'", UNLOCK, "Done"],
        ),
        (validate_workflow("v"), Target.VALIDATE, ["Start", LINK, LOCK, "Mine", UNLOCK, "Done"]),
        (reconcile_workflow("r"), Target.RECONCILE, ["Start", LINK, LOCK, "Mine", UNLOCK, "Done"]),
        (task("t"), Target.SYSTEM, ["Start", "Mine", "Done"]),
    ],
)
def test_wrappers_build_the_step_list(decorator: object, target: Target, names: list[str]) -> None:
    assert _names(decorator) == names

    @decorator  # type: ignore[operator]
    def wf() -> StepList:
        return begin >> mine

    assert wf.target == target


def test_ensure_provisioning_status_brackets_the_steps() -> None:
    assert [s.name for s in ensure_provisioning_status(begin >> mine)] == [
        "Set subscription to 'provisioning'",
        "Mine",
        "Set subscription to 'active'",
    ]


def test_create_workflow_without_a_linked_product_says_so(database: Database) -> None:
    @create_workflow("Unlinked")
    def unlinked() -> StepList:
        return begin >> mine

    with WorkflowInstanceForTests(unlinked, "unlinked"), pytest.raises(NoProductError, match="No product is linked"):
        run_workflow("unlinked", [])
