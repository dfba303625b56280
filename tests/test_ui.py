"""The web UI end to end: a real ``orchestrion run`` server driven through headless Chromium (Playwright).

The server runs in a subprocess on a temporary SQLite database that already holds 10,000 finished
processes, with bearer-token authentication on, the example catalogue and workflows, and the test
workflows of ``tests/ui_workflows.py``. Screenshots of the main pages go to ``test-artifacts/``.
Without Chromium or Playwright it is skipped with the reason, or fails under ``ORCHESTRION_BROWSER_REQUIRED``
(``tests/browser.py``).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert
from tests.browser import CHROMIUM, playwright_sync_api, start, wait_for

from orchestrion.db import Database
from orchestrion.db.migrate import upgrade
from orchestrion.db.models import ProcessTable, WorkflowTable

sync_api = playwright_sync_api()
expect = sync_api.expect

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
TOKEN = "ui-test-token"
USER = "alice"
HISTORY = 10_000
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NODE_PRODUCT = "0b6e8e2a-1c2d-4e8f-8a1b-2c3d4e5f6a01"
PORT_PRODUCT = "0b6e8e2a-1c2d-4e8f-8a1b-2c3d4e5f6a02"
CIRCUIT_PRODUCT = "0b6e8e2a-1c2d-4e8f-8a1b-2c3d4e5f6a04"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed_history(uri: str) -> None:
    """10,000 finished processes of an old workflow, spread over the last 30 days."""
    database = Database(uri)
    upgrade(database)
    workflow_id = uuid.uuid4()
    now = datetime.now(UTC) - timedelta(hours=1)
    statuses = ["completed"] * 17 + ["aborted", "failed", "completed"]
    rows = []
    for i in range(HISTORY):
        started = now - timedelta(minutes=4.3 * i)
        status = statuses[i % len(statuses)]
        rows.append(
            {
                "process_id": uuid.uuid4(),
                "workflow_id": workflow_id,
                "workflow_fingerprint": "seed",
                "assignee": "SYSTEM",
                "last_status": status,
                "last_step": "Done" if status == "completed" else "Import",
                "started_at": started,
                "last_modified_at": started + timedelta(seconds=3),
                "failed_reason": "Imported as failed" if status == "failed" else None,
                "created_by": "importer",
                "is_task": False,
                "state": {"row": i},
                "seq": 1,
            }
        )
    with database.engine.begin() as connection:
        connection.execute(
            insert(WorkflowTable).values(
                workflow_id=workflow_id, name="legacy_import", target="CREATE", description="Imported history"
            )
        )
        connection.execute(insert(ProcessTable), rows)
    database.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("ui-server")
    uri = f"sqlite:///{home / 'ui.db'}"
    _seed_history(uri)
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URI": uri,
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
        "API_TOKENS": f"{USER}:{TOKEN}",
        "SCHEDULER_ENABLED": "true",
    }
    command = [sys.executable, "-m", "orchestrion.cli", "run", "--port", str(port)]
    command += ["--import", "examples", "--import", "tests.ui_workflows"]
    command += ["--catalogue", str(ROOT / "examples/catalogue.yaml")]
    log = (home / "server.log").open("w")
    process = subprocess.Popen(command, env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}api/health/").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (home / "server.log").read_text()
            assert time.monotonic() < deadline, "the server did not become healthy"
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def api(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server}api", headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A signed-in tab (the token preloaded into sessionStorage); fails the test on any JavaScript error."""
    context = browser.new_context(viewport={"width": 1366, "height": 860}, base_url=server)
    context.add_init_script(f"sessionStorage.setItem('orchestrion.token', '{TOKEN}')")
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not errors, errors


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"ui-{name}.png"), full_page=True)


def status_badge(page: Any) -> Any:
    return page.locator("h1 .badge")


def test_create_workflow_through_its_form_pages(page: Any, api: httpx.Client) -> None:
    """Pick create_node, choose the product, get a validation error, fix it, and watch the process complete."""
    page.goto("/#/start")
    page.get_by_role("link", name=re.compile("Create node")).click()
    product = page.get_by_label("Product")
    expect(product).to_be_visible()
    expect(page.locator(".page-count")).to_contain_text("Page 1 (more follow)")
    product.select_option(label="Node")  # products are offered by name, as orchestrator-core offers them
    page.get_by_role("button", name="Next").click()

    page.get_by_label("Node Name").fill("rt-ui")
    expect(page.get_by_label("Customer Id")).to_have_value("demo-customer")
    page.get_by_role("button", name="Start").click()
    error = page.locator("[data-field=location] .field-error")
    expect(error).to_have_text("field required")
    expect(page.get_by_label("Location")).to_have_attribute("aria-invalid", "true")
    shot(page, "start-form-error")

    page.get_by_role("button", name="Back").click()
    expect(page.get_by_label("Product")).to_have_value(NODE_PRODUCT)
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Node Name").fill("rt-ui")
    page.get_by_label("Location").fill("Amsterdam")
    page.get_by_role("button", name="Start").click()

    expect(page).to_have_url(re.compile(r"#/processes/[0-9a-f-]{36}$"))
    expect(status_badge(page)).to_have_text("completed")
    expect(page.locator(".step[data-status=pending]")).to_have_count(0)
    expect(page.locator(".step .step-name").first).to_have_text("Start")
    expect(page.locator(".facts")).to_contain_text(USER)
    page.locator(".step", has_text="Allocate loopback address").locator("summary").click()
    expect(page.locator(".step", has_text="Allocate loopback address")).to_contain_text("loopback")
    page.get_by_text("Show the full state").click()
    state = page.locator("section", has=page.locator("#state-h"))
    expect(state.locator("dt", has_text="node_name").first).to_be_visible()
    shot(page, "process-completed")

    page.locator(".facts a.sub").click()
    expect(page.locator("h1")).to_contain_text("Node rt-ui (Amsterdam)")


def test_failed_step_shows_why_and_retries_to_completion(page: Any, api: httpx.Client) -> None:
    process_id = start(api, "ui_flaky", [{"ticket": "T-42"}])
    wait_for(api, process_id, "failed")
    page.goto(f"/#/processes/{process_id}")
    expect(status_badge(page)).to_have_text("failed")
    expect(page.locator(".failure-reason")).to_have_text("Inventory timed out for ticket T-42")
    page.get_by_text("Traceback", exact=True).click()
    expect(page.locator(".traceback")).to_contain_text("ProcessFailureError")
    expect(page.locator(".step[data-status=failed]")).to_contain_text("Call the flaky inventory")
    shot(page, "process-failed")

    page.get_by_role("button", name="Retry").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Retry the failed step?")
    dialog.get_by_role("button", name="Retry").click()
    expect(status_badge(page)).to_have_text("completed")
    expect(page.locator(".failure")).to_have_count(0)
    expect(page.locator(".step[data-status=success]", has_text="Call the flaky inventory")).to_have_count(1)
    failed, retried = page.locator(".step", has_text="Call the flaky inventory").all()
    expect(failed.locator(".step-actor")).to_contain_text("started by")
    expect(retried.locator(".step-actor")).to_contain_text("retried by")  # who retried it, per step


def test_resume_a_suspended_process_through_its_form(page: Any, api: httpx.Client) -> None:
    process_id = start(api, "ui_approval", [{"ticket": "T-7"}])
    wait_for(api, process_id, "suspended")
    page.goto(f"/#/processes/{process_id}")
    resume = page.locator("section.resume")
    expect(resume).to_contain_text("Waiting for input: Approve the change")
    expect(resume).to_contain_text("Check the prepared change before approving it.")
    resume.get_by_label("Priority").select_option(label="High, page on-call")
    resume.get_by_label("Comment").fill("Change window agreed with the customer.\nPage the on-call engineer.")
    resume.get_by_label("Window Hours").fill("30")
    resume.get_by_label("Approved").check()
    shot(page, "process-resume-form")
    resume.get_by_role("button", name="Resume").click()
    expect(resume.locator("[data-field=window_hours] .field-error")).to_contain_text("less than or equal to 24")

    resume.get_by_label("Window Hours").fill("6")
    resume.get_by_role("button", name="Resume").click()
    expect(status_badge(page)).to_have_text("completed")
    detail = api.get(f"/processes/{process_id}").json()
    assert detail["current_state"]["carried_out"] is True
    assert detail["current_state"]["window"] == 6
    assert detail["current_state"]["priority"] == "high"
    carried = page.locator(".step", has_text="Carry out the change")
    carried.locator("summary").click()
    expect(carried).to_contain_text("carried_out")


def test_abort_a_process(page: Any, api: httpx.Client) -> None:
    process_id = start(api, "ui_approval", [{"ticket": "T-8"}])
    wait_for(api, process_id, "suspended")
    page.goto(f"/#/processes/{process_id}")
    page.get_by_role("button", name="Abort").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(status_badge(page)).to_have_text("suspended")

    page.get_by_role("button", name="Abort").click()
    page.get_by_role("dialog").get_by_role("button", name="Abort process").click()
    expect(status_badge(page)).to_have_text("aborted")
    expect(page.get_by_role("button", name="Abort")).to_have_count(0)
    expect(page.locator(".step[data-status=abort] .step-actor")).to_contain_text("aborted by")
    assert api.get(f"/processes/{process_id}").json()["last_status"] == "aborted"


def test_subscription_links_to_the_subscriptions_it_uses(page: Any, api: httpx.Client) -> None:
    node_pages = [{"product": NODE_PRODUCT}, {"node_name": "rt-l", "location": "Ut"}]
    node_id = wait_for(api, start(api, "create_node", node_pages), "completed")["current_state"]["subscription_id"]
    ports = []
    for name in ("et-0", "et-1"):
        pages = [{"product": PORT_PRODUCT}, {"node": node_id, "port_name": name}]
        ports.append(wait_for(api, start(api, "create_port", pages), "completed")["current_state"]["subscription_id"])
    circuit_pages = [{"product": CIRCUIT_PRODUCT}, {"port_a": ports[0], "port_b": ports[1]}, {"bandwidth": 10}]
    circuit = wait_for(api, start(api, "create_circuit", circuit_pages), "completed")
    circuit_id = circuit["current_state"]["subscription_id"]

    page.goto("/#/subscriptions")
    page.get_by_label("Search").fill("et-0 <-> et-1")
    # Click once the search has redrawn the list: a link of the list before it goes nowhere.
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Circuit et-0 <-> et-1 (10 Gbit/s)").click()
    expect(page).to_have_url(re.compile(f"#/subscriptions/{circuit_id}$"))
    expect(page.locator("h1")).to_contain_text("active")
    expect(page.locator("#insync")).to_have_text("in sync")
    uses = page.locator("section", has=page.locator("#uses-h"))
    expect(uses.get_by_role("link")).to_have_count(2)
    expect(page.locator(".owner-link", has_text="Port et-0")).to_have_count(1)
    expect(page.locator(".owner-link", has_text="Port et-1")).to_have_count(1)
    workflows = page.locator("section", has=page.locator("#wfs-h"))
    expect(workflows.locator("[data-workflow=terminate_circuit] a")).to_be_visible()
    processes = page.locator("section", has=page.locator("#procs-h"))
    expect(processes.locator("tbody tr")).to_have_count(1)
    shot(page, "subscription")

    page.locator(".owner-link", has_text="Port et-0").click()
    expect(page).to_have_url(re.compile(f"#/subscriptions/{ports[0]}$"))
    used_by = page.locator("section", has=page.locator("#usedby-h"))
    expect(used_by.get_by_role("link")).to_have_text("Circuit et-0 <-> et-1 (10 Gbit/s)")
    blocked = page.locator("[data-workflow=terminate_port]")
    expect(blocked).to_contain_text("Other subscriptions use this one")
    expect(blocked.get_by_role("link")).to_have_count(0)
    page.locator("section", has=page.locator("#uses-h")).get_by_role("link", name="Node rt-l (Ut)").click()
    expect(page).to_have_url(re.compile(f"#/subscriptions/{node_id}$"))

    # A modify workflow starts from the subscription with its first page (the subscription) filled in.
    page.goto(f"/#/subscriptions/{ports[1]}")
    page.locator("[data-workflow=modify_port] a").click()
    expect(page.locator("h1")).to_contain_text("Modify port")
    page.get_by_label("Mode").select_option("untagged")
    page.get_by_role("button", name="Start").click()
    expect(status_badge(page)).to_have_text("completed")


def test_dashboard_lists_and_engine_switch_with_10000_processes(page: Any, api: httpx.Client) -> None:
    failed = start(api, "ui_flaky", [{"ticket": "T-99"}])
    wait_for(api, failed, "failed")

    page.goto("/#/tasks")  # the page's files are cached after the first visit, as in a browser in use
    expect(page.locator("h1")).to_have_text("Tasks and schedules")
    page.goto("/#/processes")  # page speed is measured by bench/api.py, not asserted here
    expect(page.locator(".pager-count")).to_contain_text(re.compile(r"of 10,0\d\d"))
    expect(page.locator("tbody tr")).to_have_count(25)
    page.get_by_role("button", name="Next page").click()
    expect(page.locator(".pager-count")).to_contain_text("26\N{EN DASH}50 of")
    page.get_by_label("Status").select_option("failed")
    expect(page.locator(".pager-count")).to_contain_text(re.compile("1\N{EN DASH}25 of 50\\d"))
    expect(page).to_have_url(re.compile("status=failed"))
    page.get_by_label("Workflow").select_option("ui_flaky")
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_role("button", name="Clear filters").click()
    page.get_by_role("button", name="Workflow", exact=True).click()
    expect(page.locator("th[aria-sort=ascending]")).to_have_text(re.compile("Workflow"))
    names = [row.get_attribute("data-workflow") for row in page.locator("tbody tr").all()]
    assert names == sorted(names) and len(names) == 25
    shot(page, "processes")

    # Live: a process started elsewhere shows up without reloading (pushed over the event stream).
    expect(page.locator("html[data-live=on]")).to_have_count(1)
    expect(page.locator(".live")).to_contain_text("Live updates on")
    page.get_by_role("button", name="Clear filters").click()
    page.get_by_label("Search").fill("ui_approval")
    live = start(api, "ui_approval", [{"ticket": "T-live"}])
    expect(page.locator(f"tr[data-process='{live}']")).to_be_visible()

    page.goto("/#/")
    expect(page.locator(".status-counts")).to_contain_text("completed")
    attention = page.locator("section", has=page.locator("#attention-h"))
    expect(attention.locator(f"tr[data-process='{failed}']")).to_contain_text("Inventory timed out for ticket T-99")
    shot(page, "dashboard")

    page.locator("#engine-toggle").click()
    page.get_by_role("dialog").get_by_role("button", name="Pause engine").click()
    expect(page.locator("#engine-status")).to_have_text("Engine paused")
    assert api.get("/settings/status").json()["global_lock"] is True
    page.goto("/#/start/ui_flaky")
    page.get_by_role("button", name="Begin").click()
    expect(page.get_by_role("alert").filter(has_text="The engine is paused")).to_be_visible()
    page.locator("#engine-toggle").click()
    page.get_by_role("dialog").get_by_role("button", name="Continue").click()
    expect(page.locator("#engine-status")).to_have_text("Engine running")

    page.goto("/#/audit")  # the switch was recorded, as the signed-in user, newest first
    entries = page.locator("table.audit-log tbody tr")
    expect(entries.first).to_contain_text("engine.unpause")
    expect(entries.first).to_contain_text(USER)
    page.locator("#a-action").select_option("engine.pause")
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text("done")
    shot(page, "audit-log")

    page.goto("/#/tasks")
    expect(page.locator("tr[data-task=task_resume_workflows]")).to_contain_text("every 30 s")
    shot(page, "tasks")
    page.goto("/#/products")
    expect(page.locator("tr[data-product='Port 10G']")).to_contain_text("speed")
    shot(page, "products")

    page.keyboard.press("g")
    page.keyboard.press("p")
    expect(page).to_have_url(re.compile("#/processes$"))
    expect(page.locator(".pager-count")).to_be_visible()  # the list has rendered: its search box stays
    page.keyboard.press("/")
    expect(page.get_by_label("Search")).to_be_focused()


def test_asks_for_a_token_when_the_api_wants_one(browser: Any, server: str) -> None:
    context = browser.new_context(base_url=server)
    tab = context.new_page()
    tab.goto("/#/products")
    dialog = tab.get_by_role("dialog")
    expect(dialog).to_contain_text("Sign in")
    dialog.get_by_label("Token").fill("wrong")
    dialog.get_by_role("button", name="Sign in").click()
    expect(tab.get_by_role("dialog")).to_contain_text("The token was not accepted")
    tab.get_by_role("dialog").get_by_label("Token").fill(TOKEN)
    tab.get_by_role("dialog").get_by_role("button", name="Sign in").click()
    expect(tab.locator("h1")).to_have_text("Products")
    assert tab.evaluate("sessionStorage.getItem('orchestrion.token')") == TOKEN
    tab.get_by_role("button", name="Sign out").click()
    expect(tab.get_by_role("dialog")).to_contain_text("Sign in")
    context.close()


def test_the_ui_is_served_beside_the_api(server: str) -> None:
    index = httpx.get(server)
    assert index.status_code == 200 and "ui/js/app.js" in index.text
    script = httpx.get(f"{server}ui/js/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert script.headers["cache-control"] == "no-cache"
    assert "http://" not in index.text and "https://" not in index.text  # nothing from the internet
    missing = httpx.get(f"{server}api/no-such-thing")
    assert missing.status_code == 404 and missing.json()["status"] == 404
