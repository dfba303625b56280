"""Forms over HTTP: the stateless replay protocol, dependent pages, and what validation reports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi.testclient import TestClient
from pydantic import Field, model_validator

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.forms import FormPage, ReadOnlyField, SubmitFormPage
from orchestrion.forms.validators import Choice, unique_conlist
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import FormGenerator, State
from orchestrion.workflow import StepList, done, init, step, workflow

Colour: Any = Choice.__call__("Colour", {"red": ("red", "Red"), "blue": ("blue", "Blue")})


class SizePage(FormPage):
    size: Annotated[int, Field(ge=1, le=10)]
    colour: Colour


def dependent_form() -> FormGenerator:
    first = yield SizePage

    class NamesPage(SubmitFormPage):
        """The second page depends on the first: as many names as the chosen size."""

        fixed: str = ReadOnlyField("fixed value")
        names: unique_conlist(str, min_items=first.size, max_items=first.size)  # type: ignore[valid-type]
        low: int
        high: int

        @model_validator(mode="after")
        def ordered(self) -> NamesPage:
            if self.low > self.high:
                raise ValueError("low must not exceed high")
            return self

    second = yield NamesPage
    return {"size": first.size, "colour": first.colour.value, **second.model_dump()}


@step("Keep")
def keep(names: list[str], fixed: str) -> State:
    return {"kept": names, "kept_fixed": fixed}


@workflow("Form protocol", initial_input_form=dependent_form)
def form_protocol() -> StepList:
    return init >> keep >> done


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    with WorkflowInstanceForTests(form_protocol, "form_protocol"), TestClient(OrchestratorCore(database=database)) as c:
        yield c


def _post(client: TestClient, pages: list[dict[str, Any]]) -> Any:
    return client.post("/api/processes/form_protocol", json=pages)


def test_later_page_depends_on_earlier_answers(client: TestClient) -> None:
    first = _post(client, [])
    assert first.status_code == 510
    schema = first.json()["form"]
    assert schema["properties"]["size"]["maximum"] == 10
    colour = schema["$defs"]["Colour"]
    assert colour["enum"] == ["red", "blue"] and colour["options"] == {"red": "Red", "blue": "Blue"}
    second = _post(client, [{"size": 2, "colour": "blue"}])
    assert second.status_code == 510
    names = second.json()["form"]["properties"]["names"]
    assert (names["minItems"], names["maxItems"]) == (2, 2)
    assert second.json()["meta"] == {"hasNext": False}


def test_validation_errors_are_structured(client: TestClient) -> None:
    bad_first = _post(client, [{"size": 11, "colour": "green"}])
    assert bad_first.status_code == 400
    assert {tuple(e["loc"]) for e in bad_first.json()["validation_errors"]} == {("size",), ("colour",)}
    page = {"size": 2, "colour": "red"}
    duplicates = _post(client, [page, {"names": ["a", "a"], "low": 1, "high": 2}])
    assert duplicates.status_code == 400
    assert duplicates.json()["validation_errors"][0]["loc"] == ["names"]
    too_few = _post(client, [page, {"names": ["a"], "low": 1, "high": 2}])
    assert too_few.status_code == 400
    unordered = _post(client, [page, {"names": ["a", "b"], "low": 3, "high": 2}])
    assert unordered.status_code == 400
    error = unordered.json()["validation_errors"][0]
    assert error["loc"] == ["__root__"] and "low must not exceed high" in error["msg"]
    extra = _post(client, [page, {"names": ["a", "b"], "low": 1, "high": 2}, {"more": 1}])
    assert extra.status_code == 400


def test_read_only_field_keeps_its_value(client: TestClient) -> None:
    pages = [{"size": 2, "colour": "red"}, {"names": ["a", "b"], "low": 1, "high": 2, "fixed": "hacked"}]
    created = _post(client, pages)
    assert created.status_code == 201, created.text
    state = client.get(f"/api/processes/{created.json()['id']}").json()["current_state"]
    assert state["kept_fixed"] == "fixed value"
    assert state["kept"] == ["a", "b"]
