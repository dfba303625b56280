"""``POST /api/forms/{form_key}``: forms registered by name, filled page by page, over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from typing import Annotated, Any

import pytest
from fastapi.testclient import TestClient
from pydantic import Field
from pydantic_forms.core.shared import FORMS
from sqlalchemy import func, select
from tests.subscription_support import load_product

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database, db
from orchestrion.db.domain_models import ProductTable
from orchestrion.forms import FormPage, SubmitFormPage, register_form
from orchestrion.types import FormGenerator, State


class ContactPage(FormPage):
    name: str


class PhonePage(SubmitFormPage):
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ]+$")]


def contact_form(state: State) -> FormGenerator:
    """Two pages; the result says which form it was and what the database had while it ran."""
    contact = yield ContactPage
    phone = yield PhonePage
    products = db.session.scalar(select(func.count()).select_from(ProductTable))
    return {"form": state["form_key"], "products": products, **contact.model_dump(), **phone.model_dump()}


async def async_contact_form(state: State) -> AsyncGenerator[Any, Any]:
    """orchestrator-core's kind: an async generator whose last value yielded is the result."""
    contact = yield ContactPage
    yield {"form": state["form_key"], "shouting": contact.name.upper()}


def broken_form(state: State) -> FormGenerator:
    yield ContactPage
    raise ConnectionError("the address book is down")


FORMS_HERE = {
    "test_contact": contact_form,
    "test_async_contact": async_contact_form,
    "test_broken": broken_form,
}


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    for key, form in FORMS_HERE.items():
        register_form(key, form)
    try:
        with TestClient(OrchestratorCore(database=database)) as c:
            yield c
    finally:
        for key in FORMS_HERE:
            FORMS.pop(key, None)


def test_page_by_page_to_the_result(client: TestClient, database: Database) -> None:
    load_product(database, "FormsCounted")
    first = client.post("/api/forms/test_contact", json=[])
    assert first.status_code == 510
    assert set(first.json()["form"]["properties"]) == {"name"}
    assert first.json()["meta"]["hasNext"] is True

    second = client.post("/api/forms/test_contact", json=[{"name": "Ada"}])
    assert second.status_code == 510
    assert set(second.json()["form"]["properties"]) == {"phone"}

    done = client.post("/api/forms/test_contact", json=[{"name": "Ada"}, {"phone": "+31 20 123"}])
    assert done.status_code == 200, done.text
    assert done.json() == {"form": "test_contact", "products": 1, "name": "Ada", "phone": "+31 20 123"}


def test_a_page_that_does_not_validate_is_400(client: TestClient) -> None:
    response = client.post("/api/forms/test_contact", json=[{"name": "Ada"}, {"phone": "call me"}])
    assert response.status_code == 400
    assert [e["loc"] for e in response.json()["validation_errors"]] == [["phone"]]


def test_more_pages_than_the_form_has_is_400(client: TestClient) -> None:
    pages = [{"name": "Ada"}, {"phone": "123"}, {"extra": True}]
    assert client.post("/api/forms/test_contact", json=pages).status_code == 400


def test_an_async_generator_form(client: TestClient) -> None:
    assert client.post("/api/forms/test_async_contact", json=[]).status_code == 510
    done = client.post("/api/forms/test_async_contact", json=[{"name": "Ada"}])
    assert done.status_code == 200, done.text
    assert done.json() == {"form": "test_async_contact", "shouting": "ADA"}


def test_unknown_form_is_404(client: TestClient) -> None:
    response = client.post("/api/forms/no_such_form", json=[])
    assert response.status_code == 404
    assert "no_such_form" in response.json()["detail"]


def test_a_form_that_fails_says_why(client: TestClient) -> None:
    response = client.post("/api/forms/test_broken", json=[{"name": "Ada"}])
    assert response.status_code == 500
    assert response.json()["type"] == "FormGeneratorError"
    assert "the address book is down" in response.json()["detail"]


def test_the_body_must_be_a_list_of_pages(client: TestClient) -> None:
    assert client.post("/api/forms/test_contact", json={"name": "Ada"}).status_code == 400
