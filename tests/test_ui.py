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
from orchestrion.db.domain_models import ProductTable, SubscriptionTable
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
# A subscription imported from elsewhere: its product has no domain model, so its model cannot be loaded.
LEGACY_SUBSCRIPTION = uuid.UUID("5e1e9a00-0000-4000-8000-00000000000a")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed_history(uri: str) -> None:
    """10,000 finished processes of an old workflow, spread over the last 30 days, and a legacy subscription."""
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
        product_id = uuid.uuid4()
        connection.execute(
            insert(ProductTable).values(
                product_id=product_id, name="Legacy line", description="Imported", product_type="Legacy", tag="LEGACY"
            )
        )
        connection.execute(
            insert(SubscriptionTable).values(
                subscription_id=LEGACY_SUBSCRIPTION,
                product_id=product_id,
                customer_id="legacy-customer",
                description="Legacy line 7",
                status="active",
                insync=True,
            )
        )
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


def test_an_empty_task_list_speaks_of_tasks_while_workflow_processes_exist(page: Any, api: httpx.Client) -> None:
    for task in api.get("/processes/", params={"filter": "is_task,true", "range": "0,1000"}).json():
        assert api.delete(f"/processes/{task['process_id']}").status_code == 204  # tasks earlier tests ran
    tasks = api.get("/processes/", params={"filter": "is_task,true", "range": "0,1"})
    assert tasks.headers["content-range"].endswith("/0")
    page.goto("/#/processes?kind=tasks")
    expect(page.locator(".empty")).to_contain_text("No task has run yet.")
    expect(page.locator(".empty")).not_to_contain_text("Start a workflow")
    page.locator(".empty").get_by_role("link", name="tasks page").click()
    expect(page.locator("h1")).to_have_text("Tasks and schedules")


def test_run_now_says_plainly_why_a_task_did_not_start(page: Any) -> None:
    page.goto("/#/tasks")
    row = page.locator("tr[data-task=task_clean_up_tasks]")
    expect(row).to_contain_text("Delete completed task processes once they are older than the task log retention")
    expect(page.locator("main")).not_to_contain_text("TASK_LOG_RETENTION_DAYS")  # no setting names as titles
    row.get_by_role("link", name="Run now").click()
    # the API's own words, no HTTP title
    expect(page.get_by_role("alert")).to_have_text("Nothing to do: no old completed task process or audit log entry")


def test_schedules_are_added_edited_and_deleted(page: Any, api: httpx.Client) -> None:
    page.goto("/#/tasks")
    page.get_by_role("button", name="Add a schedule").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("nightly-products")
    dialog.get_by_label("Task").select_option("task_validate_products")
    dialog.get_by_label("Runs", exact=True).select_option("cron")
    dialog.get_by_label("Cron expression").fill("every night")
    dialog.get_by_role("button", name="Add schedule").click()
    expect(dialog.get_by_role("alert")).to_contain_text("every night")  # the API's reason, in the dialog
    shot(page, "schedule-dialog")
    dialog.get_by_label("Cron expression").fill("15 3 * * *")
    dialog.get_by_role("button", name="Add schedule").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    cell = page.locator("td[data-schedule=nightly-products]")
    expect(cell).to_contain_text("cron 15 3 * * * (UTC)")
    assert api.get("/schedules/nightly-products").json()["workflow_name"] == "task_validate_products"

    cell.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("Cron expression")).to_have_value("15 3 * * *")
    dialog.get_by_label("Runs", exact=True).select_option("interval")
    dialog.get_by_label("Interval (seconds)").fill("7200")
    dialog.get_by_label("Enabled").uncheck()
    dialog.get_by_role("button", name="Save").click()
    expect(cell).to_contain_text("every 2 h")
    expect(cell).to_contain_text("disabled")
    changed = api.get("/schedules/nightly-products").json()
    assert (changed["trigger"], changed["interval_seconds"], changed["enabled"]) == ("interval", 7200, False)

    cell.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.locator("td[data-schedule=nightly-products]")).to_have_count(0)
    assert api.get("/schedules/nightly-products").status_code == 404


def test_catalogue_pages_for_blocks_resource_types_and_workflows(page: Any) -> None:
    page.goto("/#/products")
    page.get_by_role("navigation", name="Catalogue").get_by_role("link", name="Product blocks").click()
    expect(page.locator("nav[aria-label=Main] [aria-current=page]")).to_have_text("Products")
    row = page.locator("tr[data-block=Port]")
    expect(row).to_contain_text("port_name")
    row.get_by_role("link", name="Port", exact=True).click()
    facts = page.locator(".facts")
    expect(facts.get_by_role("link", name="Node", exact=True)).to_be_visible()  # the block it holds
    expect(facts.get_by_role("link", name="Circuit", exact=True)).to_be_visible()  # the block holding it
    expect(facts).to_contain_text("Port 10G")  # the products using it
    shot(page, "product-block")
    facts.get_by_role("link", name="port_name").click()
    expect(page.locator("h1")).to_have_text("port_name")
    expect(page.locator(".facts").get_by_role("link", name="Port", exact=True)).to_be_visible()

    page.goto("/#/resource-types")
    expect(page.locator("tr[data-resource-type=loopback]")).to_contain_text("Node")
    page.get_by_role("navigation", name="Catalogue").get_by_role("link", name="Workflows").click()
    page.locator("tr[data-workflow=create_port]").get_by_role("link", name="Create port").click()
    expect(page.locator("h1")).to_contain_text("Create port")
    expect(page.locator(".facts")).to_contain_text("Port 10G")
    page.get_by_role("link", name="Its processes").click()
    expect(page).to_have_url(re.compile("workflow=create_port"))


def test_a_subscription_shows_what_loaded_when_one_request_fails(page: Any) -> None:
    page.goto(f"/#/subscriptions/{LEGACY_SUBSCRIPTION}")
    expect(page.locator("h1")).to_contain_text("Legacy line 7")
    expect(page.locator(".facts")).to_contain_text("legacy-customer")
    model = page.locator("section", has=page.locator("#model-h"))
    expect(model.get_by_role("alert")).to_be_visible()  # the domain model could not be loaded: said in place
    shot(page, "subscription-partly-loaded")
    expect(page.locator("section", has=page.locator("#procs-h"))).to_contain_text("No process has worked on this")


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


def test_parallel_branches_show_on_the_parent_and_link_both_ways(page: Any, api: httpx.Client) -> None:
    process_id = start(api, "ui_parallel", [{"ticket": "T-7"}])
    wait_for(api, process_id, "completed")
    page.goto(f"/#/processes/{process_id}")
    children = page.locator("section", has=page.locator("#children-h"))
    expect(children.locator("#children-h")).to_have_text("Branches and child processes")
    expect(children.locator(".child")).to_have_count(2)
    expect(children.locator(".child", has_text="Provision the A end").locator(".branch-steps")).to_contain_text(
        "Provision the A end · success"
    )
    shot(page, "process-branches")

    children.get_by_role("link", name="Provision the Z end").click()
    expect(page.locator(".facts")).to_contain_text("Both ends \u203a Provision the Z end")
    page.locator("a.parent").click()
    expect(page).to_have_url(re.compile(f"#/processes/{process_id}$"))

    page.goto("/#/processes?q=ui_parallel")
    expect(page.locator("tbody tr")).to_have_count(3)  # the parent and its two branches
    page.select_option("#f-level", "top")
    expect(page.locator("tbody tr")).to_have_count(1)


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


def _node_with_ports(api: httpx.Client, node: str, port_names: list[str]) -> tuple[str, list[str]]:
    """A node with 10G ports of these names, made through the example workflows; their subscription ids."""
    node_pages = [{"product": NODE_PRODUCT}, {"node_name": node, "location": "Ut"}]
    node_id = wait_for(api, start(api, "create_node", node_pages), "completed")["current_state"]["subscription_id"]
    ports = []
    for name in port_names:
        pages = [{"product": PORT_PRODUCT}, {"node": node_id, "port_name": name}]
        ports.append(wait_for(api, start(api, "create_port", pages), "completed")["current_state"]["subscription_id"])
    return node_id, ports


def test_subscription_links_to_the_subscriptions_it_uses(page: Any, api: httpx.Client) -> None:
    node_id, ports = _node_with_ports(api, "rt-l", ["et-0", "et-1"])
    circuit_pages = [{"product": CIRCUIT_PRODUCT}, {"port_a": ports[0], "port_b": ports[1]}, {"bandwidth": 10}]
    circuit = wait_for(api, start(api, "create_circuit", circuit_pages), "completed")
    circuit_id = circuit["current_state"]["subscription_id"]

    page.goto("/#/processes?q=create_circuit")  # each process with its subscription and customer
    row = page.locator(f"tr[data-process='{circuit['process_id']}']")
    expect(row.locator(".col-subscription")).to_have_text("Circuit et-0 <-> et-1 (10 Gbit/s)")
    expect(row.locator(".col-customer")).to_have_text("demo-customer")

    page.goto("/#/subscriptions")
    loopback = api.get(f"/subscriptions/domain-model/{node_id}").json()["node"]["loopback"]
    page.get_by_label("Search").fill(loopback)  # a resource value finds the subscription holding it
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("Node rt-l (Ut)")
    page.get_by_label("Search").fill(ports[1][:8])  # so does the start of its id
    expect(page.locator(f"tbody tr[data-subscription='{ports[1]}']")).to_have_count(1)
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_label("Customer").fill("DEMO-cust")  # part of the customer id, ignoring case
    expect(page.locator(f"tbody tr[data-subscription='{ports[1]}']")).to_have_count(1)
    page.get_by_label("Customer").fill("")
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
    # The example inventory answers "busy" to a port's first change; the operator retries.
    expect(status_badge(page)).to_have_text("failed")
    expect(page.locator(".failure-reason")).to_contain_text("The inventory is busy")
    page.get_by_role("button", name="Retry").click()
    page.get_by_role("dialog").get_by_role("button", name="Retry").click()
    expect(status_badge(page)).to_have_text("completed")

    # The port's history: the version the modify step made, its diff, the process that made it.
    modify_process = page.url
    page.goto(f"/#/subscriptions/{ports[1]}")
    history = page.locator("section", has=page.locator("#history-h"))
    change = history.locator(".version", has_text="Change port mode")
    change.get_by_text("Changes").click()
    expect(change.locator(".diff")).to_contain_text("tagged → untagged")
    created = history.locator(".version[data-version='1']")
    created.get_by_text("Changes").click()
    expect(created.locator(".reference")).to_contain_text("Now refers to the Node block")
    shot(page, "subscription-history")
    change.locator(".version-process").click()
    expect(page).to_have_url(modify_process)


def test_the_lock_message_links_to_the_process_holding_it(page: Any, api: httpx.Client) -> None:
    _, ports = _node_with_ports(api, "rt-k", ["et-5", "et-6"])
    circuit_pages = [{"product": CIRCUIT_PRODUCT}, {"port_a": ports[0], "port_b": ports[1]}, {"bandwidth": 40}]
    holder = start(api, "create_circuit", circuit_pages)
    circuit_id = wait_for(api, holder, "suspended")["current_state"]["subscription_id"]  # waits for approval, locked

    page.goto(f"/#/subscriptions/{circuit_id}")
    expect(page.locator("#insync")).to_have_text("locked (not in sync)")
    shot(page, "subscription-locked")
    page.locator(".lock-note").get_by_role("link", name="Create circuit").click()
    expect(page).to_have_url(re.compile(f"#/processes/{holder}$"))

    page.goto(f"/#/subscriptions/{ports[0]}")  # a port the locked circuit uses: its workflows wait for the circuit
    blocked = page.locator("[data-workflow=modify_port]")
    expect(blocked).to_contain_text("A related subscription is locked")
    blocked.get_by_role("link", name="Circuit et-5 <-> et-6 (40 Gbit/s)").click()
    expect(page).to_have_url(re.compile(f"#/subscriptions/{circuit_id}$"))
    assert api.put(f"/processes/{holder}/resume", json=[{"approved": True}]).status_code == 204
    wait_for(api, holder, "completed")


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
    workers = page.locator("#workers")
    expect(workers).to_contain_text("threadpool")
    expect(workers.locator("dd").nth(1)).to_have_text(re.compile(r"^[1-9]\d*$"))  # threads online
    attention = page.locator("section", has=page.locator("#attention-h"))
    expect(attention.locator(f"tr[data-process='{failed}']")).to_contain_text("Inventory timed out for ticket T-99")
    shot(page, "dashboard")

    page.locator("#engine-toggle").click()
    page.get_by_role("dialog").get_by_role("button", name="Pause engine").click()
    expect(page.locator("#engine-status")).to_have_text("Engine paused")
    assert api.get("/settings/status").json()["global_lock"] is True
    page.goto("/#/start/ui_flaky")
    page.get_by_role("button", name="Begin").click()
    page.get_by_label("Ticket").fill("T-paused")  # the form opens while paused; only starting is refused
    page.get_by_role("button", name="Start").click()
    refused = page.locator("main").get_by_role("alert").filter(has_text="The engine is paused")
    expect(refused).to_be_visible()
    page.locator("#engine-toggle").click()
    page.get_by_role("dialog").get_by_role("button", name="Continue").click()
    expect(page.locator("#engine-status")).to_have_text("Engine running")
    expect(refused).to_have_count(0)  # the error goes with the pause
    page.get_by_role("button", name="Start").click()
    expect(status_badge(page)).to_have_text("failed")  # ui_flaky's first attempt fails, as it should

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
