"""The web UI under its Content-Security-Policy, in a real browser: the pages raise no
violation (no inline script or style anywhere) and still work: the graph, the live updates,
the timeline, the logs, the forms."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browsing import log_in, wait_for_run_state
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow

# securitypolicyviolation events, kept by the page itself (init scripts run before the page's)
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture
def watched(page: Page) -> tuple[Page, list[str]]:
    """The page, and every CSP complaint its console printed (checked empty at the end)."""
    refused: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            refused.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: refused.append(f"page error: {error}"))
    return page, refused


def violations(page: Page) -> list[str]:
    return list(page.evaluate("() => window.__violations || []"))


def assert_clean(page: Page, refused: list[str]) -> None:
    assert violations(page) == []
    assert refused == []


def test_the_run_page_works_under_the_policy(watched: tuple[Page, list[str]]) -> None:
    page, refused = watched
    log_in(page, "olga")
    assert_clean(page, refused)
    page.goto("/flows/sleepy")
    page.fill("#param-seconds", "3")
    page.click("#trigger-form button[type=submit]")
    page.wait_for_url(re.compile(r"/runs/\w+$"))
    # polled by htmx while it runs, until it ends: no reload
    wait_for_run_state(page, "RUNNING", timeout=30_000)
    expect(page.locator("#run-live .live-dot")).to_have_count(1)
    wait_for_run_state(page, "SUCCEEDED", timeout=30_000)
    expect(page.locator("#run-live .live-dot")).to_have_count(0)
    # the graph drew its canvas, coloured by state
    expect(page.locator("#graph canvas").first).to_be_visible()
    # the timeline's bar has a width, from its SVG geometry (no style attribute)
    bar = page.locator("#gantt .gantt-row rect.bar:not(.wait)").first
    box = bar.bounding_box()
    assert box is not None
    assert box["width"] > 1
    fill = bar.evaluate("(el) => getComputedStyle(el).fill")
    assert fill == "rgb(46, 158, 79)"  # --state-SUCCEEDED
    # a task's log, fetched by htmx into the page
    page.click("#tasks tr[data-key=nap-0] button:has-text('Logs')")
    expect(page.locator("#log-view")).to_contain_text("nap-0")
    expect(page.locator("#log-view .tabs a")).to_have_count(1)
    expect(page.locator("#log-view .tabs")).to_have_css("display", "inline-flex")
    assert_clean(page, refused)


def test_the_lists_and_the_flow_page_work_under_the_policy(
    watched: tuple[Page, list[str]],
) -> None:
    page, refused = watched
    log_in(page, "olga")
    # the flows table refreshes itself every 5 s
    with page.expect_request(lambda r: r.headers.get("hx-request") == "true", timeout=15_000):
        pass
    expect(page.locator("#flows tr[data-flow=sleepy]")).to_be_visible()
    page.goto("/runs")
    expect(page.locator("#runs")).to_be_visible()
    page.select_option("#state", "SUCCEEDED")
    page.click("form.filters button[type=submit]")
    expect(page).to_have_url(re.compile(r"state=SUCCEEDED"))
    page.goto("/flows/weekly_training")
    expect(page.locator("#trigger-form")).to_be_visible()
    expect(page.locator(".description")).to_have_css("white-space", "pre-wrap")
    page.click("text=Log out")
    expect(page).to_have_url(re.compile(r"/login$"))
    assert_clean(page, refused)


def test_the_forms_list_rows_work_under_the_policy(watched: tuple[Page, list[str]]) -> None:
    page, refused = watched
    log_in(page, "olga")
    page.goto("/flows/tuned")
    rows = page.locator("#param-tags .list-row")
    expect(rows).to_have_count(1)
    page.click("#param-tags [data-add-row]")
    expect(rows).to_have_count(2)
    # the new row's input has the focus, to type in straight away
    expect(rows.nth(1).locator("input")).to_be_focused()
    rows.nth(0).locator("[data-remove-row]").click()
    expect(rows).to_have_count(1)
    assert_clean(page, refused)


def test_the_api_docs_work_under_the_policy(watched: tuple[Page, list[str]]) -> None:
    page, refused = watched
    log_in(page, "vera")
    page.click(".topbar nav a:has-text('API')")
    expect(page).to_have_url(re.compile(r"/api/docs$"))
    # Swagger UI, from the package, read the OpenAPI description and drew the operations
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("pauta")
    operation = page.locator(".opblock-summary:has-text('/api/v1/runs')").first
    expect(operation).to_be_visible()
    operation.click()
    expect(page.locator(".opblock.is-open .parameters")).to_contain_text("limit")
    assert_clean(page, refused)
