"""Process lifecycle on both databases: every outcome, retry, suspend/resume, step groups and step atomicity.

Each test asserts what was persisted (processes, process_steps, input_states), because the database
is what a restarted engine or the REST API sees. Module-level counters record how often each step
ran, so "never re-run" claims are checked, not assumed.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import Field
from sqlalchemy import select, text
from tests.process_support import history, input_rows, process_row, step_rows

from orchestrion.config.assignee import Assignee
from orchestrion.db import Database, get_database, session
from orchestrion.db.models import ProcessStepTable
from orchestrion.errors import ProcessNotFoundError, ProcessNotResumableError
from orchestrion.executors import set_executor
from orchestrion.executors.threadpool import ThreadPoolExecutor
from orchestrion.forms import FormNotCompleteError, FormPage, FormValidationError, SubmitFormPage
from orchestrion.runtime import current
from orchestrion.services.processes import resume_process, start_process, wait_for_process
from orchestrion.targets import Target
from orchestrion.testing import (
    assert_aborted,
    assert_complete,
    assert_failed,
    assert_suspended,
    assert_waiting,
    extract_error,
    extract_state,
    resume_workflow,
    run_workflow,
)
from orchestrion.types import FormGenerator, State
from orchestrion.utils.errors import ApiUnavailableError, InconsistentDataError, ProcessFailureError
from orchestrion.workflow import (
    ProcessStatus,
    Workflow,
    abort,
    done,
    focussteps,
    init,
    inputstep,
    retrystep,
    step,
    step_group,
)

calls: Counter[str] = Counter()
broken: set[str] = set()  # names of steps that raise until the test "fixes the cause"
to_raise: list[Exception] = []  # what the "Raise" step raises


class Gate:
    """Holds a step in the middle: the step sets ``entered`` and waits (bounded) for ``release``."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def hold(self) -> None:
        self.entered.set()
        assert self.release.wait(60), "the test never released the step"


gates: dict[str, Gate] = {}


@pytest.fixture(autouse=True)
def _reset(database: Database) -> Iterator[None]:
    """Depends on ``database`` so held steps are released before the fixture shuts the executor down."""
    calls.clear()
    broken.clear()
    to_raise.clear()
    gates.clear()
    yield
    for gate in gates.values():
        gate.release.set()


def _counted(name: str) -> None:
    calls[name] += 1
    if name in broken:
        raise RuntimeError(f"{name} is broken")


# --- steps ---------------------------------------------------------------------------------------


def number_form() -> FormGenerator:
    class NumberForm(SubmitFormPage):
        number: int

    user_input = yield NumberForm
    return user_input.model_dump()


@step("Double")
def double(number: int) -> State:
    _counted("Double")
    return {"doubled": number * 2}


@step("One")
def one() -> State:
    _counted("One")
    return {"one": 1}


@step("Two")
def two(one: int) -> State:
    _counted("Two")
    return {"two": one + 1}


@step("Three")
def three(one: int, two: int) -> State:
    _counted("Three")
    return {"three": one + two}


@step("Four")
def four(three: int) -> State:
    _counted("Four")
    return {"four": three + 1}


@step("Explode")
def explode() -> None:
    raise ValueError("the cable is cut")


@step("Raise")
def raise_it() -> None:
    if to_raise:
        raise to_raise[0]


@step("Fail with details")
def fail_with_details() -> None:
    raise ProcessFailureError("Port already in use", {"port": "ge-0/0/1", "owner": "another subscription"})


@retrystep("Call flaky API")
def call_flaky_api() -> State:
    calls["Call flaky API"] += 1
    if "Call flaky API" in broken:
        raise ConnectionError("API down")
    return {"api": "ok"}


@inputstep("Approve", assignee=Assignee.NOC)
def approve_form() -> FormGenerator:
    class ApproveForm(SubmitFormPage):
        approved: bool

    user_input = yield ApproveForm
    return user_input.model_dump()


@step("Prepare settings")
def prepare_settings() -> State:
    return {"settings": {"mtu": 1500, "speed": "10G"}}


@inputstep("Configure", assignee=Assignee.CHANGES)
def configure_form() -> FormGenerator:
    class ConfigureForm(SubmitFormPage):
        vlan: int = Field(ge=1, le=4094)
        settings: dict[str, Any] = {}

    user_input = yield ConfigureForm
    return user_input.model_dump()


@step("Use input")
def use_input(vlan: int, settings: dict[str, Any]) -> State:
    _counted("Use input")
    return {"used": f"vlan {vlan}, mtu {settings['mtu']}, {settings['speed']}"}


@inputstep("Two pages")
def two_pages_form() -> FormGenerator:
    class ColourPage(FormPage):
        colour: str

    first = yield ColourPage

    class SizePage(SubmitFormPage):
        size: int

    second = yield SizePage
    return {**first.model_dump(), **second.model_dump()}


@step("Sub one")
def sub_one() -> State:
    _counted("Sub one")
    return {"sub_one": 1}


group_row_seen_by_sub_two: list[tuple[str, State]] = []


@step("Sub two")
def sub_two(process_id: uuid.UUID) -> State:
    """Reads its group's history row as committed so far: the row is updated per sub-step."""
    _counted("Sub two")
    with get_database().read() as s:
        row = s.execute(
            select(ProcessStepTable).where(
                ProcessStepTable.process_id == process_id, ProcessStepTable.name == "Provision"
            )
        ).scalar_one()
        group_row_seen_by_sub_two.append((row.status, row.state))
    return {"sub_two": 2}


@step("Sub three")
def sub_three(sub_one: int) -> State:
    _counted("Sub three")
    return {"sub_three": sub_one + 2}


@inputstep("Pick colour")
def pick_colour_form() -> FormGenerator:
    class ColourForm(SubmitFormPage):
        colour: str

    user_input = yield ColourForm
    return user_input.model_dump()


@step("Set speed")
def set_speed() -> State:
    return {"speed": "10G"}


@step("Name port")
def name_port(number: int, speed: str) -> State:
    return {"name": f"port-{number}-{speed}"}


@step("Create port")
def create_port() -> State:
    return {"port": {"number": 3}}


@step("Write")
def write_effect() -> State:
    session().execute(text("INSERT INTO lifecycle_effects (name) VALUES ('Write')"))
    return {"written": True}


@step("Write and fail")
def write_and_fail() -> State:
    session().execute(text("INSERT INTO lifecycle_effects (name) VALUES ('Write and fail')"))
    _counted("Write and fail")
    return {"written_too": True}


@step("Write unstorable")
def write_unstorable() -> State:
    session().execute(text("INSERT INTO lifecycle_effects (name) VALUES ('Write unstorable')"))
    return {"thing": object()}


@step("Write and hold")
def write_and_hold() -> State:
    session().execute(text("INSERT INTO lifecycle_effects (name) VALUES ('Write and hold')"))
    gates["write"].hold()
    return {"written": True}


@step("Hold after")
def hold_after() -> None:
    gates["after"].hold()


# --- every outcome -------------------------------------------------------------------------------


def test_complete_process_records_every_step(register: Callable[..., Workflow]) -> None:
    register("lc_complete", init >> double >> done, form=number_form)

    result, process, step_log = run_workflow("lc_complete", [{"number": 21}])

    assert_complete(result)
    assert extract_state(result)["doubled"] == 42
    assert [(e.name, e.status) for e in step_log] == [("Start", "success"), ("Double", "success"), ("Done", "complete")]
    p = process_row(process.process_id)
    assert (p.last_status, p.last_step, p.cursor, p.claimed_by, p.failed_reason) == (
        "completed",
        "Done",
        None,
        None,
        None,
    )
    assert p.state["doubled"] == 42
    assert [r.seq for r in step_rows(process.process_id)] == [1, 2, 3]
    assert input_rows(process.process_id) == [("initial_state", {"number": 21})]


def test_failed_step_records_error_and_traceback(register: Callable[..., Workflow]) -> None:
    register("lc_failed", init >> one >> explode >> done)

    result, process, _ = run_workflow("lc_failed", [{}])

    assert_failed(result)
    assert extract_error(result) == "the cable is cut"
    p = process_row(process.process_id)
    assert (p.last_status, p.last_step, p.failed_reason, p.cursor) == (
        "failed",
        "Explode",
        "the cable is cut",
        ["Explode"],
    )
    assert p.traceback is not None
    assert "ValueError: the cable is cut" in p.traceback and "in explode" in p.traceback
    assert p.state["one"] == 1, "the process keeps the state the failed step started from"
    rows = step_rows(process.process_id)
    assert [(r.name, r.status) for r in rows] == [("Start", "success"), ("One", "success"), ("Explode", "failed")]
    assert rows[-1].state == {"class": "ValueError", "error": "the cable is cut"}


def test_process_failure_error_records_details(register: Callable[..., Workflow]) -> None:
    register("lc_details", init >> fail_with_details >> done)

    result, process, _ = run_workflow("lc_details", [{}])

    assert_failed(result)
    assert process_row(process.process_id).failed_reason == "Port already in use"
    assert step_rows(process.process_id)[-1].state == {
        "class": "ProcessFailureError",
        "error": "Port already in use",
        "details": {"port": "ge-0/0/1", "owner": "another subscription"},
    }


def test_retrystep_makes_the_process_waiting_with_backoff(register: Callable[..., Workflow]) -> None:
    register("lc_retry", init >> call_flaky_api >> done)
    broken.add("Call flaky API")

    result, process, step_log = run_workflow("lc_retry", [{}])

    assert_waiting(result)
    assert extract_error(result) == "API down"
    p = process_row(process.process_id)
    assert (p.last_status, p.retry_count, p.failed_reason) == ("waiting", 1, "API down")
    waiting_row = step_rows(process.process_id)[-1]
    assert (waiting_row.name, waiting_row.status) == ("Call flaky API", "waiting")
    assert p.next_retry_at is not None and p.next_retry_at > waiting_row.completed_at
    first_delay = p.next_retry_at - waiting_row.completed_at

    result, step_log = resume_workflow(process, step_log, [{}])

    assert_waiting(result)
    p = process_row(process.process_id)
    assert p.retry_count == 2
    assert p.next_retry_at is not None
    assert p.next_retry_at - step_rows(process.process_id)[-1].completed_at > first_delay, "the delay backs off"

    broken.clear()
    result, _ = resume_workflow(process, step_log, [{}])

    assert_complete(result)
    p = process_row(process.process_id)
    assert (p.retry_count, p.next_retry_at, p.failed_reason, p.traceback) == (0, None, None, None)
    assert calls["Call flaky API"] == 3
    assert history(process.process_id) == [
        ("Start", "success"),
        ("Call flaky API", "waiting"),
        ("Call flaky API", "waiting"),
        ("Call flaky API", "success"),
        ("Done", "complete"),
    ]


def test_inputstep_suspends_with_its_assignee(register: Callable[..., Workflow]) -> None:
    register("lc_suspend", init >> one >> approve_form >> done)

    result, process, _ = run_workflow("lc_suspend", [{}])

    assert_suspended(result)
    assert extract_state(result)["one"] == 1
    p = process_row(process.process_id)
    assert (p.last_status, p.assignee, p.last_step, p.cursor, p.claimed_by) == (
        "suspended",
        "NOC",
        "Approve",
        ["Approve"],
        None,
    )
    assert history(process.process_id)[-1] == ("Approve", "suspend")


def test_abort_step_aborts_the_process(register: Callable[..., Workflow]) -> None:
    register("lc_abort_step", init >> one >> abort)

    result, process, _ = run_workflow("lc_abort_step", [{}])

    assert_aborted(result)
    p = process_row(process.process_id)
    assert (p.last_status, p.cursor) == ("aborted", None)
    assert history(process.process_id) == [("Start", "success"), ("One", "success"), ("Abort", "abort")]
    with pytest.raises(ProcessNotResumableError):
        resume_process(process.process_id, [{}])


@pytest.mark.parametrize(
    ("error", "task_status", "task_assignee"),
    [
        (AssertionError("3 ports in the inventory, 2 on the device"), "inconsistent_data", "NOC"),
        (InconsistentDataError("3 ports in the inventory, 2 on the device"), "inconsistent_data", "NOC"),
        (ApiUnavailableError("inventory API unreachable"), "api_unavailable", "SYSTEM"),
    ],
)
@pytest.mark.parametrize("target", [Target.SYSTEM, Target.CREATE])
def test_failures_of_tasks_are_classified(
    register: Callable[..., Workflow], target: Target, error: Exception, task_status: str, task_assignee: str
) -> None:
    """Only tasks (Target.SYSTEM) tell bad data and unreachable systems apart from other failures."""
    register("lc_task", init >> raise_it >> done, target=target)
    to_raise.append(error)

    result, process, step_log = run_workflow("lc_task", [{}])

    assert_failed(result)
    p = process_row(process.process_id)
    expected = (task_status, task_assignee) if target == Target.SYSTEM else ("failed", "SYSTEM")
    assert (p.last_status, p.assignee) == expected
    assert p.failed_reason == str(error)
    assert step_rows(process.process_id)[-1].state["class"] == type(error).__name__

    to_raise.clear()
    result, _ = resume_workflow(process, step_log, [{}])
    assert_complete(result)


# --- retry ---------------------------------------------------------------------------------------


def test_retry_reruns_only_the_failed_step(register: Callable[..., Workflow]) -> None:
    register("lc_retry_failed", init >> one >> two >> three >> four >> done)
    broken.add("Three")

    result, process, step_log = run_workflow("lc_retry_failed", [{}])

    assert_failed(result)
    assert process_row(process.process_id).cursor == ["Three"]

    broken.clear()
    result, _ = resume_workflow(process, step_log, [{}])

    assert_complete(result)
    assert calls == {"One": 1, "Two": 1, "Three": 2, "Four": 1}
    assert extract_state(result)["four"] == 4, "the retried step got the state from before its failure"
    rows = step_rows(process.process_id)
    assert [(r.name, r.status) for r in rows] == [
        ("Start", "success"),
        ("One", "success"),
        ("Two", "success"),
        ("Three", "failed"),
        ("Three", "success"),
        ("Four", "success"),
        ("Done", "complete"),
    ]
    assert [r.seq for r in rows] == list(range(1, 8))
    assert input_rows(process.process_id) == [("initial_state", {}), ("user_input", {})]
    p = process_row(process.process_id)
    assert (p.failed_reason, p.traceback) == (None, None)


# --- suspend and resume --------------------------------------------------------------------------


def test_resume_merges_the_validated_input(register: Callable[..., Workflow]) -> None:
    register("lc_resume", init >> prepare_settings >> configure_form >> use_input >> done)
    result, process, step_log = run_workflow("lc_resume", [{}])
    assert_suspended(result)
    assert process_row(process.process_id).assignee == "CHANGES"
    before = process_row(process.process_id)

    with pytest.raises(FormValidationError):
        resume_workflow(process, step_log, [{"vlan": 5000}])

    after = process_row(process.process_id)
    assert (after.last_status, after.seq, after.state, after.cursor) == (
        "suspended",
        before.seq,
        before.state,
        before.cursor,
    )
    assert input_rows(process.process_id) == [("initial_state", {})]
    assert calls["Use input"] == 0

    result, _ = resume_workflow(process, step_log, [{"vlan": 100, "settings": {"mtu": 9000}}])

    assert_complete(result)
    state = extract_state(result)
    assert state["vlan"] == 100
    assert state["settings"] == {"mtu": 9000, "speed": "10G"}, "dicts in the input are merged into the state deeply"
    assert state["used"] == "vlan 100, mtu 9000, 10G"
    assert history(process.process_id) == [
        ("Start", "success"),
        ("Prepare settings", "success"),
        ("Configure", "suspend"),
        ("Configure", "success"),
        ("Use input", "success"),
        ("Done", "complete"),
    ]
    assert step_rows(process.process_id)[3].state["vlan"] == 100
    assert input_rows(process.process_id)[-1] == ("user_input", {"vlan": 100, "settings": {"mtu": 9000}})

    with pytest.raises(ProcessNotResumableError):
        resume_workflow(process, step_log, [{"vlan": 200}])
    assert process_row(process.process_id).state["vlan"] == 100


def test_a_two_page_input_form_needs_both_pages(register: Callable[..., Workflow]) -> None:
    register("lc_two_pages", init >> two_pages_form >> done)
    result, process, step_log = run_workflow("lc_two_pages", [{}])
    assert_suspended(result)
    seq = process_row(process.process_id).seq

    with pytest.raises(FormNotCompleteError):
        resume_workflow(process, step_log, [{"colour": "red"}])

    p = process_row(process.process_id)
    assert (p.last_status, p.seq) == ("suspended", seq)

    result, _ = resume_workflow(process, step_log, [{"colour": "red"}, {"size": 3}])

    assert_complete(result)
    assert extract_state(result)["colour"] == "red"
    assert extract_state(result)["size"] == 3


def test_resume_of_an_unknown_process_is_refused(database: Database) -> None:
    with pytest.raises(ProcessNotFoundError):
        resume_process(uuid.uuid4(), [{}])


# --- step groups ---------------------------------------------------------------------------------


def test_step_group_is_one_history_row_updated_per_sub_step(register: Callable[..., Workflow]) -> None:
    group_row_seen_by_sub_two.clear()
    register("lc_group", init >> step_group("Provision", sub_one >> sub_two >> sub_three) >> one >> done)

    result, process, _ = run_workflow("lc_group", [{}])

    assert_complete(result)
    ((status_seen, state_seen),) = group_row_seen_by_sub_two
    assert (status_seen, state_seen["sub_one"]) == ("success", 1), "the row was committed after the first sub-step"
    assert "sub_two" not in state_seen
    rows = step_rows(process.process_id)
    assert [(r.name, r.status) for r in rows] == [
        ("Start", "success"),
        ("Provision", "success"),
        ("One", "success"),
        ("Done", "complete"),
    ]
    assert (rows[1].state["sub_one"], rows[1].state["sub_two"], rows[1].state["sub_three"]) == (1, 2, 3)


def test_failing_sub_step_is_retried_alone(register: Callable[..., Workflow]) -> None:
    register("lc_group_fail", init >> step_group("Provision", sub_one >> sub_two >> sub_three) >> done)
    broken.add("Sub two")

    result, process, step_log = run_workflow("lc_group_fail", [{}])

    assert_failed(result)
    p = process_row(process.process_id)
    assert (p.last_status, p.last_step, p.cursor) == ("failed", "Sub two", ["Provision", "Sub two"])
    assert history(process.process_id) == [("Start", "success"), ("Provision", "failed")]
    assert step_rows(process.process_id)[-1].state == {"class": "RuntimeError", "error": "Sub two is broken"}

    broken.clear()
    result, _ = resume_workflow(process, step_log, [{}])

    assert_complete(result)
    assert calls == {"Sub one": 1, "Sub two": 2, "Sub three": 1}
    assert history(process.process_id)[-2:] == [("Provision", "success"), ("Done", "complete")]
    assert extract_state(result)["sub_three"] == 3


def test_a_failed_group_row_stays_in_the_history_after_retry(register: Callable[..., Workflow]) -> None:
    register("lc_group_audit", init >> step_group("Provision", sub_one >> sub_two >> sub_three) >> done)
    broken.add("Sub two")
    result, process, step_log = run_workflow("lc_group_audit", [{}])
    assert_failed(result)

    broken.clear()
    resume_workflow(process, step_log, [{}])

    assert history(process.process_id) == [
        ("Start", "success"),
        ("Provision", "failed"),
        ("Provision", "success"),
        ("Done", "complete"),
    ]


def test_input_step_inside_a_group_resumes_inside_the_group(register: Callable[..., Workflow]) -> None:
    register("lc_group_input", init >> step_group("Configure port", sub_one >> pick_colour_form >> sub_three) >> done)

    result, process, step_log = run_workflow("lc_group_input", [{}])

    assert_suspended(result)
    p = process_row(process.process_id)
    assert (p.last_step, p.cursor) == ("Pick colour", ["Configure port", "Pick colour"])
    assert history(process.process_id) == [("Start", "success"), ("Configure port", "suspend")]

    result, _ = resume_workflow(process, step_log, [{"colour": "blue"}])

    assert_complete(result)
    assert calls == {"Sub one": 1, "Sub three": 1}
    assert history(process.process_id) == [("Start", "success"), ("Configure port", "success"), ("Done", "complete")]
    group_state = step_rows(process.process_id)[1].state
    assert (group_state["colour"], group_state["sub_three"]) == ("blue", 3)


def test_focussteps_run_on_a_sub_dict(register: Callable[..., Workflow]) -> None:
    register("lc_focus", init >> create_port >> focussteps("port")(set_speed >> name_port) >> done)

    result, process, _ = run_workflow("lc_focus", [{}])

    assert_complete(result)
    state = extract_state(result)
    assert state["port"] == {"number": 3, "speed": "10G", "name": "port-3-10G"}
    assert "speed" not in state and "name" not in state
    assert [name for name, _ in history(process.process_id)] == [
        "Start",
        "Create port",
        "Set speed",
        "Name port",
        "Done",
    ]


# --- a step's database effects share its transaction --------------------------------------------


@pytest.fixture
def effects(database: Database) -> Iterator[Callable[[], list[str]]]:
    """A table of the test's own that steps write to; returns a reader of its rows."""
    with database.write() as s:
        s.execute(text("CREATE TABLE IF NOT EXISTS lifecycle_effects (name VARCHAR(50))"))
        s.execute(text("DELETE FROM lifecycle_effects"))

    def read() -> list[str]:
        with database.read() as s:
            return sorted(s.execute(text("SELECT name FROM lifecycle_effects")).scalars())

    yield read
    with database.write() as s:
        s.execute(text("DROP TABLE lifecycle_effects"))


def test_a_failed_steps_effects_are_rolled_back(
    register: Callable[..., Workflow], effects: Callable[[], list[str]]
) -> None:
    register("lc_rollback", init >> write_effect >> write_and_fail >> explode >> done)
    broken.add("Write and fail")

    result, process, step_log = run_workflow("lc_rollback", [{}])

    assert_failed(result)
    assert effects() == ["Write"], "the failed step's insert was rolled back, the earlier step's kept"

    broken.clear()
    resume_workflow(process, step_log, [{}])

    assert effects() == ["Write", "Write and fail"], "the retried step wrote once"
    assert history(process.process_id)[-1] == ("Explode", "failed")


def test_a_state_that_cannot_be_stored_rolls_back_the_effects(
    register: Callable[..., Workflow], effects: Callable[[], list[str]]
) -> None:
    register("lc_unstorable", init >> write_unstorable >> done)

    result, process, _ = run_workflow("lc_unstorable", [{}])

    assert_failed(result)
    assert "cannot be stored" in (extract_error(result) or "")
    assert effects() == []
    assert history(process.process_id)[-1] == ("Write unstorable", "failed")


def test_effects_commit_together_with_the_checkpoint(
    register: Callable[..., Workflow], effects: Callable[[], list[str]]
) -> None:
    register("lc_atomic", init >> write_and_hold >> hold_after >> done)
    gates.update(write=Gate(), after=Gate())
    set_executor(ThreadPoolExecutor(current(), max_workers=1))

    process_id = start_process("lc_atomic", [{}])
    assert gates["write"].entered.wait(10)

    assert effects() == [], "the effect is not visible before its step's checkpoint"
    assert history(process_id) == [("Start", "success")]

    gates["write"].release.set()
    assert gates["after"].entered.wait(10)

    assert effects() == ["Write and hold"]
    assert history(process_id)[-1] == ("Write and hold", "success")

    gates["after"].release.set()
    assert wait_for_process(process_id, timeout=10) == ProcessStatus.COMPLETED


@inputstep("Ask for the port name")
def ask_port_name(current: str = "none") -> type[SubmitFormPage]:
    class PortNamePage(SubmitFormPage):
        name: str
        was: str = current

    return PortNamePage


def test_a_focussed_input_step_reads_and_answers_its_part_of_the_state(register: Callable[..., Workflow]) -> None:
    @step("Seed the port")
    def seed() -> State:
        return {"port": {"current": "xe-0/0/0"}}

    register("lc_focus_input", init >> seed >> focussteps("port")(ask_port_name) >> done)
    result, process, step_log = run_workflow("lc_focus_input", [{}])
    assert_suspended(result)
    result, _ = resume_workflow(process, step_log, [{"name": "xe-0/0/1"}])
    assert_complete(result)
    state = extract_state(result)
    assert state["port"] == {"current": "xe-0/0/0", "name": "xe-0/0/1", "was": "xe-0/0/0"}
    assert "name" not in state
