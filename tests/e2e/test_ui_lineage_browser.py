"""A run's history facts on its Overview, in a real Chromium against a real ``runlab ui``
process: the fork parent (a link to its page), resumes and rewinds, alerts, processes.

The browser, the server and the screenshots on failure are those of ``test_ui_browser.py``;
this module serves a small store of its own, written by the real SDK.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import runlab
from e2e import test_ui_browser as ui

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

# The browser, the server (of whichever ``store`` is in scope) and the page of the UI tests.
browser, server, page = ui.browser, ui.server, ui.page
QUICK, by_test_id = ui.QUICK, ui.by_test_id


class LineageStore:
    """In project ``lin``: a parent and its fork at step 4, a resumed and rewound run, a run
    that sent a WARN alert, and a two-process run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        with runlab.init(project="lin", name="parent", dir=root, settings=QUICK) as parent:
            for step in range(10):
                parent.log({"loss": 1.0 / (step + 1)})
        self.parent = parent.id
        with runlab.init(
            project="lin", name="child", fork_from=(parent.id, 4), dir=root, settings=QUICK
        ) as child:
            child.log({"loss": 0.01})
        self.child = child.id

        with runlab.init(project="lin", id="again01", name="again", dir=root, settings=QUICK) as r:
            for step in range(5):
                r.log({"x": float(step)})
        with runlab.init(
            project="lin", id="again01", resume="allow", dir=root, settings=QUICK
        ) as r:
            r.log({"x": 5.0})
        with runlab.init(
            project="lin", id="again01", resume_from="again01?_step=2", dir=root, settings=QUICK
        ) as r:
            r.log({"x": -1.0})

        with runlab.init(project="lin", name="alerting", dir=root, settings=QUICK) as run:
            run.log({"loss": 1.0})
            assert run.alert("Loss is NaN", "at step 0", level="WARN")
        self.alerting = run.id

        owner = runlab.init(project="lin", id="ddp001", shared=True, dir=root, settings=QUICK)
        rank = runlab.init(
            project="lin", id="ddp001", shared=True, label="rank-1", dir=root, settings=QUICK
        )
        owner.log({"owner/loss": 1.0})
        rank.log({"rank-1/loss": 2.0})
        rank.finish()
        owner.finish()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> LineageStore:
    """This module's store (``server`` serves whatever ``store`` is in scope)."""
    return LineageStore(tmp_path_factory.mktemp("ui-lineage") / "store")


def test_a_fork_links_to_its_parent(page: Page, store: LineageStore) -> None:
    from playwright.sync_api import expect

    page.goto(f"/projects/lin/runs/{store.child}")
    expect(page.get_by_test_id("run-title")).to_contain_text("child")
    lineage = page.get_by_test_id("lineage")
    expect(lineage).to_contain_text(re.compile(r"Forked from\s+parent\s+at step 4"))
    link = lineage.get_by_test_id("lineage-parent")
    expect(link).to_have_attribute("href", f"/projects/lin/runs/{store.parent}")
    expect(lineage.get_by_test_id("lineage-resumed")).to_have_count(0)
    expect(page.get_by_test_id("alerts")).to_have_count(0)
    expect(page.get_by_test_id("ranks")).to_have_count(0)

    link.click()
    expect(page).to_have_url(re.compile(rf"/projects/lin/runs/{store.parent}(\?.*)?$"))
    expect(page.get_by_test_id("run-title")).to_contain_text("parent")
    expect(page.get_by_test_id("metadata-table")).to_be_visible()
    expect(page.get_by_test_id("lineage")).to_have_count(0)  # the parent is no fork


def test_a_run_with_a_warn_alert_lists_it(page: Page, store: LineageStore) -> None:
    from playwright.sync_api import expect

    page.goto(f"/projects/lin/runs/{store.alerting}")
    expect(page.get_by_test_id("run-title")).to_contain_text("alerting")
    rows = page.get_by_test_id("alerts").get_by_test_id("alert-row")
    expect(rows).to_have_count(1)
    warn = by_test_id(page, "alert-row", level="WARN")
    expect(warn).to_contain_text("Loss is NaN")
    expect(warn).to_contain_text("at step 0")
    expect(warn.locator(".badge")).to_have_text("warn")
    expect(page.get_by_test_id("lineage")).to_have_count(0)


def test_resumes_and_rewinds_are_listed(page: Page, store: LineageStore) -> None:
    from playwright.sync_api import expect

    page.goto("/projects/lin/runs/again01")
    lineage = page.get_by_test_id("lineage")
    expect(lineage.get_by_test_id("lineage-resumed")).to_contain_text(
        re.compile(r"Resumed once \(last at step 5\)")
    )
    expect(lineage.get_by_test_id("lineage-rewound")).to_contain_text("Rewound to step 2")
    expect(lineage.get_by_test_id("lineage-parent")).to_have_count(0)


def test_a_multi_process_run_lists_its_processes(page: Page, store: LineageStore) -> None:
    from playwright.sync_api import expect

    page.goto("/projects/lin/runs/ddp001")
    rows = page.get_by_test_id("ranks").get_by_test_id("rank-row")
    expect(rows).to_have_count(2)
    owner, rank = (
        by_test_id(page, "rank-row", label="owner"),
        by_test_id(page, "rank-row", label="rank-1"),
    )
    expect(owner).to_contain_text("owner")
    for row in (owner, rank):
        expect(row.locator("[data-status]")).to_have_attribute("data-status", "finished")
        expect(row).to_contain_text(re.compile(r"/ \d+"))  # host / pid
