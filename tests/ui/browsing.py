"""What the browser tests do again and again: log in, read the CSRF token, wait for a state."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect
from ui_server import PASSWORD

RUN_TIMEOUT = 60_000  # ms: the example trains two models on 2 shared cores
# Playwright's assertions wait 5 s by default: too little on a busy shared machine
expect.set_options(timeout=20_000)


def log_in(page: Page, username: str, next_path: str = "/") -> None:
    page.goto(f"/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".topbar .who")).to_contain_text(username)


def csrf_of(page: Page) -> str:
    """The session's CSRF token, as the pages give it to htmx."""
    headers = page.locator("body").get_attribute("hx-headers")
    return str(json.loads(headers or "{}")["X-CSRF-Token"])


def wait_for_run_state(page: Page, state: str, timeout: float = RUN_TIMEOUT) -> None:
    expect(page.locator("#run-state")).to_have_text(state, timeout=timeout)
