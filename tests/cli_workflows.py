"""Workflows for the command-line tests (``tests/test_cli_commands.py``), registered when imported (``-i``).

Each CLI command is a fresh Python process, so what a step remembers must outlive it:
``cli_flaky`` fails until the file its input names exists (its first attempt creates it).
``ui_approval`` (``tests/ui_workflows.py``) suspends at an input step.
"""

from __future__ import annotations

from pathlib import Path

from tests import ui_workflows  # noqa: F401 - registers ui_approval

from orchestrion.forms import SubmitFormPage
from orchestrion.targets import Target
from orchestrion.types import FormGenerator, State
from orchestrion.utils.errors import ProcessFailureError
from orchestrion.workflow import StepList, done, init, step, workflow
from orchestrion.workflows import register_workflow


def _marker_form() -> FormGenerator:
    class MarkerPage(SubmitFormPage):
        marker: str

    page = yield MarkerPage
    return page.model_dump()


@step("Call the flaky system")
def call_flaky(marker: str) -> State:
    if not Path(marker).exists():
        Path(marker).touch()
        raise ProcessFailureError("The flaky system timed out; retry")
    return {"answered": True}


@workflow("Flaky call (CLI test)", initial_input_form=_marker_form, target=Target.CREATE)
def cli_flaky() -> StepList:
    return init >> call_flaky >> done


register_workflow(cli_flaky, "cli_flaky")
