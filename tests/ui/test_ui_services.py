"""The Services pages: over HTTP (roles, CSRF, escaping) and in Chromium against a real
`pauta server` whose supervisor runs a deployed service."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from browsing import csrf_of, log_in
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from pauta.app.users import create_user
from pauta.core.service_states import RevisionState
from pauta.core.settings import Settings
from pauta.services.lease import LEASE_TTL
from pauta.store.repository import Store
from pauta.store.services import ServicesStore
from pauta.ui.site import create_app

PASSWORD = "a-long-password"
PAYLOAD = "<img src=x onerror=window.__pwned=1>"
SPEC = {
    "kind": "app",
    "app": "ui_service:create_app",
    "command": None,
    "config": {"model": PAYLOAD},
    "replicas": 1,
    "health": "/health",
    "ready_timeout": 10.0,
    "resources": None,
    "path": [],
    "cwd": None,
}


@pytest.fixture
def ui(home: Path, tmp_path: Path) -> Iterator[tuple[TestClient, ServicesStore]]:
    store = Store(f"sqlite:///{tmp_path / 'pauta.db'}")
    services = ServicesStore(store)
    host = socket.gethostname()
    services.take_lease(f"{host}:{os.getpid()}", host, os.getpid(), "127.0.0.1", ttl=LEASE_TTL)
    services.create_revision("web", SPEC, port=8650, created_by="run abc deploy-0")
    services.transition("web", 1, RevisionState.PENDING, RevisionState.STARTING)
    services.promote("web", 1, None)
    failed = {**SPEC, "config": {"model": "broken"}}
    services.create_revision("web", failed, port=None, created_by="run def deploy-0")
    services.transition("web", 2, RevisionState.PENDING, RevisionState.STARTING)
    error = f"web@2 not ready within 3 s: rolled back\n--- log ---\n{PAYLOAD}"
    services.transition("web", 2, RevisionState.STARTING, RevisionState.FAILED, error=error)
    create_user(store, "olga", PASSWORD, "operator")
    create_user(store, "vera", PASSWORD, "viewer")
    with TestClient(create_app(Settings.from_env(), store=store)) as client:
        yield client, services
    store.close()


def session(client: TestClient, username: str) -> str:
    """Log in as ``username`` (instead of whoever was); the session's CSRF token."""
    client.cookies.clear()
    form = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token
    data = {"username": username, "password": PASSWORD, "login_token": token.group(1)}
    answer = client.post("/login", data=data)
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', answer.text)
    assert found, answer.text
    return found.group(1)


def test_the_pages_show_revisions_escaped_and_forms_only_to_operators(
    ui: tuple[TestClient, ServicesStore],
) -> None:
    client, _ = ui
    session(client, "vera")
    listing = client.get("/services")
    assert listing.status_code == 200
    assert 'data-service="web"' in listing.text
    assert "web@1" in listing.text
    page = client.get("/services/web")
    assert page.status_code == 200
    assert PAYLOAD not in page.text  # neither in the config nor in the error's log tail
    assert "&lt;img src=x onerror=window.__pwned=1&gt;" in page.text
    assert "rolled back" in page.text
    assert 'id="rollback-form"' not in page.text  # a viewer gets no forms
    assert client.get("/services/nope").status_code == 404
    session(client, "olga")
    assert 'id="rollback-form"' in client.get("/services/web").text


def test_a_ray_service_shows_its_executor_and_serves_address(
    ui: tuple[TestClient, ServicesStore],
) -> None:
    client, services = ui
    spec = {**SPEC, "executor": "ray", "ray_address": "head:6379"}
    services.create_revision("onray", spec, port=8651, created_by="run ghi deploy-0")
    services.transition("onray", 1, RevisionState.PENDING, RevisionState.STARTING)
    services.promote("onray", 1, None)
    status = {
        "executor": "ray",
        "address": "http://10.0.0.5:8000/onray",
        "replicas": [{"revision": 1, "index": 0, "state": "READY", "node": "10.0.0.7"}],
        "serve": {"status": "RUNNING", "message": ""},
    }
    services.write_statuses("me", {"onray": status})
    session(client, "vera")
    row = client.get("/services").text.split('data-service="onray"')[1].split("</tr>")[0]
    assert '<td class="executor">ray</td>' in row
    assert "http://10.0.0.5:8000/onray" in row
    page = client.get("/services/onray").text
    assert "on Ray Serve" in page
    assert "RUNNING" in page


def test_the_forms_need_the_csrf_token_and_the_operator_role(
    ui: tuple[TestClient, ServicesStore],
) -> None:
    client, services = ui
    csrf = session(client, "vera")
    refused = client.post("/services/web/stop", data={"csrf_token": csrf})
    assert refused.status_code == 403
    assert "needs the operator role" in refused.text
    csrf = session(client, "olga")
    assert client.post("/services/web/stop", data={}).status_code == 403  # no token
    assert services.service("web").stopped_at is None
    done = client.post("/services/web/stop", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert services.service("web").stopped_at is not None
    # what the supervisor then records; a rollback to 1 starts it again
    services.transition("web", 1, RevisionState.SERVING, RevisionState.STOPPED)
    back = client.post(
        "/services/web/rollback", data={"csrf_token": csrf, "to": "1"}, follow_redirects=False
    )
    assert back.status_code == 303
    assert services.revision("web", 3).rollback_of == 1


@pytest.mark.slow
def test_a_deployed_service_in_the_browser(page: Page) -> None:
    log_in(page, "ada", "/services")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    headers = {"X-CSRF-Token": csrf_of(page)}
    body = {"app": "ui_service:create_app", "config": {"model": PAYLOAD}, "port": port}
    created = page.request.post("/api/v1/services/web/revisions", data=body, headers=headers)
    assert created.status == 201, created.text()
    page.goto("/services")
    row = page.locator("#services tr[data-service=web]")
    expect(row).to_contain_text("serving", timeout=60_000)  # the page refreshes itself
    expect(row).to_contain_text(f"http://127.0.0.1:{port}")
    row.locator("a").first.click()
    expect(page.locator("#service-state")).to_have_text("serving")
    expect(page.locator("#replicas tr[data-state=READY]")).to_have_count(1)
    expect(page.locator("#revisions tr[data-revision='1'] pre.config")).to_contain_text(PAYLOAD)
    assert page.evaluate("() => window.__pwned") is None
    # a second revision of the same code, then an operator rolls back to the first
    again = {"config": {"model": "second"}}
    second = page.request.post("/api/v1/services/web/revisions", data=again, headers=headers)
    assert second.status == 201, second.text()
    expect(page.locator("#revisions tr[data-revision='2']")).to_have_attribute(
        "data-state", "SERVING", timeout=60_000
    )
    page.click("text=Log out")
    log_in(page, "olga", "/services/web")
    page.select_option("#rollback-to", "1")
    page.click("#rollback-form button")
    expect(page.locator(".banner.info")).to_contain_text("web@3 rolls back to web@1")
    expect(page.locator("#revisions tr[data-revision='3']")).to_have_attribute(
        "data-state", "SERVING", timeout=60_000
    )
    answer = page.request.get(f"http://127.0.0.1:{port}/")
    assert answer.json() == {"model": PAYLOAD}
    page.click("#stop-form button")
    expect(page.locator("#service-state")).to_have_text("stopped", timeout=60_000)
