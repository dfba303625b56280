"""Authorization callbacks on every path, and API authentication with bearer tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from orchestrion.app import OrchestratorCore
from orchestrion.auth import AuthContext, NotAuthorizedError
from orchestrion.db import Database
from orchestrion.db.models import ProcessTable
from orchestrion.forms import SubmitFormPage
from orchestrion.services import processes
from orchestrion.settings import AppSettings
from orchestrion.targets import Target
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import State
from orchestrion.workflow import StepList, done, init, inputstep, step, workflow

FAIL = {"now": True}


def only_alice(context: AuthContext) -> bool:
    return context.user == "alice"


async def only_carol(context: AuthContext) -> bool:
    return context.user == "carol"


def only_dave(context: AuthContext) -> bool:
    return context.user == "dave"


@inputstep("Confirm", resume_auth_callback=only_dave)
def confirm() -> type[SubmitFormPage]:
    class ConfirmPage(SubmitFormPage):
        ok: bool

    return ConfirmPage


@step("Maybe fail")
def maybe_fail() -> State:
    if FAIL["now"]:
        raise RuntimeError("not yet")
    return {"done": True}


@workflow("Guarded", target=Target.SYSTEM, authorize_callback=only_alice, retry_auth_callback=only_carol)
def guarded() -> StepList:
    return init >> confirm >> maybe_fail >> done


@pytest.fixture
def registered() -> Iterator[None]:
    FAIL["now"] = True
    with WorkflowInstanceForTests(guarded, "guarded"):
        yield


def _count(database: Database) -> int:
    with database.read() as session:
        return session.execute(select(func.count()).select_from(ProcessTable)).scalar_one()


def test_callbacks_guard_start_resume_retry_and_abort(database: Database, registered: None) -> None:
    with pytest.raises(NotAuthorizedError):
        processes.start_process("guarded", [{}], user="bob")
    assert _count(database) == 0
    process_id = processes.start_process("guarded", [{}], user="alice")
    with pytest.raises(NotAuthorizedError):
        processes.resume_process(process_id, [{"ok": True}], user="alice")  # the input step wants dave
    processes.resume_process(process_id, [{"ok": True}], user="dave")
    assert processes.wait_for_process(process_id, 5) == "failed"
    with pytest.raises(NotAuthorizedError):
        processes.resume_process(process_id, [{}], user="alice")  # retry wants carol (an async callback)
    assert processes.wait_for_process(process_id, 5) == "failed"
    with pytest.raises(NotAuthorizedError):
        processes.abort_process(process_id, user="bob")
    FAIL["now"] = False
    processes.resume_process(process_id, [{}], user="carol")
    assert processes.wait_for_process(process_id, 5) == "completed"


@pytest.fixture
def secured_client(database: Database, registered: None) -> Iterator[TestClient]:
    settings = AppSettings(DATABASE_URI=database.uri, API_TOKENS="alice:a-token,bob:b-token")
    with TestClient(OrchestratorCore(settings, database=database)) as client:
        yield client


def test_api_needs_a_token_and_applies_the_callbacks(secured_client: TestClient, database: Database) -> None:
    assert secured_client.get("/api/processes/").status_code == 401
    assert secured_client.get("/api/processes/", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert secured_client.get("/api/health/").status_code == 200
    bob = {"Authorization": "Bearer b-token"}
    refused = secured_client.post("/api/processes/guarded", json=[{}], headers=bob)
    assert refused.status_code == 403
    assert refused.json()["type"] == "NotAuthorizedError"
    assert _count(database) == 0
    alice = {"Authorization": "Bearer a-token"}
    created = secured_client.post("/api/processes/guarded", json=[{}], headers=alice)
    assert created.status_code == 201
    detail = secured_client.get(f"/api/processes/{created.json()['id']}", headers=bob).json()
    assert detail["created_by"] == "alice"
    assert secured_client.put(f"/api/processes/{created.json()['id']}/abort", headers=bob).status_code == 403
    assert secured_client.put(f"/api/processes/{created.json()['id']}/abort", headers=alice).status_code == 204
