"""Run operations in the web app, in a real Chromium against a real ``runlab ui`` process:
stopping a real running run, and deleted runs (restore, purge).

The browser, the server and the screenshots on failure are those of ``test_ui_browser.py``;
this module serves a small store of its own, into which the tests also start real runs.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

import runlab
from e2e import test_ui_browser as ui

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from e2e.conftest import Children

pytestmark = pytest.mark.browser

# The browser, the server (of whichever ``store`` is in scope) and the page of the UI tests.
browser, server, page = ui.browser, ui.server, ui.page
QUICK, api_get, by_test_id, eventually = ui.QUICK, ui.api_get, ui.by_test_id, ui.eventually

ENDS_MS = 20_000
"""How long a stopped run may take to read ``killed`` in the app: a heartbeat (0.3 s), the
process's shutdown, and the page's 2 s poll, with room for a loaded machine."""

LOOP = """
import sys, time, runlab
root, project, marker = sys.argv[1:4]
run = runlab.init(dir=root, project=project, name="looping",
                  settings={"quiet": True, "heartbeat_interval": 0.3, "capture_output": False,
                            "capture_git": False, "capture_packages": False})
mark(marker, run.id)
with run:
    step = 0
    deadline = time.monotonic() + 120  # never outlives a broken test for long
    while time.monotonic() < deadline:
        run.log({"x": float(step)})
        step += 1
        time.sleep(0.02)
"""


class OpsStore:
    """Finished runs in project ``ops`` that the trash tests delete, restore and purge."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ids: dict[str, str] = {}
        for name in ("restore-me", "purge-me", "bystander"):
            with runlab.init(project="ops", name=name, dir=root, settings=QUICK) as run:
                run.log({"x": 1.0})
            self.ids[name] = run.id


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> OpsStore:
    """This module's store (``server`` serves whatever ``store`` is in scope)."""
    return OpsStore(tmp_path_factory.mktemp("ui-ops") / "store")


def start_looping(
    children: Children, store: OpsStore, project: str
) -> tuple[subprocess.Popen[str], str]:
    """A real run in a child process, logging in a loop with a 0.3 s heartbeat; its id."""
    marker = children.tmp_path / f"{project}.id"
    proc = children.start(LOOP, str(store.root), project, str(marker))

    def started() -> str | None:
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the run exited with {proc.returncode} before starting:\n{err}")
        return marker.read_text() if marker.exists() else None

    run_id: str = children.wait_until(started, 30, "the looping run to start")
    return proc, run_id


def run_detail(base: str, run_id: str) -> dict:
    response = api_get(base, f"/api/runs/{run_id}")
    assert response.status_code == 200, response.text
    detail: dict = response.json()
    return detail


def test_stop_a_running_run_from_its_page(
    page: Page, server: str, store: OpsStore, children: Children
) -> None:
    from playwright.sync_api import expect

    proc, run_id = start_looping(children, store, "ops-live")
    page.goto(f"/projects/ops-live/runs/{run_id}")
    state = page.get_by_test_id("run-state")
    expect(state).to_have_text("running")
    page.get_by_test_id("stop-button").click()
    page.get_by_test_id("confirm-stop").click()
    expect(state).to_have_text("killed", timeout=ENDS_MS)
    expect(page.get_by_test_id("stop-button")).to_have_count(0)  # only while running
    children.communicate(proc, timeout=30)  # the process ended (fails the test otherwise)
    detail = run_detail(server, run_id)
    assert detail["run"]["status"] == "killed"
    assert detail["err_msg"] == "stopped from outside (runlab stop)"


def test_runs_table_refuses_to_delete_a_running_run_and_stops_it(
    page: Page, server: str, store: OpsStore, children: Children
) -> None:
    from playwright.sync_api import expect

    proc, run_id = start_looping(children, store, "ops-table")
    page.goto("/projects/ops-table")
    row = by_test_id(page, "run-row", run_id=run_id)
    badge = row.locator("[data-status]")
    expect(badge).to_have_attribute("data-status", "running")
    stop = page.get_by_test_id("stop-runs-button")
    expect(stop).to_be_disabled()  # nothing running is selected
    row.get_by_test_id("run-select").check()

    # Deleting a running run: the server's 409 message shows in a toast, nothing is deleted.
    page.get_by_test_id("delete-button").click()
    page.get_by_test_id("confirm-delete").click()
    toast = page.get_by_test_id("toast").filter(has_text="still running")
    expect(toast).to_be_visible()
    expect(toast).to_contain_text(run_id)
    expect(row).to_be_visible()
    assert api_get(server, f"/api/runs/{run_id}").status_code == 200

    expect(stop).to_be_enabled()
    stop.click()
    page.get_by_test_id("confirm-stop").click()
    expect(badge).to_have_attribute("data-status", "killed", timeout=ENDS_MS)
    children.communicate(proc, timeout=30)
    assert run_detail(server, run_id)["err_msg"] == "stopped from outside (runlab stop)"


def test_deleted_run_is_restored_from_deleted_runs(
    page: Page, server: str, store: OpsStore
) -> None:
    from playwright.sync_api import expect

    run_id = store.ids["restore-me"]
    page.goto("/projects/ops")
    row = by_test_id(page, "run-row", run_id=run_id)
    row.get_by_test_id("run-select").check()
    page.get_by_test_id("delete-button").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Deleted runs")  # says it is restorable
    page.get_by_test_id("confirm-delete").click()
    expect(row).to_have_count(0)
    expect(by_test_id(page, "run-row", run_id=store.ids["bystander"])).to_be_visible()

    page.goto("/")
    page.get_by_test_id("trash-link").click()
    expect(page).to_have_url(re.compile(r"/trash$"))
    trashed = by_test_id(page, "trash-row", run_id=run_id)
    expect(trashed).to_contain_text("restore-me")
    expect(trashed).to_contain_text("ops")
    trashed.get_by_test_id("restore-button").click()
    expect(trashed).to_have_count(0)
    eventually(
        lambda: api_get(server, f"/api/runs/{run_id}").status_code == 200,
        "GET /api/runs/{id} of the restored run to answer 200",
    )

    page.goto("/projects/ops")
    expect(by_test_id(page, "run-row", run_id=run_id)).to_be_visible()


def test_purged_run_leaves_deleted_runs_for_good(page: Page, server: str, store: OpsStore) -> None:
    from playwright.sync_api import expect

    run_id = store.ids["purge-me"]
    deleted = httpx.post(f"{server}/api/runs/delete", json={"ids": [run_id]}, timeout=10)
    assert deleted.status_code == 200, deleted.text
    page.goto("/trash")
    trashed = by_test_id(page, "trash-row", run_id=run_id)
    trashed.get_by_test_id("purge-button").click()
    page.get_by_test_id("confirm-purge").click()
    expect(trashed).to_have_count(0)
    page.reload()  # what the page shows after a reload comes from the server
    expect(page.get_by_role("heading", name="Deleted runs")).to_be_visible()
    expect(by_test_id(page, "trash-row", run_id=run_id)).to_have_count(0)
    assert run_id not in [r["id"] for r in api_get(server, "/api/trash").json()["runs"]]
    again = httpx.post(f"{server}/api/runs/restore", json={"ids": [run_id]}, timeout=10)
    assert again.status_code == 404
