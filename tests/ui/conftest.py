"""Fixtures of the browser tests: one `pauta server` and one headless Chromium per session,
and a fresh browser context (cookies, timezone) per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ui_server import CHROMIUM_ARGS, Server, require_chromium, running_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("ui-server")) as started:
        yield started


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    # a timezone west of UTC, to see times rendered in the browser's zone
    context = browser.new_context(
        base_url=server.url,
        timezone_id="America/Argentina/Buenos_Aires",
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(20_000)
    opened = context.new_page()
    yield opened
    context.close()
