"""The operator audit log over real HTTP on both databases: an entry for each audited action, refusals, paging
and filters, no way to change it, and its retention."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, text
from starlette.requests import HTTPConnection
from tests.subscription_support import add_subscription, load_product

from orchestrion.api.security import Principal, bearer_token
from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.db.domain_models import ProcessSubscriptionTable, ProductTable, SubscriptionTable
from orchestrion.db.models import AuditLogTable, ProcessTable
from orchestrion.db.schedule_models import ScheduleTable
from orchestrion.errors import NotAuthenticatedError, NotAuthorizedError
from orchestrion.services import audit
from orchestrion.services.processes import start_process
from orchestrion.settings import app_settings
from orchestrion.storage import audit as audit_rows
from orchestrion.targets import Target
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import State
from orchestrion.workflow import Workflow, done, init, step

TASK = "audit_test_task"
TOKENS = {"ada-token": "ada", "reader-token": "reader"}


@step("Say hello")
def say_hello() -> State:
    return {"hello": "world"}


def authenticate(request: HTTPConnection) -> Principal:
    """Ada may do anything; the reader only reads (an authenticator refusing a change: 403)."""
    user = TOKENS.get(bearer_token(request) or "")
    if user is None:
        raise NotAuthenticatedError("A valid bearer token is required")
    if user == "reader" and request.scope.get("method") not in ("GET", "HEAD"):
        raise NotAuthorizedError("Readers may not change anything")
    return Principal(user)


@contextmanager
def _client(database: Database) -> Iterator[TestClient]:
    with database.write() as s:
        s.execute(delete(ScheduleTable))
    task = Workflow(TASK, "Says hello", init >> say_hello >> done, target=Target.SYSTEM)
    with WorkflowInstanceForTests(task, TASK):
        app = OrchestratorCore(database=database, authenticate=authenticate)
        yield TestClient(app, headers={"Authorization": "Bearer ada-token"})


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    with _client(database) as made:
        yield made


def entries(client: TestClient, **params: str) -> list[dict[str, Any]]:
    answer = client.get("/api/audit-log/", params={"range": "0,100", **params})
    assert answer.status_code == 200, answer.text
    return list(reversed(answer.json()))  # oldest first


def test_each_audited_action_leaves_an_entry(client: TestClient, database: Database) -> None:
    product = load_product(database, "AuditThing")
    locked = add_subscription(database, product, insync=False)
    doomed = add_subscription(database, product)
    process_id = start_process(TASK)

    assert client.put(f"/api/subscriptions/{locked}/set_in_sync").status_code == 200
    assert client.delete(f"/api/subscriptions/{doomed}").status_code == 204
    created = client.post(
        "/api/schedules/", json={"name": "hello", "workflow_name": TASK, "trigger": "interval", "interval_seconds": 60}
    )
    assert created.status_code == 201, created.text
    schedule_id = created.json()["schedule_id"]
    assert client.patch(f"/api/schedules/{schedule_id}", json={"interval_seconds": 120}).status_code == 200
    assert client.delete(f"/api/schedules/{schedule_id}").status_code == 204
    assert client.put("/api/settings/status", json={"global_lock": True}).status_code == 200
    assert client.put("/api/settings/status", json={"global_lock": False}).status_code == 200
    assert client.patch(f"/api/products/{product}", json={"description": "Renamed"}).status_code == 201
    assert client.delete(f"/api/processes/{process_id}").status_code == 204

    found = entries(client)
    assert [(e["action"], e["target_kind"], e["target_id"], e["outcome"]) for e in found] == [
        ("subscription.set_in_sync", "subscription", str(locked), "done"),
        ("subscription.delete", "subscription", str(doomed), "done"),
        ("schedule.create", "schedule", schedule_id, "done"),
        ("schedule.change", "schedule", schedule_id, "done"),
        ("schedule.delete", "schedule", schedule_id, "done"),
        ("engine.pause", "engine", None, "done"),
        ("engine.unpause", "engine", None, "done"),
        ("catalogue.change", "product", str(product), "done"),
        ("process.delete", "process", str(process_id), "done"),
    ]
    assert {(e["user"], e["client"]) for e in found} == {("ada", "testclient")}
    details = {e["action"]: e["details"] for e in found}
    assert details["subscription.set_in_sync"] == {"was_in_sync": False}
    assert details["subscription.delete"]["description"] == "A subscription"
    assert details["schedule.create"]["interval_seconds"] == 60
    assert details["schedule.change"] == {"changed": {"interval_seconds": [60, 120]}}
    assert details["catalogue.change"] == {"description": "Renamed"}
    assert details["process.delete"] == {"workflow": TASK, "status": "completed", "history_rows": 3}
    assert all(e["at"] and e["row_hash"] for e in found)
    assert [e["prev_hash"] for e in found[1:]] == [e["row_hash"] for e in found[:-1]]


def test_a_refused_call_leaves_a_refused_entry_and_no_change(client: TestClient, database: Database) -> None:
    product = load_product(database, "AuditThing")
    locked = add_subscription(database, product, insync=False)
    anonymous = {"Authorization": ""}

    assert client.put(f"/api/subscriptions/{locked}/set_in_sync", headers=anonymous).status_code == 401
    reader = {"Authorization": "Bearer reader-token"}
    assert client.put("/api/settings/status", json={"global_lock": True}, headers=reader).status_code == 403
    assert client.put("/api/settings/status", json={"global_lock": False}, headers=reader).status_code == 403
    assert client.put("/api/settings/status", content=b"{not json", headers=reader).status_code == 403
    assert client.delete(f"/api/products/{product}").status_code == 405  # not an audited route: nothing recorded
    missing = uuid.uuid4()
    assert client.delete(f"/api/subscriptions/{missing}").status_code == 404
    assert client.delete("/api/schedules/no-such-schedule").status_code == 404

    found = entries(client)
    assert [(e["action"], e["user"], e["target_id"], e["outcome"]) for e in found] == [
        ("subscription.set_in_sync", None, str(locked), "refused"),
        ("engine.pause", None, None, "refused"),  # named from the body the refused call sent
        ("engine.unpause", None, None, "refused"),
        ("engine.switch", None, None, "refused"),  # a body that says neither
        ("subscription.delete", "ada", str(missing), "refused"),
        ("schedule.delete", "ada", "no-such-schedule", "refused"),
    ]
    assert [e["reason"] for e in found[:2]] == ["A valid bearer token is required", "Readers may not change anything"]
    assert "not found" in found[4]["reason"].lower()
    with database.read() as s:
        assert s.get(SubscriptionTable, locked).insync is False  # type: ignore[union-attr]
    assert client.get("/api/settings/status").json()["global_lock"] is False


def test_a_refusal_by_the_operation_itself_names_the_caller(client: TestClient, database: Database) -> None:
    product = load_product(database, "AuditThing")
    used = add_subscription(database, product)
    process_id = start_process(TASK)
    with database.write() as s:
        s.execute(ProcessTable.__table__.update().values(last_status="running", claimed_by="someone"))
    with database.write() as s:
        s.add(ProcessSubscriptionTable(process_id=process_id, subscription_id=used))

    assert client.delete(f"/api/subscriptions/{used}").status_code == 409
    assert client.delete(f"/api/processes/{process_id}").status_code == 409

    found = entries(client, filter="outcome,refused")
    assert [(e["action"], e["user"]) for e in found] == [("subscription.delete", "ada"), ("process.delete", "ada")]
    assert "referenced by processes" in found[0]["reason"]
    assert "running" in found[1]["reason"]
    with database.read() as s:
        assert s.get(SubscriptionTable, used) is not None
        assert s.get(ProcessTable, process_id) is not None


def _append(database: Database, at: datetime, **fields: Any) -> None:
    entry = audit_rows.Entry(
        fields.get("user", "ada"), "10.0.0.1", fields.get("action", "engine.pause"), "engine", None, None
    )
    with database.write() as s:
        audit_rows.append(s, entry, at)


def test_pages_and_filters(client: TestClient, database: Database) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for day in range(30):
        _append(database, start + timedelta(days=day), user="ada" if day % 2 else "bob")
    _append(database, start + timedelta(days=40), action="engine.unpause")

    page = client.get("/api/audit-log/", params={"range": "0,10"})
    assert page.status_code == 200
    assert page.headers["Content-Range"] == "audit-log 0-10/31"
    assert [e["id"] for e in page.json()] == list(range(31, 21, -1))  # newest first
    second = client.get("/api/audit-log/", params={"range": "10,20", "sort": "at,ASC"}).json()
    assert [e["id"] for e in second] == list(range(11, 21))

    assert len(entries(client, filter="user,bob")) == 15
    assert [e["action"] for e in entries(client, filter="action,engine.unpause")] == ["engine.unpause"]
    window = entries(client, filter=f"since,{(start + timedelta(days=5)).isoformat()},until,2026-01-08T00:00:00Z")
    assert [e["at"][:10] for e in window] == ["2026-01-06", "2026-01-07"]
    assert len(entries(client, filter="user,ada|bob,action,engine.pause")) == 30
    assert client.get("/api/audit-log/", params={"filter": "colour,red"}).status_code == 400
    assert client.get("/api/audit-log/", params={"filter": "since,yesterday"}).status_code == 400


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
def test_no_route_changes_or_deletes_an_entry(client: TestClient, database: Database, method: str) -> None:
    _append(database, datetime.now(UTC))
    assert client.request(method, "/api/audit-log/").status_code == 405
    assert client.request(method, "/api/audit-log/1").status_code == 404  # there is no entry route at all
    assert len(entries(client)) == 1


def test_retention_removes_old_entries_and_keeps_the_chain_checkable(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_scheduler_tasks import run_task

    monkeypatch.setattr(app_settings, "AUDIT_LOG_RETENTION_DAYS", 30)
    now = datetime.now(UTC)
    for days in (90, 60, 31, 10, 1):
        _append(database, now - timedelta(days=days))

    _, state = run_task("task_clean_up_tasks")

    assert state["audit_entries_removed"] == 3
    with database.read() as s:
        left = s.execute(select(AuditLogTable).order_by(AuditLogTable.id)).scalars().all()
    assert [(e.id, e.action) for e in left] == [(4, "engine.pause"), (5, "engine.pause"), (6, "audit.retention")]
    assert left[-1].details["removed"] == 3 and left[-1].details["through_id"] == 3
    history, log = audit.verify()
    assert log.broken is None and log.rows == 3
    assert history.broken is None


def test_nothing_to_remove_leaves_the_log_as_it_is(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_settings, "AUDIT_LOG_RETENTION_DAYS", 30)
    _append(database, datetime.now(UTC) - timedelta(days=2))
    assert audit.has_expired_entries(datetime.now(UTC)) is False
    with database.write() as s:
        assert audit.sweep(s, datetime.now(UTC)) == 0
    with database.read() as s:
        assert s.execute(select(func.count()).select_from(AuditLogTable)).scalar_one() == 1


def test_catalogue_patches_of_blocks_and_resource_types_are_recorded(client: TestClient, database: Database) -> None:
    from orchestrion.catalogue import ensure_catalogue

    ensure_catalogue(
        {
            "product_blocks": {"Paint": {"description": "Paint", "tag": "PAINT", "resources": {"colour": "A colour"}}},
            "products": {
                "Painted": {"product_type": "Painted", "description": "P", "tag": "P", "product_blocks": ["Paint"]}
            },
        },
        database,
    )
    with database.read() as s:
        product = s.execute(select(ProductTable).where(ProductTable.name == "Painted")).scalar_one()
        block_id = product.product_blocks[0].product_block_id
        resource_id = product.product_blocks[0].resource_types[0].resource_type_id
    assert client.patch(f"/api/product_blocks/{block_id}", json={"description": "Wet paint"}).status_code == 201
    assert client.patch(f"/api/resource_types/{resource_id}", json={"description": "Hue"}).status_code == 201
    assert [(e["target_kind"], e["target_id"], e["details"]) for e in entries(client)] == [
        ("product_block", str(block_id), {"description": "Wet paint"}),
        ("resource_type", str(resource_id), {"description": "Hue"}),
    ]


def test_graphqls_engine_switch_names_its_caller(client: TestClient) -> None:
    client.app.register_graphql()  # type: ignore[attr-defined]
    for lock in ("true", "false"):
        answer = client.post(
            "/api/graphql", json={"query": f"mutation {{ updateStatus(globalLock: {lock}) {{ __typename }} }}"}
        )
        assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
    assert [(e["action"], e["user"], e["client"]) for e in entries(client)] == [
        ("engine.pause", "ada", "testclient"),
        ("engine.unpause", "ada", "testclient"),
    ]


def _set_in_sync(client: TestClient, database: Database) -> tuple[Callable[[], object], Callable[[], bool]]:
    locked = add_subscription(database, load_product(database, "AuditThing"), insync=False)

    def changed() -> bool:
        with database.read() as s:
            return bool(s.get(SubscriptionTable, locked).insync)  # type: ignore[union-attr]

    return lambda: client.put(f"/api/subscriptions/{locked}/set_in_sync"), changed


def _delete_process(client: TestClient, database: Database) -> tuple[Callable[[], object], Callable[[], bool]]:
    process_id = start_process(TASK)

    def changed() -> bool:
        with database.read() as s:
            return s.get(ProcessTable, process_id) is None

    return lambda: client.delete(f"/api/processes/{process_id}"), changed


def _pause(client: TestClient, database: Database) -> tuple[Callable[[], object], Callable[[], bool]]:
    return lambda: client.put("/api/settings/status", json={"global_lock": True}), lambda: bool(
        client.get("/api/settings/status").json()["global_lock"]
    )


@pytest.mark.postgres
@pytest.mark.parametrize(
    "operation", [_set_in_sync, _delete_process, _pause], ids=["own transaction", "store", "switch"]
)
def test_an_entry_commits_with_its_change_not_after_it(postgres_db: Database, operation: Any) -> None:
    """While the entry cannot be appended (another transaction holds the log's lock), the change is not
    visible either: both commit together, so no crash between them can lose the entry."""
    with _client(postgres_db) as client:
        call, changed = operation(client, postgres_db)
        holder = postgres_db.engine.connect()
        holder.exec_driver_sql(f"SELECT pg_advisory_xact_lock({audit_rows._LOCK_KEY})")
        caller = threading.Thread(target=call)
        caller.start()
        try:
            _wait_until(lambda: _waiting_for_the_log(postgres_db))
            assert not changed()
            assert entries(client) == []
        finally:
            holder.rollback()
            holder.close()
            caller.join(timeout=30)
        assert changed()
        assert len(entries(client)) == 1


def _waiting_for_the_log(database: Database) -> bool:
    with database.read() as s:
        waiting = s.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))
        return bool(waiting.scalar_one())


def _wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.01)


def test_a_refusal_whose_details_no_json_column_stores_is_still_recorded(client: TestClient) -> None:
    huge = 2**70  # valid JSON, but beyond what a JSON column or the chain's hash takes
    body = {"name": "huge", "workflow_name": TASK, "trigger": "interval", "interval_seconds": huge}
    answer = client.post("/api/schedules/", json=body)
    assert 400 <= answer.status_code < 500, answer.text
    [entry] = entries(client)
    assert (entry["action"], entry["outcome"]) == ("schedule.create", "refused")
    assert str(huge) in entry["details"]["unstorable"]
