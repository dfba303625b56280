"""The step DSL and workflow definitions: chaining, definition-time errors, step identities, and how
conditional, focussteps/steplens, step groups and plain steps behave when run.

Most tests run the pure runner on a ``MemoryJournal``; the ones at the end go through the test kit on
both databases to check what the persisted step log looks like.
"""

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import structlog.testing

from orchestrion.db import Database
from orchestrion.engine.runner import MemoryJournal, StepRecord, run
from orchestrion.engine.status import StepStatus
from orchestrion.engine.workflow import Path
from orchestrion.testing import (
    WorkflowInstanceForTests,
    assert_complete,
    assert_failed,
    extract_error,
    extract_state,
    run_workflow,
)
from orchestrion.types import State
from orchestrion.workflow import (
    Complete,
    Failed,
    Outcome,
    Step,
    StepList,
    Workflow,
    WorkflowDefinitionError,
    abort,
    begin,
    conditional,
    done,
    focussteps,
    init,
    retrystep,
    step,
    step_group,
    steplens,
    workflow,
)
from orchestrion.workflows import ALL_WORKFLOWS, LazyWorkflowInstance, get_workflow, register_workflow


def appender(name: str) -> Step:
    """A step that appends its name to ``ran``, so the state shows which steps ran and in which order."""

    @step(name)
    def append(ran: list[str] | None = None) -> State:
        return {"ran": [*(ran or []), name]}

    return append


a, b, c = appender("a"), appender("b"), appender("c")


@step("Switch off")
def switch_off() -> State:
    return {"enabled": False}


@step("Return a list")
def returns_list():  # type: ignore[no-untyped-def]
    return ["not", "a", "dict"]


@step("Return nothing")
def returns_none() -> None:
    return None


@step("Count")
def count(n: int = 0) -> State:
    return {"n": n + 1}


@step("Needs outer")
def needs_outer(outer: int) -> State:
    return {"seen": outer}


@step("Boom")
def boom() -> State:
    raise RuntimeError("boom")


def run_steps(steps: Step | StepList, state: State | None = None) -> tuple[Outcome, list[StepRecord]]:
    """Run ``init >> steps >> done`` on the pure runner; the outcome and the journal's records."""
    wf = Workflow("dsl", "", init >> steps >> done)
    journal = MemoryJournal()
    outcome = run(wf, wf.first_path(), dict(state or {}), journal)
    return outcome, journal.records


def leaf_paths(wf: Workflow) -> list[Path]:
    paths = []
    path: Path | None = wf.first_path()
    while path is not None:
        paths.append(path)
        path = wf.next_path(path)
    return paths


# --- chaining ------------------------------------------------------------------------------------


def test_rshift_is_associative_over_steps_and_step_lists() -> None:
    left = (a >> b) >> c
    right = a >> (b >> c)
    assert isinstance(left, StepList) and isinstance(right, StepList)
    assert left == right == [a, b, c]
    assert ((a >> b) >> (c >> a)) == (a >> (b >> (c >> a))) == [a, b, c, a]
    assert (StepList([a]) >> b) == (a >> StepList([b])) == [a, b]


def test_begin_is_the_empty_step_list_and_chaining_never_mutates() -> None:
    assert isinstance(begin, StepList) and list(begin) == []
    assert begin >> a == [a]
    assert begin >> (a >> b) == a >> b
    assert len(begin) == 0
    base = a >> b
    longer = base >> c
    assert base == [a, b] and longer == [a, b, c]


def _undecorated() -> State:
    return {}


@pytest.mark.parametrize("thing", [42, "a", None, _undecorated, [a]], ids=["int", "str", "None", "function", "list"])
def test_rshift_rejects_anything_but_steps(thing: Any) -> None:
    with pytest.raises(
        ValueError, match=rf"only steps and step lists can be chained with >>, not {type(thing).__name__}"
    ):
        a >> thing
    with pytest.raises(ValueError, match=r"only steps and step lists can be chained with >>"):
        init >> a >> thing


def test_step_list_holds_steps_only() -> None:
    with pytest.raises(ValueError, match=r"a step list holds steps only, not function"):
        StepList([a, _undecorated])  # type: ignore[list-item]


def test_slicing_a_step_list_gives_a_step_list() -> None:
    steps = a >> b >> c
    tail = steps[1:]
    assert isinstance(tail, StepList)
    assert tail == [b, c]
    assert steps[0] is a
    assert tail >> a == [b, c, a]
    assert isinstance(steps[::-1], StepList)


# --- definition-time errors ----------------------------------------------------------------------


def test_workflow_without_init_is_rejected_at_definition() -> None:
    with pytest.raises(
        WorkflowDefinitionError, match=r"workflow 'no_init' must start with init \(it starts with 'a'\)"
    ):

        @workflow("no init")
        def no_init() -> StepList:
            return a >> done


def test_workflow_without_done_is_rejected_at_definition() -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"workflow 'no_done' must end with done \(it ends with 'b'\)"):

        @workflow("no done")
        def no_done() -> StepList:
            return init >> a >> b


def test_empty_workflow_is_rejected_at_definition() -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"workflow 'empty' has no steps"):

        @workflow("empty")
        def empty() -> StepList:
            return begin


def test_workflow_returning_a_single_step_is_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"workflow 'single' must return a StepList"):

        @workflow("single")
        def single() -> StepList:
            return a  # type: ignore[return-value]


def test_workflow_function_with_parameters_is_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"workflow function 'takes_args' must take no arguments"):

        @workflow("takes args")
        def takes_args(x: int) -> StepList:
            return init >> done


def test_non_step_in_a_workflow_chain_is_rejected_at_definition() -> None:
    with pytest.raises(ValueError, match=r"not function"):

        @workflow("forgot the decorator")
        def forgot() -> StepList:
            return init >> _undecorated >> done  # type: ignore[operator]


def test_workflow_may_end_with_abort() -> None:
    @workflow("ends with abort")
    def ends_with_abort() -> StepList:
        return init >> a >> abort

    assert ends_with_abort.steps[-1].name == "Abort"


def test_workflow_is_not_called_directly() -> None:
    @workflow("fine")
    def fine() -> StepList:
        return init >> done

    with pytest.raises(TypeError, match=r"run by the engine"):
        fine()


def _returns_int() -> int:
    return 1


def _returns_str() -> str:
    return ""


def _returns_list() -> list[str]:
    return []


def _returns_optional_int() -> int | None:
    return None


def _returns_quoted_int() -> "int":
    return 1


@pytest.mark.parametrize(
    "func",
    [_returns_int, _returns_str, _returns_list, _returns_optional_int, _returns_quoted_int],
    ids=["int", "str", "list", "optional-int", "string-annotation"],
)
def test_step_annotated_to_return_a_non_dict_is_rejected_at_definition(func: Callable[[], Any]) -> None:
    with pytest.raises(TypeError, match=r"Step 'Bad return' is annotated to return .*a step returns a dict"):
        step("Bad return")(func)


def _returns_state() -> State:
    return {}


def _returns_dict() -> dict[str, Any]:
    return {}


def _returns_optional_state() -> State | None:
    return None


def _returns_none() -> None:
    return None


def _returns_quoted_state() -> "State":
    return {}


@pytest.mark.parametrize(
    "func",
    [_returns_state, _returns_dict, _returns_optional_state, _returns_none, _returns_quoted_state],
    ids=["State", "dict", "optional-State", "None", "string-annotation"],
)
def test_step_annotated_to_return_a_dict_or_none_is_accepted(func: Callable[[], Any]) -> None:
    assert step("Good return")(func).name == "Good return"


# --- registration --------------------------------------------------------------------------------


@pytest.fixture
def clean_registry() -> Iterator[list[str]]:
    """Names the test registers; they are removed again afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        ALL_WORKFLOWS.pop(name, None)


def test_register_workflow_refuses_a_second_workflow_under_the_same_name(clean_registry: list[str]) -> None:
    @workflow("first")
    def first() -> StepList:
        return init >> a >> done

    @workflow("second")
    def second() -> StepList:
        return init >> b >> done

    clean_registry.append("dsl_duplicate")
    assert register_workflow(first, "dsl_duplicate") is first
    assert register_workflow(first, "dsl_duplicate") is first  # the same object again is harmless
    with pytest.raises(ValueError, match=r"workflow name 'dsl_duplicate' is already registered"):
        register_workflow(second, "dsl_duplicate")
    assert get_workflow("dsl_duplicate") is first


def test_lazy_workflow_instance_refuses_a_second_module_under_the_same_name(clean_registry: list[str]) -> None:
    clean_registry.append("dsl_lazy_duplicate")
    LazyWorkflowInstance("tests.module_one", "dsl_lazy_duplicate")
    LazyWorkflowInstance("tests.module_one", "dsl_lazy_duplicate")  # re-registering the same thing is harmless
    with pytest.raises(ValueError, match=r"workflow name 'dsl_lazy_duplicate' is already registered from"):
        LazyWorkflowInstance("tests.module_two", "dsl_lazy_duplicate")
    assert ALL_WORKFLOWS["dsl_lazy_duplicate"].package == "tests.module_one"


def test_register_workflow_refuses_a_name_a_lazy_instance_holds(clean_registry: list[str]) -> None:
    @workflow("other")
    def other() -> StepList:
        return init >> done

    clean_registry.append("dsl_lazy_taken")
    LazyWorkflowInstance("tests.module_one", "dsl_lazy_taken")
    with pytest.raises(ValueError, match=r"workflow name 'dsl_lazy_taken' is already registered"):
        register_workflow(other, "dsl_lazy_taken")


# --- step identities and fingerprint -------------------------------------------------------------


def test_repeated_step_names_get_an_occurrence_number() -> None:
    assert (a >> b >> a >> a >> b).keys() == ["a", "b", "a#2", "a#3", "b#2"]


def test_step_groups_give_nested_paths() -> None:
    inner = step_group("Inner", a >> b)
    group = step_group("Group", a >> inner >> a)
    wf = Workflow("ids", "", init >> a >> a >> group >> b >> done)
    assert leaf_paths(wf) == [
        ("Start",),
        ("a",),
        ("a#2",),
        ("Group", "a"),
        ("Group", "Inner", "a"),
        ("Group", "Inner", "b"),
        ("Group", "a#2"),
        ("b",),
        ("Done",),
    ]
    assert wf.step_at(("Group",)) is group
    assert wf.step_at(("Group", "Inner")) is inner
    assert wf.step_at(("Group", "Inner", "b")) is b
    with pytest.raises(KeyError):
        wf.step_at(("Group", "c"))
    with pytest.raises(KeyError):
        wf.step_at(("a", "b"))

    outcome, records = run_steps(a >> a >> group >> b)
    assert [r.path for r in records] == leaf_paths(wf)
    assert extract_state(outcome)["ran"] == ["a", "a", "a", "a", "b", "a", "b"]


def _fingerprint(steps: StepList, name: str = "fp") -> str:
    return Workflow(name, "", init >> steps >> done).fingerprint


def test_fingerprint_is_stable_for_an_identical_step_list() -> None:
    assert _fingerprint(a >> step_group("G", b >> c)) == _fingerprint(a >> step_group("G", b >> c), name="other")
    # Identity is by name: another step object with the same name is the same step.
    assert _fingerprint(a >> b) == _fingerprint(appender("a") >> appender("b"))


@pytest.mark.parametrize(
    "changed",
    [
        a >> b >> c >> step_group("G", a >> b),
        a >> b,
        b >> a >> step_group("G", a >> b),
        a >> b >> step_group("G", a >> b >> c),
        a >> b >> step_group("H", a >> b),
        a >> step_group("G", b >> a >> b),
        a >> b >> a >> b,
    ],
    ids=[
        "step added",
        "group removed",
        "reordered",
        "step added in group",
        "group renamed",
        "moved into group",
        "ungrouped",
    ],
)
def test_fingerprint_changes_when_the_step_list_changes(changed: StepList) -> None:
    assert _fingerprint(a >> b >> step_group("G", a >> b)) != _fingerprint(changed)


# --- running: conditional ------------------------------------------------------------------------


def test_conditional_runs_when_true_and_skips_when_false() -> None:
    outcome, records = run_steps(conditional(lambda s: s["go"])(a >> b) >> c, {"go": True})
    assert extract_state(outcome)["ran"] == ["a", "b", "c"]

    outcome, records = run_steps(conditional(lambda s: s["go"])(a >> b) >> c, {"go": False})
    assert isinstance(outcome, Complete)
    assert extract_state(outcome)["ran"] == ["c"]
    assert [(r.step_name, r.status) for r in records] == [
        ("Start", StepStatus.SUCCESS),
        ("a", StepStatus.SKIPPED),
        ("b", StepStatus.SKIPPED),
        ("c", StepStatus.SUCCESS),
        ("Done", StepStatus.COMPLETE),
    ]


def test_conditional_evaluates_its_predicate_for_each_step() -> None:
    outcome, records = run_steps(conditional(lambda s: s["enabled"])(a >> switch_off >> b), {"enabled": True})
    assert extract_state(outcome)["ran"] == ["a"]
    assert [r.status for r in records[1:4]] == [StepStatus.SUCCESS, StepStatus.SUCCESS, StepStatus.SKIPPED]


def test_nested_conditionals_need_both_predicates() -> None:
    both = conditional(lambda s: s["x"])(conditional(lambda s: s["y"])(a))
    for x in (True, False):
        for y in (True, False):
            outcome, _ = run_steps(both >> b, {"x": x, "y": y})
            assert extract_state(outcome)["ran"] == (["a", "b"] if x and y else ["b"]), (x, y)


def test_conditional_leaves_the_original_steps_unconditional() -> None:
    conditional(lambda s: False)(a >> b)
    outcome, _ = run_steps(a >> b)
    assert extract_state(outcome)["ran"] == ["a", "b"]


def test_conditional_step_group_is_skipped_as_a_whole() -> None:
    group = conditional(lambda s: s["go"])(step_group("G", a >> b))
    outcome, records = run_steps(group >> c, {"go": False})
    assert extract_state(outcome)["ran"] == ["c"]
    assert [(r.row_name, r.status) for r in records if r.row_name == "G"] == [
        ("G", StepStatus.SKIPPED),
        ("G", StepStatus.SKIPPED),
    ]
    outcome, _ = run_steps(group >> c, {"go": True})
    assert extract_state(outcome)["ran"] == ["a", "b", "c"]


def test_failing_predicate_fails_the_step() -> None:
    outcome, records = run_steps(conditional(lambda s: s["missing"])(a))
    assert isinstance(outcome, Failed)
    assert records[-1].step_name == "a" and records[-1].status == StepStatus.FAILED


def test_a_failing_step_is_logged_with_its_exception() -> None:
    @step("Reserve port")
    def reserve() -> State:
        raise ConnectionError("inventory unreachable")

    @retrystep("Poll inventory")
    def poll() -> State:
        raise TimeoutError("no answer")

    with structlog.testing.capture_logs() as logs:
        assert isinstance(run_steps(reserve)[0], Failed)
        run_steps(poll)
    failures = [(e["step"], e["outcome"], str(e["exc_info"])) for e in logs if e["event"] == "Step failed"]
    assert failures == [("Reserve port", "failed", "inventory unreachable"), ("Poll inventory", "waiting", "no answer")]


# --- running: focussteps and steplens ------------------------------------------------------------


def test_focussteps_runs_on_the_sub_dict_and_writes_it_back() -> None:
    outcome, _ = run_steps(focussteps("counter")(count >> count), {"counter": {"n": 5}, "other": 1})
    state = extract_state(outcome)
    assert state["counter"] == {"n": 7}
    assert state["other"] == 1
    assert "n" not in state


def test_focussteps_starts_from_an_empty_dict_when_the_key_is_absent() -> None:
    outcome, _ = run_steps(focussteps("counter")(count))
    assert extract_state(outcome)["counter"] == {"n": 1}


def test_focussed_step_sees_only_the_sub_dict() -> None:
    outcome, records = run_steps(focussteps("sub")(needs_outer), {"outer": 1, "sub": {}})
    assert isinstance(outcome, Failed)
    assert records[-1].failed_reason == "Step 'Needs outer': the state has no key 'outer' (expected int)"


def test_focussed_failure_passes_through() -> None:
    outcome, records = run_steps(focussteps("sub")(boom), {"sub": {"x": 1}})
    assert isinstance(outcome, Failed)
    assert records[-1].row_state == {"class": "RuntimeError", "error": "boom"}


def test_conditional_inside_focussteps_sees_the_sub_dict() -> None:
    steps = focussteps("sub")(conditional(lambda s: s.get("flag") is True)(count))
    outcome, _ = run_steps(steps, {"flag": False, "sub": {"flag": True}})
    assert extract_state(outcome)["sub"] == {"flag": True, "n": 1}
    outcome, _ = run_steps(steps, {"flag": True, "sub": {"flag": False}})
    assert extract_state(outcome)["sub"] == {"flag": False}


def test_conditional_around_focussteps_sees_the_whole_state() -> None:
    steps = conditional(lambda s: s.get("flag") is True)(focussteps("sub")(count))
    outcome, _ = run_steps(steps, {"flag": True, "sub": {}})
    assert extract_state(outcome)["sub"] == {"n": 1}
    outcome, _ = run_steps(steps, {"flag": False, "sub": {}})
    assert extract_state(outcome)["sub"] == {}


def test_steplens_uses_the_given_getter_and_setter() -> None:
    lens = steplens(
        lambda s: s["deep"]["inner"],
        lambda s, sub: {**s, "deep": {**s["deep"], "inner": sub}},
    )
    outcome, _ = run_steps(lens(count >> count), {"deep": {"inner": {"n": 0}, "keep": True}})
    assert extract_state(outcome)["deep"] == {"inner": {"n": 2}, "keep": True}


def test_focussteps_refuses_a_step_group() -> None:
    with pytest.raises(ValueError, match=r"step group 'G' cannot be focussed"):
        focussteps("sub")(step_group("G", a >> b))


# --- running: step groups and plain steps --------------------------------------------------------


def test_step_group_runs_its_sub_steps_in_order_as_one_row() -> None:
    outcome, records = run_steps(a >> step_group("G", b >> c >> a) >> b)
    assert extract_state(outcome)["ran"] == ["a", "b", "c", "a", "b"]
    assert [(r.row_name, r.step_name) for r in records] == [
        ("Start", "Start"),
        ("a", "a"),
        ("G", "b"),
        ("G", "c"),
        ("G", "a"),
        ("b", "b"),
        ("Done", "Done"),
    ]


def test_step_group_needs_a_non_empty_step_list() -> None:
    with pytest.raises(ValueError, match=r"step group 'G' needs a non-empty StepList"):
        step_group("G", begin)


def test_step_returning_none_keeps_the_state() -> None:
    outcome, records = run_steps(a >> returns_none, {"x": 1})
    assert extract_state(outcome) == {"x": 1, "ran": ["a"]}
    assert records[2].step_name == "Return nothing"
    assert records[2].status == StepStatus.SUCCESS
    assert records[2].row_state == {"x": 1, "ran": ["a"]}


def test_step_returning_a_non_dict_fails_naming_the_step() -> None:
    outcome, records = run_steps(a >> returns_list >> b)
    assert isinstance(outcome, Failed)
    assert records[-1].step_name == "Return a list"
    assert records[-1].failed_reason == "Step 'Return a list' returned list; a step must return a dict or None"


def test_step_result_is_merged_shallowly_and_wins() -> None:
    @step("Overwrite")
    def overwrite() -> State:
        return {"x": {"new": 1}}

    outcome, _ = run_steps(overwrite, {"x": {"old": 1}, "y": 2})
    assert extract_state(outcome) == {"x": {"new": 1}, "y": 2}


# --- end to end through the test kit -------------------------------------------------------------


@pytest.fixture
def registered() -> Iterator[Callable[[StepList], str]]:
    """Register ``init >> steps >> done`` under a fresh name for the test; returns the name."""
    numbers = itertools.count()
    with ExitStack() as stack:

        def register(steps: StepList) -> str:
            name = f"dsl_e2e_{next(numbers)}"
            stack.enter_context(WorkflowInstanceForTests(Workflow(name, "", init >> steps >> done), name))
            return name

        yield register


def test_skipped_steps_are_persisted_as_skipped(database: Database, registered: Callable[[StepList], str]) -> None:
    name = registered(a >> conditional(lambda s: "never" in s)(b >> c) >> a)
    result, _process, log = run_workflow(name, [{}])
    assert_complete(result)
    assert [(e.name, e.status) for e in log] == [
        ("Start", "success"),
        ("a", "success"),
        ("b", "skipped"),
        ("c", "skipped"),
        ("a", "success"),
        ("Done", "complete"),
    ]
    assert extract_state(result)["ran"] == ["a", "a"]


def test_step_group_is_one_persisted_row(database: Database, registered: Callable[[StepList], str]) -> None:
    name = registered(a >> step_group("Group", b >> step_group("Inner", c >> a)) >> b)
    result, _process, log = run_workflow(name, [{}])
    assert_complete(result)
    assert [(e.name, e.status) for e in log] == [
        ("Start", "success"),
        ("a", "success"),
        ("Group", "success"),
        ("b", "success"),
        ("Done", "complete"),
    ]
    assert log[2].state["ran"] == ["a", "b", "c", "a"]
    assert extract_state(result)["ran"] == ["a", "b", "c", "a", "b"]


def test_skipped_step_group_is_one_persisted_row(database: Database, registered: Callable[[StepList], str]) -> None:
    name = registered(conditional(lambda s: False)(step_group("Group", a >> b)) >> c)
    result, _process, log = run_workflow(name, [{}])
    assert_complete(result)
    assert [(e.name, e.status) for e in log] == [
        ("Start", "success"),
        ("Group", "skipped"),
        ("c", "success"),
        ("Done", "complete"),
    ]


def test_failing_sub_step_fails_the_group_row(database: Database, registered: Callable[[StepList], str]) -> None:
    name = registered(step_group("Group", a >> boom >> b))
    result, _process, log = run_workflow(name, [{}])
    assert_failed(result)
    assert extract_error(result) == "boom"
    assert [(e.name, e.status) for e in log] == [("Start", "success"), ("Group", "failed")]


def test_focussteps_result_is_persisted(database: Database, registered: Callable[[StepList], str]) -> None:
    name = registered(focussteps("counter")(count >> count) >> returns_none)
    result, _process, log = run_workflow(name, [{}])
    assert_complete(result)
    assert extract_state(result)["counter"] == {"n": 2}
    assert "n" not in extract_state(result)
    assert [e.name for e in log] == ["Start", "Count", "Count", "Return nothing", "Done"]


def test_non_dict_result_fails_the_persisted_process(database: Database, registered: Callable[[StepList], str]) -> None:
    name = registered(a >> returns_list)
    result, _process, log = run_workflow(name, [{}])
    assert_failed(result)
    assert extract_error(result) == "Step 'Return a list' returned list; a step must return a dict or None"
    assert [(e.name, e.status) for e in log] == [("Start", "success"), ("a", "success"), ("Return a list", "failed")]


def test_a_conditional_done_is_refused_at_definition() -> None:
    from orchestrion.workflow import conditional

    with pytest.raises(WorkflowDefinitionError, match="done that always runs"):

        @workflow("Maybe done")
        def maybe_done() -> StepList:
            return init >> conditional(lambda state: False)(done)
