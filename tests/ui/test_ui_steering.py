"""Steering a finished run from its page, in a real browser: mark a failed task SUCCEEDED and
clear a succeeded one, each behind a confirming step, under the strict CSP."""

from __future__ import annotations

from typing import Any

import pytest
from browsing import RUN_TIMEOUT, csrf_of, log_in, wait_for_run_state
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow

RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def start(page: Page, flow: str) -> str:
    """Trigger ``flow`` (as the logged-in user) and open its run page."""
    answer = page.request.post(
        f"/api/v1/flows/{flow}/runs", data={"params": {}}, headers={"X-CSRF-Token": csrf_of(page)}
    )
    assert answer.status == 201, answer.text()
    run_id = str(answer.json()["id"])
    page.goto(f"/runs/{run_id}")
    return run_id


@pytest.fixture
def watched(page: Page) -> Page:
    page.add_init_script(RECORD_VIOLATIONS)
    refused: list[str] = []

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            refused.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: refused.append(f"page error: {error}"))
    yield page
    assert refused == []


def no_violations(page: Page) -> None:
    assert page.evaluate("() => window.__violations || []") == []


def test_mark_a_failed_task_success_and_its_dependent_runs(watched: Page) -> None:
    page = watched
    log_in(page, "olga")
    run_id = start(page, "steered")
    wait_for_run_state(page, "FAILED", timeout=RUN_TIMEOUT)
    row = page.locator("#tasks tr[data-key=check-0]")
    expect(page.locator("#tasks tr[data-key=report-0]")).to_have_attribute(
        "data-state", "UPSTREAM_FAILED"
    )
    # a succeeded call offers no mark, only a clear
    expect(page.locator("#tasks tr[data-key=load-0] .mark-success")).to_have_count(0)
    expect(page.locator("#tasks tr[data-key=load-0] .clear-task")).to_have_count(1)
    confirm = row.locator(".mark-success button[type=submit]")
    expect(confirm).to_be_hidden()  # nothing is posted before the user confirms
    row.locator(".mark-success summary").click()
    expect(row.locator(".mark-success")).to_contain_text("result None")
    confirm.click()
    expect(page.locator(".banner.info")).to_contain_text("check-0 marked SUCCEEDED")
    wait_for_run_state(page, "SUCCEEDED", timeout=RUN_TIMEOUT)
    expect(row).to_have_attribute("data-state", "SUCCEEDED")
    expect(row.locator(".marked")).to_contain_text("marked by olga")
    report = page.locator("#tasks tr[data-key=report-0]")
    expect(report).to_have_attribute("data-state", "SUCCEEDED")
    expect(report).to_contain_text("report of None")
    expect(page.locator("#run-live")).to_contain_text("report of None")  # the run's result
    no_violations(page)
    shown = page.request.get(f"/api/v1/runs/{run_id}/tasks/check-0").json()
    assert shown["marked_by"] == "olga"
    assert shown["attempts"] == 1


def test_clear_a_succeeded_task_runs_it_again(watched: Page) -> None:
    page = watched
    log_in(page, "olga")
    start(page, "steady")
    wait_for_run_state(page, "SUCCEEDED", timeout=RUN_TIMEOUT)
    row = page.locator("#tasks tr[data-key=check-0]")
    expect(row.locator(".mark-success")).to_have_count(0)
    row.locator(".clear-task summary").click()
    row.locator(".clear-task button[type=submit]").click()
    expect(page.locator(".banner.info")).to_contain_text("check-0 and its downstream calls cleared")
    # the replay runs check and report again, as second attempts; load keeps its one
    expect(row.locator(".attempts .square")).to_have_count(2, timeout=RUN_TIMEOUT)
    wait_for_run_state(page, "SUCCEEDED", timeout=RUN_TIMEOUT)
    expect(page.locator("#tasks tr[data-key=report-0] .attempts .square")).to_have_count(2)
    expect(page.locator("#tasks tr[data-key=load-0] .attempts")).to_have_count(0)
    expect(page.locator("#tasks tr[data-key=load-0] td").nth(2)).to_have_text("1")
    no_violations(page)


def test_a_viewer_sees_no_steering_and_may_not_post_it(page: Page) -> None:
    log_in(page, "olga")
    run_id = start(page, "steered")
    wait_for_run_state(page, "FAILED", timeout=RUN_TIMEOUT)
    page.click("text=Log out")
    log_in(page, "vera")
    page.goto(f"/runs/{run_id}")
    expect(page.locator("#tasks tr[data-key=check-0]")).to_be_visible()
    expect(page.locator("details.confirm")).to_have_count(0)
    token = csrf_of(page)
    for action in ("mark-success", "clear"):
        answer = page.request.post(
            f"/runs/{run_id}/tasks/check-0/{action}", form={"csrf_token": token}
        )
        assert answer.status == 403, action
    # and without the CSRF token, not even an operator's session may
    page.click("text=Log out")
    log_in(page, "olga")
    answer = page.request.post(f"/runs/{run_id}/tasks/check-0/mark-success", form={})
    assert answer.status == 403
    state = page.request.get(f"/api/v1/runs/{run_id}/tasks/check-0").json()["state"]
    assert state == "FAILED"
