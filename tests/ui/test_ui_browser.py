"""The web UI in a real browser: headless Chromium against a real `pauta server`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from browsing import RUN_TIMEOUT, csrf_of, log_in, wait_for_run_state
from playwright.sync_api import Page, expect
from ui_server import PASSWORD, Server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS_ENV = "PAUTA_UPDATE_SCREENSHOTS"
# the charts' colours, .c0 … .c9 in pauta.css
PALETTE = {
    "rgb(78, 121, 167)", "rgb(242, 142, 43)", "rgb(225, 87, 89)", "rgb(118, 183, 178)",
    "rgb(89, 161, 79)", "rgb(237, 201, 72)", "rgb(176, 122, 161)", "rgb(255, 157, 167)",
    "rgb(156, 117, 95)", "rgb(186, 176, 172)",
}  # fmt: skip


def trigger_from_form(page: Page, flow: str, **params: str) -> str:
    """Fill the flow page's form, submit it, and return the new run's id (from the URL)."""
    page.goto(f"/flows/{flow}")
    for name, value in params.items():
        page.fill(f"#param-{name}", value)
    page.click("#trigger-form button[type=submit]")
    page.wait_for_url(re.compile(r"/runs/\w+$"))
    return page.url.rsplit("/", 1)[1]


def test_log_in_and_out(page: Page) -> None:
    page.goto("/runs?state=FAILED")
    # anonymous: sent to the login form, which remembers where to go back
    expect(page).to_have_url(re.compile(r"/login\?next=/runs%3Fstate%3DFAILED$|/login\?next="))
    page.fill("#username", "olga")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    expect(page.locator(".banner.error")).to_have_text("Wrong user name or password.")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/runs\?state=FAILED$"))
    page.click("text=Log out")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))


def test_trigger_the_example_from_the_form_and_watch_it_finish(page: Page, tmp_path: Path) -> None:
    log_in(page, "olga")
    expect(page.locator("#flows tr[data-flow=weekly_training]")).to_contain_text("0 3 * * MON")
    run_id = trigger_from_form(page, "weekly_training", end="2026-11-23", min_accuracy="0.5")
    # the page updates itself while the run goes on: no reload here
    expect(page.locator("#run-live")).to_contain_text('"min_accuracy": 0.5')
    wait_for_run_state(page, "SUCCEEDED")
    expect(page.locator("#run-live .live-dot")).to_have_count(0)  # polling stopped
    tasks = page.locator("#tasks tbody tr")
    expect(tasks).to_have_count(7)
    expect(page.locator("#tasks tr[data-key=deploy-0]")).to_have_attribute(
        "data-state", "SUCCEEDED"
    )
    expect(page.locator("#metrics")).to_contain_text("accuracy")
    check_run_charts(page)
    expect(page.locator("#gantt .gantt-row")).to_have_count(7)
    # the graph: one node per task call, coloured by state
    nodes = page.evaluate(
        "() => JSON.parse(document.getElementById('graph-data').textContent).nodes.length"
    )
    assert nodes == 7
    expect(page.locator("#graph canvas").first).to_be_visible()
    # times in the browser's timezone (UTC-3 here), not in UTC
    created = page.locator("#run-live time").first
    expect(created).to_have_attribute("data-local", "1")
    assert "UTC" not in created.inner_text()
    # a task's log
    page.click("#tasks tr[data-key=load_week-0] button:has-text('Logs')")
    expect(page.locator("#logs pre.log")).to_contain_text("loaded 2800 rows")
    # the flow page charts the run's accuracy, a line (here a point) per model
    page.goto("/flows/weekly_training")
    lines = page.locator("#flow-charts figure[data-metric=accuracy] g.series")
    expect(lines).to_have_count(2)
    assert sorted(lines.evaluate_all("(gs) => gs.map((g) => g.dataset.series)")) == [
        "evaluate[forest]",
        "evaluate[logreg]",
    ]
    point = page.locator(
        f"#flow-charts figure[data-metric=accuracy] a[href='/runs/{run_id}'] circle"
    )
    expect(point).to_have_count(2)
    shoot_pages(page, run_id, tmp_path)


def check_run_charts(page: Page) -> None:
    """The run page's metric charts: a bar per model, drawn, coloured, with its value on hover."""
    accuracy = page.locator("#metric-charts figure[data-metric=accuracy][data-kind=bars]")
    rows = accuracy.locator("g.bar-row")
    expect(rows).to_have_count(2)
    assert rows.evaluate_all("(gs) => gs.map((g) => g.dataset.series)") == [
        "evaluate[logreg]",
        "evaluate[forest]",
    ]
    values = rows.evaluate_all("(gs) => gs.map((g) => Number(g.dataset.value))")
    assert all(0.5 < v <= 1.0 for v in values)
    bar = accuracy.locator("rect.bar").first
    box = bar.bounding_box()
    assert box is not None
    assert box["width"] > 20
    assert bar.evaluate("(el) => getComputedStyle(el).fill") in PALETTE
    title = bar.locator("title").text_content() or ""
    assert title.startswith("evaluate[logreg]: accuracy = ")
    train = page.locator("#metric-charts figure[data-metric=train_accuracy] g.bar-row")
    expect(train).to_have_count(2)


def shoot_pages(page: Page, run_id: str, tmp_path: Path) -> None:
    """Screenshots of the main pages: into docs/img with PAUTA_UPDATE_SCREENSHOTS=1
    (`python docs/img/capture.py` sets it), else into a temporary folder."""
    update = bool(os.environ.get(SCREENSHOTS_ENV))
    folder = ROOT / "docs" / "img" if update else tmp_path
    if update:
        more_history(page)
    shots = {
        "flow.png": "/flows/weekly_training",
        "run.png": f"/runs/{run_id}",
        "flows.png": "/",
    }
    for name, path in shots.items():
        page.goto(path)
        page.wait_for_load_state("networkidle")
        if name == "run.png":
            page.click("#tasks tr[data-key=train-1] button:has-text('Logs')")
            expect(page.locator("#logs pre.log")).to_be_visible()
        if name == "flows.png":
            page.set_viewport_size({"width": 1280, "height": 420})
        page.screenshot(path=str(folder / name), full_page=name != "flows.png")
    page.click("text=Log out")
    page.screenshot(path=str(folder / "login.png"))
    for name in (*shots, "login.png"):
        assert (folder / name).stat().st_size > 10_000


def more_history(page: Page) -> None:
    """A few more runs (one failing) so that the flows page shows some history."""
    headers = {"X-CSRF-Token": csrf_of(page)}
    created = [
        page.request.post(f"/api/v1/flows/{flow}/runs", data={"params": params}, headers=headers)
        for flow, params in [
            ("flaky", {}),
            ("sleepy", {"seconds": 0.2}),
            ("sleepy", {"seconds": 0.3}),
            ("flaky", {}),
        ]
    ]
    for answer in created:
        assert answer.status == 201, answer.text()
        run = answer.json()["id"]
        page.goto(f"/runs/{run}")
        expect(page.locator("#run-live")).to_have_attribute(
            "data-state", re.compile("SUCCEEDED|FAILED"), timeout=RUN_TIMEOUT
        )


def test_retry_a_failed_task(page: Page) -> None:
    log_in(page, "olga")
    trigger_from_form(page, "flaky")
    wait_for_run_state(page, "FAILED")
    row = page.locator("#tasks tr[data-key=fragile-0]")
    expect(row).to_have_attribute("data-state", "FAILED")
    expect(page.locator("#tasks tr[data-key=finish-0]")).to_have_attribute(
        "data-state", "UPSTREAM_FAILED"
    )
    expect(row).to_contain_text("fragile fails the first time, on purpose")
    row.locator("button:has-text('Retry')").click()
    expect(page.locator(".banner.info")).to_contain_text("fragile-0 reopened")
    wait_for_run_state(page, "SUCCEEDED")
    expect(row).to_have_attribute("data-state", "SUCCEEDED")
    expect(row).to_contain_text("21")  # its result preview
    # both attempts are listed, and each has its log
    expect(row.locator(".attempts .square")).to_have_count(2)
    row.locator("button:has-text('Logs')").click()
    expect(page.locator("#logs pre.log")).to_contain_text("fragile got 20")
    page.click("#logs .tabs a:has-text('attempt 1')")
    expect(page.locator("#logs pre.log")).to_contain_text("RuntimeError")


def test_cancel_and_resume_a_run(page: Page) -> None:
    log_in(page, "olga")
    run_id = trigger_from_form(page, "sleepy", seconds="20")
    wait_for_run_state(page, "RUNNING", timeout=30_000)
    expect(page.locator("#tasks tr[data-key=nap-0]")).to_have_attribute("data-state", "RUNNING")
    page.click("#cancel-run")
    wait_for_run_state(page, "CANCELLED", timeout=30_000)
    page.click("#resume-run")
    expect(page.locator(".banner.info")).to_contain_text("queued to resume")
    wait_for_run_state(page, "RUNNING", timeout=30_000)
    page.click("#cancel-run")
    wait_for_run_state(page, "CANCELLED", timeout=30_000)
    page.goto("/runs?flow=sleepy&state=CANCELLED")
    expect(page.locator(f"#runs a:has-text('{run_id}')")).to_have_count(1)


def test_a_viewer_cannot_trigger(page: Page, server: Server) -> None:
    log_in(page, "vera")
    expect(page.locator("#flows tr[data-flow=flaky]")).to_be_visible()
    expect(page.locator("#flows button:has-text('Trigger')")).to_have_count(0)
    page.goto("/flows/flaky")
    expect(page.locator("#trigger")).to_contain_text("may look but not trigger")
    expect(page.locator("#trigger-form")).to_have_count(0)
    # posting the form anyway, with a valid CSRF token, is refused by the server
    csrf = page.evaluate(
        "() => JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']"
    )
    answer = page.request.post("/flows/flaky/trigger", form={"csrf_token": csrf})
    assert answer.status == 403
    assert "needs the operator role" in answer.text()
    api = page.request.post(
        "/api/v1/flows/flaky/runs", data={"params": {}}, headers={"X-CSRF-Token": csrf}
    )
    assert api.status == 403


def test_the_flows_page_shows_new_runs_without_a_reload(page: Page, server: Server) -> None:
    log_in(page, "vera")
    expect(page.locator("#flows tr[data-flow=sleepy]")).to_be_visible()
    # a run queued from the command line, as a schedule or another user would
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAUTA_")}
    env["PAUTA_HOME"] = str(server.home)
    flows = server.home.parent / "flows"
    command = ["trigger", "sleepy", "--flows", str(flows), "-p", "seconds=0"]
    queued = subprocess.run(
        [sys.executable, "-m", "pauta", *command],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    run_id = queued.stdout.split()[-1]
    square = page.locator(f"#flows tr[data-flow=sleepy] a[href='/runs/{run_id}']")
    expect(square).to_have_count(1, timeout=30_000)
    expect(square).to_have_class(re.compile(r"s-SUCCEEDED"), timeout=30_000)


def test_the_flows_page_names_the_timezone_of_the_next_run(browser: Any, server: Server) -> None:
    # a browser far from the schedule's zone: the next run stays in the schedule's own zone
    context = browser.new_context(base_url=server.url, timezone_id="Asia/Tokyo")
    page = context.new_page()
    try:
        log_in(page, "olga")
        weekly = page.locator("#flows tr[data-flow=weekly_training]")
        next_run = weekly.locator("td").nth(2)
        expect(next_run).to_have_text(
            re.compile(r"^\d{4}-\d\d-\d\d 03:00 America/Argentina/Buenos_Aires$")
        )
        expect(weekly.locator(".pause-toggle")).to_have_text("Pause")
        # a flow nothing starts by itself has nothing to pause
        manual = page.locator("#flows tr[data-flow=sleepy]")
        expect(manual.locator(".paused-cell")).to_have_text("manual only")
        expect(manual.locator(".pause-toggle")).to_have_count(0)
        expect(manual.locator("button:has-text('Trigger')")).to_have_count(1)
    finally:
        context.close()
