"""Attacks on the web UI in a real browser: a crafted link must not run script in the page of
a logged-in admin (who could otherwise mint an admin API token through the API)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from browsing import csrf_of, log_in
from playwright.sync_api import Page, expect
from ui_forms import HOSTILE

pytestmark = pytest.mark.slow

# no quotes and no "/": the messages quote the id with repr(), and "/" ends a run id
MARK = "window.__pwned=1;document.title=window.name+1"
PAYLOADS = {
    "img": f"<img src=x onerror={MARK}>",
    "svg": f"<svg onload={MARK}>",
    "script": f"<script>{MARK}</script>",
}


def a_run(page: Page) -> str:
    headers = {"X-CSRF-Token": csrf_of(page)}
    answer = page.request.post(
        "/api/v1/flows/sleepy/runs", data={"params": {"seconds": 0}}, headers=headers
    )
    assert answer.status == 201, answer.text()
    return str(answer.json()["id"])


def open_crafted(page: Page, path: str, payload: str) -> None:
    """Open the link as the victim would, and check the payload did not run."""
    answer = page.goto(path)
    assert answer is not None
    assert answer.status == 404
    # an injected image's error handler runs once the image is known to be broken: wait for
    # every image to settle, then a little more for queued handlers
    page.wait_for_load_state("load")
    page.wait_for_function("() => Array.from(document.images).every((img) => img.complete)")
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.__pwned") is None
    assert page.title() != "1"
    # the message is there, as text: the payload is shown, not parsed
    expect(page.locator("body")).to_contain_text(payload.split(" ", 1)[0])


@pytest.mark.parametrize("kind", ["img", "svg"])
def test_a_crafted_run_id_in_the_live_link_runs_no_script(page: Page, kind: str) -> None:
    log_in(page, "ada")
    payload = PAYLOADS[kind]
    open_crafted(page, f"/runs/{quote(payload, safe='')}/live", payload)


@pytest.mark.parametrize("kind", ["img", "script"])
def test_a_crafted_task_key_in_the_logs_link_runs_no_script(page: Page, kind: str) -> None:
    log_in(page, "ada")
    run_id = a_run(page)
    payload = PAYLOADS[kind]
    open_crafted(page, f"/runs/{run_id}/tasks/{quote(payload, safe='')}/logs", payload)


@pytest.mark.parametrize("kind", ["img", "svg"])
def test_a_crafted_run_id_in_the_run_page_link_runs_no_script(page: Page, kind: str) -> None:
    log_in(page, "ada")
    payload = PAYLOADS[kind]
    open_crafted(page, f"/runs/{quote(payload, safe='')}", payload)


def test_markup_in_a_flows_parameters_and_in_posted_values_runs_no_script(page: Page) -> None:
    log_in(page, "ada")
    page.goto("/flows/hostile")
    # the descriptions and defaults are there, as text
    expect(page.locator("#help-note")).to_contain_text("<script>window.__pwned=1</script>")
    expect(page.locator("#param-note")).to_have_value(HOSTILE)
    expect(page.locator("#help-deep-inner")).to_contain_text(HOSTILE)
    expect(page.locator("#param-deep-inner")).to_have_value(HOSTILE)
    # a posted value the server refuses comes back in the form and in the message
    posted = '{"x": "<img src=x onerror=window.__pwned=1>"}'
    page.fill("#param-counts", posted)
    with page.expect_response(lambda r: r.url.endswith("/flows/hostile/trigger")) as answer:
        page.click("#trigger-form button[type=submit]")
    assert answer.value.status == 422
    expect(page.locator("#error-counts")).to_contain_text("valid integer")
    expect(page.locator("#param-counts")).to_have_value(posted)
    page.wait_for_function("() => Array.from(document.images).every((img) => img.complete)")
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#trigger-form img").count() == 0
