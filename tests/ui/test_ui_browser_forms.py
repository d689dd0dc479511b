"""The trigger form in a real browser: a widget per parameter type, filled in as a person
would, posting typed values; the browser's checks and the server's, with nothing typed lost."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browsing import log_in, wait_for_run_state
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow


def runs_of(page: Page, flow: str) -> list[dict[str, Any]]:
    answer = page.request.get(f"/api/v1/flows/{flow}/runs?limit=100")
    assert answer.ok, answer.text()
    return list(answer.json()["runs"])


def fill_rich_form(page: Page) -> None:
    page.goto("/flows/tuned")
    page.select_option("#param-mode", "full")
    page.select_option("#param-color", label="BLUE")  # an Enum is shown by its name
    page.uncheck("#param-dry_run")
    page.fill("#param-start", "2026-03-04")
    page.fill("#param-at", "2026-03-04T10:30")
    expect(page.locator("#help-at")).to_contain_text("time in UTC")
    # tags: the default's row, two more added, then the default's removed
    tags = page.locator("#param-tags")
    tags.locator("[data-add-row]").click()
    tags.locator("[data-add-row]").click()
    rows = tags.locator(".list-row input")
    expect(rows).to_have_count(3)
    rows.nth(1).fill("red")
    rows.nth(2).fill("green")
    tags.locator(".list-row").first.locator("[data-remove-row]").click()
    expect(rows).to_have_count(2)
    page.fill("#param-sizes-0", "7")
    # the nested model, two levels deep
    page.select_option("#param-optimizer-name", "sgd")
    page.fill("#param-optimizer-lr", "0.5")
    page.fill("#param-optimizer-warmup-steps", "3")
    page.uncheck("#param-optimizer-warmup-linear")
    page.fill("#param-extra", '{"k": 2}')


def test_the_form_posts_typed_values(page: Page) -> None:
    log_in(page, "olga")
    fill_rich_form(page)
    page.click("#trigger-form button[type=submit]")
    page.wait_for_url(re.compile(r"/runs/\w+$"))
    run_id = page.url.rsplit("/", 1)[1]
    answer = page.request.get(f"/api/v1/runs/{run_id}")
    assert answer.ok, answer.text()
    assert answer.json()["params"] == {
        "mode": "full", "color": "blue", "dry_run": False, "epochs": 10,
        "start": "2026-03-04", "at": "2026-03-04T10:30:00Z", "tags": ["red", "green"],
        "sizes": [7],
        "optimizer": {"name": "sgd", "lr": 0.5, "warmup": {"steps": 3, "linear": False}},
        "code": "ABC", "limit": None, "extra": {"k": 2},
    }  # fmt: skip
    # and the flow ran with them
    wait_for_run_state(page, "SUCCEEDED")


def test_bad_values_are_caught_and_what_was_typed_is_kept(page: Page) -> None:
    log_in(page, "olga")
    before = len(runs_of(page, "tuned"))
    fill_rich_form(page)
    # the browser holds back a value over the bound Field(le=100) gives
    page.fill("#param-epochs", "500")
    page.click("#trigger-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/flows/tuned$"))
    assert page.eval_on_selector("#param-epochs", "el => el.validity.rangeOverflow")
    # what only the server can tell: a rate of 0 (Field(gt=0)), a dict's value of a wrong type
    page.fill("#param-epochs", "20")
    page.fill("#param-optimizer-lr", "0")
    page.fill("#param-extra", '{"k": "two"}')
    with page.expect_response(re.compile(r"/flows/tuned/trigger$")) as posted:
        page.click("#trigger-form button[type=submit]")
    assert posted.value.status == 422
    expect(page.locator("#error-optimizer-lr")).to_contain_text("greater than 0")
    expect(page.locator("#error-extra")).to_contain_text("k: Input should be a valid integer")
    expect(page.locator("#form-error")).to_contain_text("invalid parameters for flow 'tuned'")
    lr = page.locator("#param-optimizer-lr")
    expect(lr).to_have_attribute("aria-describedby", "help-optimizer-lr error-optimizer-lr")
    # nothing typed is lost: the bad values, and the rest, ready to correct
    expect(lr).to_have_value("0")
    expect(page.locator("#param-extra")).to_have_value('{"k": "two"}')
    expect(page.locator("#param-epochs")).to_have_value("20")
    expect(page.locator("#param-color")).to_have_value("blue")
    expect(page.locator("#param-dry_run")).not_to_be_checked()
    expect(page.locator("#param-at")).to_have_value("2026-03-04T10:30")
    expect(page.locator("#param-tags .list-row input")).to_have_count(2)
    expect(page.locator("#param-tags-1")).to_have_value("green")
    expect(page.locator("#param-optimizer-warmup-steps")).to_have_value("3")
    assert len(runs_of(page, "tuned")) == before
    # corrected, it goes through
    lr.fill("0.1")
    page.fill("#param-extra", '{"k": 3}')
    page.click("#trigger-form button[type=submit]")
    page.wait_for_url(re.compile(r"/runs/\w+$"))
    params = runs_of(page, "tuned")[0]["params"]
    assert params["optimizer"]["lr"] == 0.1
    assert params["extra"] == {"k": 3}
    assert params["epochs"] == 20
