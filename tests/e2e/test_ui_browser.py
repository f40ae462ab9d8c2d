"""The web app in a real Chromium, against a real ``runlab ui`` process (ui/API.md's contract).

The system Chromium (``/usr/bin/chromium``) is driven by Playwright; no browser is ever
downloaded. Without Chromium, Playwright or the built app the tests skip, unless
``RUNLAB_REQUIRE_BROWSER=1`` (CI) makes that a failure. A failing test leaves a screenshot and the
page's console in ``test-artifacts/`` (see ``conftest.py``).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
import pytest

import runlab
from runlab._demo_data import record_demo

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
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
STATIC_INDEX = Path(runlab.__file__).resolve().parent / "server" / "static" / "index.html"
TIMEOUT_MS = 10_000
"""What any one expectation may wait for the app (auto-waiting, no sleeps)."""
QUICK = {"quiet": True, "capture_output": False, "capture_git": False, "capture_packages": False}


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("RUNLAB_REQUIRE_BROWSER", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"browser tests cannot run: {reason} (RUNLAB_REQUIRE_BROWSER=1)")
    pytest.skip(f"browser tests skipped: {reason}")


# -- the store and the server ------------------------------------------------------------------


class Store:
    """The recorded store: ``record_demo`` plus a ``scratch`` project the edit tests change."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.demo = record_demo(root)
        self.scratch: dict[str, str] = {}
        for name, tags in (("tag-me", ["scratch", "old"]), ("doomed", []), ("keeper", [])):
            with runlab.init(
                project="scratch", name=name, tags=tags, dir=root, settings=QUICK
            ) as run:
                run.log({"x": 1.0})
            self.scratch[name] = run.id
        self.api = runlab.Api(dir=str(root))

    def demo_runs(self) -> list[Any]:
        return list(self.api.runs(project="demo"))

    def run_id(self, name: str) -> str:
        run_id: str = self.demo["runs"][name]
        return run_id


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return Store(tmp_path_factory.mktemp("ui") / "store")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``runlab ui`` process on a free loopback port; yields its base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLAB_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "runlab", "ui", "--dir", str(store.root), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"runlab ui exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/api/info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"runlab ui did not answer at {url} within 60 s:\n{log.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    if not STATIC_INDEX.is_file():
        unavailable(
            f"the web app is not built: no {STATIC_INDEX} (cd ui && npm ci && npm run build)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, server: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(base_url=server, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
    request.node.browser_console = console  # saved with the screenshot when the test fails
    try:
        yield page
    finally:
        context.close()


def by_test_id(scope: Page | Locator, test_id: str, **attrs: str) -> Locator:
    """``[data-testid=...]`` with more ``data-*`` attributes (``run_id="x"``)."""
    selector = f'[data-testid="{test_id}"]' + "".join(
        f'[{"data-" + key.replace("_", "-")}="{value}"]' for key, value in attrs.items()
    )
    return scope.locator(selector)


def api_get(server: str, path: str) -> httpx.Response:
    return httpx.get(f"{server}{path}", timeout=10)


def eventually(check: Callable[[], Any], what: str, timeout: float = 10) -> Any:
    """Poll ``check`` (an API read after a UI action) until truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


# -- the runs table ----------------------------------------------------------------------------


def test_projects_page_leads_to_the_runs_table_with_every_run(page: Page, store: Store) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    by_test_id(page, "project-row", project="demo").get_by_role("link", name="demo").click()
    expect(page).to_have_url(re.compile(r"/projects/demo$"))
    expect(page.get_by_test_id("runs-table")).to_be_visible()
    runs = store.demo_runs()
    expect(page.get_by_test_id("run-row")).to_have_count(len(runs))
    for run in runs:
        expect(by_test_id(page, "run-row", run_id=run.id)).to_have_count(1)
    expect(page.get_by_test_id("row-count")).to_have_text(re.compile(rf"\b{len(runs)}\b"))


def test_filter_reduces_rows_and_shows_a_syntax_error(page: Page, store: Store) -> None:
    from playwright.sync_api import expect

    wanted = sorted(
        run.id
        for run in store.demo_runs()
        if isinstance(run.config.get("lr"), float) and run.config["lr"] >= 0.003
    )
    assert 0 < len(wanted) < len(store.demo_runs())
    page.goto("/projects/demo")
    rows = page.get_by_test_id("run-row")
    expect(rows).to_have_count(len(store.demo_runs()))
    box = page.get_by_test_id("filter-input")
    box.fill("config.lr >= 0.003")
    box.press("Enter")
    expect(rows).to_have_count(len(wanted))
    for run_id in wanted:
        expect(by_test_id(page, "run-row", run_id=run_id)).to_have_count(1)
    expect(page.get_by_test_id("filter-error")).to_have_count(0)

    box.fill("config.lr >=")
    box.press("Enter")
    expect(page.get_by_test_id("filter-error")).to_be_visible()
    expect(page.get_by_test_id("filter-error")).not_to_have_text("")

    box.fill("")
    box.press("Enter")
    expect(rows).to_have_count(len(store.demo_runs()))
    expect(page.get_by_test_id("filter-error")).to_have_count(0)


def test_clicking_a_column_header_sorts_and_toggles(page: Page, store: Store, server: str) -> None:
    from playwright.sync_api import expect

    def server_order(order: str) -> list[str]:
        # One query model (DESIGN.md): the table shows the order the API's ``sort`` gives.
        response = api_get(server, f"/api/projects/demo/runs?sort=name&order={order}")
        return [row["name"] for row in response.json()["runs"]]

    page.goto("/projects/demo")
    expect(page.get_by_test_id("run-row")).to_have_count(len(store.demo_runs()))
    header = by_test_id(page, "col-header", col="name")
    header.click()
    expect(header).to_have_attribute("data-sort", re.compile(r"^(asc|desc)$"))
    first = header.get_attribute("data-sort") or ""
    expect(page.get_by_test_id("run-link")).to_have_text(server_order(first))
    header.click()
    second = "desc" if first == "asc" else "asc"
    expect(header).to_have_attribute("data-sort", second)
    expect(page.get_by_test_id("run-link")).to_have_text(server_order(second))
    assert server_order("asc") == sorted(server_order("asc"))


# -- the run page ------------------------------------------------------------------------------


def test_run_link_opens_the_run_page(page: Page, store: Store) -> None:
    from playwright.sync_api import expect

    run_id = store.run_id("adam-lr0.003")
    page.goto("/projects/demo")
    by_test_id(page, "run-row", run_id=run_id).get_by_test_id("run-link").click()
    expect(page).to_have_url(re.compile(rf"/projects/demo/runs/{run_id}(\?.*)?$"))
    expect(page.get_by_test_id("run-title")).to_contain_text("adam-lr0.003")
    expect(page.get_by_test_id("run-state")).to_contain_text("finished")


def test_charts_show_every_logged_metric_with_its_points(page: Page, store: Store) -> None:
    from playwright.sync_api import expect

    run_id = store.run_id("sgd-lr0.01")
    history = store.api.run(run_id).history()
    counts = {
        key: history[key].drop_nulls().len()
        for key in history.columns
        if key not in ("step", "timestamp") and not key.startswith("system/")
    }
    assert {"train/loss", "val/loss", "lr"} <= set(counts)
    page.goto(f"/projects/demo/runs/{run_id}?tab=charts")
    for key, count in counts.items():
        expect(by_test_id(page, "chart-panel", metric=key)).to_have_attribute(
            "data-points", str(count)
        )
    expect(page.get_by_test_id("chart-panel")).to_have_count(len(counts))


def test_every_tab_of_a_run_shows_its_content(page: Page, store: Store) -> None:
    from playwright.sync_api import expect

    train = store.run_id("adam-lr0.001")
    page.goto(f"/projects/demo/runs/{train}")
    checks: list[tuple[str, Callable[[], None]]] = [
        ("overview", lambda: expect(page.get_by_test_id("config-table")).to_contain_text("lr")),
        ("charts", lambda: expect(page.get_by_test_id("chart-panel").first).to_be_visible()),
        (
            "system",
            lambda: expect(
                page.locator('[data-testid="system-panel"], [data-testid="system-empty"]').first
            ).to_be_visible(),
        ),
        ("logs", lambda: expect(page.get_by_test_id("log-view")).to_contain_text("epoch 1:")),
        (
            "files",
            lambda: expect(by_test_id(page, "file-row", path="loss_curve.png")).to_be_visible(),
        ),
        (
            "artifacts",
            lambda: expect(by_test_id(page, "file-row", path="code/train.py")).to_be_visible(),
        ),
    ]
    for tab, check in checks:
        page.get_by_test_id(f"tab-{tab}").click()
        check()
    page.get_by_test_id("tab-files").click()
    by_test_id(page, "file-row", path="predictions.csv").click()
    expect(page.get_by_test_id("file-preview")).to_contain_text("image,label,predicted")

    scenario = store.demo["scenario"]
    page.goto(f"/projects/demo/runs/{scenario}")
    page.get_by_test_id("tab-episodes").click()
    expect(page.get_by_test_id("episodes-table")).to_be_visible()
    expect(page.get_by_test_id("episode-row").first).to_be_visible()
    expect(page.get_by_test_id("outcome-chart")).to_be_visible()
    page.get_by_test_id("tab-scenario").click()
    expect(page.get_by_test_id("scenario-yaml")).to_contain_text("uniform(0.2, 1.2)")

    # The tab is part of the route.
    page.goto(f"/projects/demo/runs/{train}?tab=logs")
    expect(page.get_by_test_id("log-view")).to_contain_text("epoch 1:")


def test_tags_added_and_removed_on_the_run_page_persist(
    page: Page, store: Store, server: str
) -> None:
    from playwright.sync_api import expect

    run_id = store.scratch["tag-me"]

    def tags() -> list[str]:
        response = api_get(server, f"/api/runs/{run_id}")
        assert response.status_code == 200, response.text
        found: list[str] = response.json()["run"]["tags"]
        return found

    page.goto(f"/projects/scratch/runs/{run_id}?tab=overview")
    expect(by_test_id(page, "tag-chip", tag="old")).to_be_visible()
    tag_input = page.get_by_test_id("tag-input")
    tag_input.fill("reviewed")
    tag_input.press("Enter")
    expect(by_test_id(page, "tag-chip", tag="reviewed")).to_be_visible()
    eventually(lambda: "reviewed" in tags(), "the added tag in GET /api/runs/{id}")

    by_test_id(page, "tag-chip", tag="old").get_by_test_id("tag-remove").click()
    expect(by_test_id(page, "tag-chip", tag="old")).to_have_count(0)
    eventually(lambda: "old" not in tags(), "the removed tag gone from GET /api/runs/{id}")
    assert sorted(tags()) == ["reviewed", "scratch"]

    page.reload()  # what the page shows after a reload comes from the server
    expect(by_test_id(page, "tag-chip", tag="reviewed")).to_be_visible()
    expect(by_test_id(page, "tag-chip", tag="old")).to_have_count(0)


def test_deleting_a_selected_run(page: Page, store: Store, server: str) -> None:
    from playwright.sync_api import expect

    doomed, keeper = store.scratch["doomed"], store.scratch["keeper"]
    page.goto("/projects/scratch")
    row = by_test_id(page, "run-row", run_id=doomed)
    expect(row).to_be_visible()
    row.get_by_test_id("run-select").check()
    page.get_by_test_id("delete-button").click()
    page.get_by_test_id("confirm-delete").click()
    expect(row).to_have_count(0)
    expect(by_test_id(page, "run-row", run_id=keeper)).to_be_visible()
    eventually(
        lambda: api_get(server, f"/api/runs/{doomed}").status_code == 404,
        "GET /api/runs/{id} of the deleted run to answer 404",
    )
    assert api_get(server, f"/api/runs/{keeper}").status_code == 200


# -- compare -----------------------------------------------------------------------------------


def test_comparing_two_selected_runs(page: Page, store: Store) -> None:
    from playwright.sync_api import expect

    first, second = store.run_id("sgd-lr0.003"), store.run_id("adam-lr0.003")
    page.goto("/projects/demo")
    for run_id in (first, second):
        by_test_id(page, "run-row", run_id=run_id).get_by_test_id("run-select").check()
    page.get_by_test_id("compare-button").click()
    expect(page).to_have_url(re.compile(r"/projects/demo/compare\?runs=[^&]+"))
    shown = page.url.split("runs=", 1)[1].split("&")[0].replace("%2C", ",").split(",")
    assert sorted(shown) == sorted([first, second])
    expect(page.get_by_test_id("compare-chart").first).to_be_visible()
    expect(by_test_id(page, "compare-chart", metric="train/loss")).to_be_visible()
    for run_id in (first, second):
        expect(by_test_id(page, "legend-item", run_id=run_id).first).to_be_visible()
    legend_runs = page.get_by_test_id("legend-item").evaluate_all(
        "items => [...new Set(items.map(i => i.getAttribute('data-run-id')))].sort()"
    )
    assert legend_runs == sorted([first, second])
