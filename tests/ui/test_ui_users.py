"""The Users page: admins only, names escaped, every form under CSRF and the admin role, a
token's secret shown once.

Over HTTP with a test client, and in Chromium: an admin creates a user and a token, the token
works against the API, is revoked on the page, and is refused from then on.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from browsing import log_in
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from ui_server import Server

from pauta.app import credentials as security
from pauta.app import users
from pauta.core.settings import Settings
from pauta.store.repository import Store
from pauta.ui.site import create_app

PASSWORD = "a-long-password"
MARK = "window.__pwned=1"
EVIL = f"<img src=x onerror={MARK}>/x"

FORMS = {
    "/users/create": {"username": "mallory", "password": PASSWORD, "role": "admin"},
    "/users/role": {"username": "vera", "role": "admin"},
    "/users/delete": {"username": "ada"},
    "/tokens/create": {"username": "ada", "expires": ""},
    "/tokens/revoke": {"token_id": "x"},
}


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=64))


@pytest.fixture
def client(home: Path, tmp_path: Path) -> Iterator[TestClient]:
    store = Store(f"sqlite:///{tmp_path / 'pauta.db'}")
    for name, role in (("ada", "admin"), ("olga", "operator"), ("vera", "viewer")):
        users.create_user(store, name, PASSWORD, role)
    flows = tmp_path / "flows"
    flows.mkdir()
    app = create_app(Settings.from_env(), store=store, flows_dir=flows)
    with TestClient(app) as opened:
        opened.app_store = store  # type: ignore[attr-defined]
        yield opened
    store.close()


def session_for(client: TestClient, username: str) -> str:
    client.cookies.clear()
    form = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token
    data = {"username": username, "password": PASSWORD, "login_token": token.group(1)}
    answer = client.post("/login", data=data)
    assert answer.status_code == 200, answer.text
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', answer.text)
    assert csrf
    return csrf.group(1)


def _store(client: TestClient) -> Store:
    return client.app_store  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("who", ["olga", "vera"])
def test_other_roles_get_403_and_no_link(client: TestClient, who: str) -> None:
    csrf = session_for(client, who)
    assert 'href="/users"' not in client.get("/").text
    assert client.get("/users").status_code == 403
    for path, form in FORMS.items():
        answer = client.post(path, data={**form, "csrf_token": csrf}, follow_redirects=False)
        assert answer.status_code == 403, path
    names = {u["username"]: u["role"] for u in users.list_users(_store(client))}
    assert names == {"ada": "admin", "olga": "operator", "vera": "viewer"}
    assert users.list_tokens(_store(client)) == []


def test_forms_without_the_csrf_token_are_refused(client: TestClient) -> None:
    session_for(client, "ada")
    for path, form in FORMS.items():
        assert client.post(path, data=form, follow_redirects=False).status_code == 403, path
    assert "mallory" not in {u["username"] for u in users.list_users(_store(client))}


def test_markup_in_a_user_name_is_text(client: TestClient) -> None:
    csrf = session_for(client, "ada")
    form = {"username": EVIL, "password": PASSWORD, "role": "viewer", "csrf_token": csrf}
    created = client.post("/users/create", data=form)
    assert created.status_code == 200
    html = created.text
    assert EVIL not in html
    assert "&lt;img src=x onerror=window.__pwned=1&gt;/x" in html
    # a name with a slash and markup still posts: names travel in form fields
    issued = client.post(
        "/tokens/create", data={"username": EVIL, "expires": "30d", "csrf_token": csrf}
    )
    assert issued.status_code == 200
    assert EVIL not in issued.text
    [token] = users.list_tokens(_store(client), EVIL)
    assert token["expires_at"] is not None
    changed = client.post(
        "/users/role", data={"username": EVIL, "role": "operator", "csrf_token": csrf}
    )
    assert changed.status_code == 200
    deleted = client.post("/users/delete", data={"username": EVIL, "csrf_token": csrf})
    assert deleted.status_code == 200
    assert EVIL not in {u["username"] for u in users.list_users(_store(client))}


def test_the_secret_is_shown_once(client: TestClient) -> None:
    csrf = session_for(client, "ada")
    issued = client.post(
        "/tokens/create", data={"username": "olga", "expires": "", "csrf_token": csrf}
    )
    assert issued.status_code == 200
    assert issued.headers["cache-control"] == "no-store"
    secret = re.search(r'id="new-token-value" class="mono" value="([^"]+)"', issued.text)
    assert secret
    assert "shown only this once" in issued.text
    later = client.get("/users").text
    assert secret.group(1) not in later
    [token] = users.list_tokens(_store(client))
    assert token["id"] in later
    assert token["expires_at"] is None
    assert users.user_for_token(_store(client), secret.group(1)) is not None


def test_bad_input_is_explained(client: TestClient) -> None:
    csrf = session_for(client, "ada")
    short = client.post(
        "/users/create",
        data={"username": "bo", "password": "short", "role": "viewer", "csrf_token": csrf},
    )
    assert short.status_code == 422
    assert "at least 8 characters" in short.text
    assert 'value="bo"' in short.text  # the name is kept, the password is not
    unknown = client.post(
        "/tokens/create", data={"username": "nobody", "expires": "", "csrf_token": csrf}
    )
    assert unknown.status_code == 422
    assert "no user &#39;nobody&#39;" in unknown.text
    bad_role = client.post(
        "/users/role", data={"username": "vera", "role": "god", "csrf_token": csrf}
    )
    assert "unknown role" in bad_role.text
    last = client.post(
        "/users/role", data={"username": "ada", "role": "viewer", "csrf_token": csrf}
    )
    assert "admin" in last.text
    assert {u["username"]: u["role"] for u in users.list_users(_store(client))}["ada"] == "admin"


def _api_me(server: Server, token: str) -> int:
    request = urllib.request.Request(
        f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.load(answer)["username"] == "tess"
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
def test_an_admin_creates_a_user_and_a_token_and_revokes_it(page: Page, server: Server) -> None:
    log_in(page, "ada")
    page.click("#nav-users")
    expect(page.locator("#users tr[data-user=olga]")).to_contain_text("olga")
    page.fill("#new-username", "tess")
    page.fill("#new-password", "tess-password-1")
    page.select_option("#new-role", "operator")
    page.click("#add-user button[type=submit]")
    expect(page.locator(".banner.info")).to_contain_text("user tess created (operator)")
    row = page.locator("#users tr[data-user=tess]")
    expect(row.locator("select[name=role]")).to_have_value("operator")

    page.select_option("#token-user", "tess")
    page.select_option("#token-expires", "30d")
    page.click("#add-token button[type=submit]")
    secret = page.locator("#new-token-value").input_value()
    expect(page.locator("#new-token")).to_contain_text("shown only this once")
    assert _api_me(server, secret) == 200
    token_id = page.locator("#new-token-id").inner_text()
    token_row = page.locator(f"#tokens tr[data-token='{token_id}']")
    expect(token_row).to_contain_text("tess")
    expect(token_row).not_to_contain_text("never")  # it expires

    page.goto("/users")
    expect(page.locator("#new-token")).to_have_count(0)  # shown once
    assert secret not in page.content()
    page.locator(f"#tokens tr[data-token='{token_id}'] button:has-text('Revoke')").click()
    expect(page.locator(".banner.info")).to_contain_text(f"token {token_id} revoked")
    expect(page.locator(f"#tokens tr[data-token='{token_id}']")).to_have_count(0)
    assert _api_me(server, secret) == 401

    # delete behind a confirming step
    row = page.locator("#users tr[data-user=tess]")
    row.locator(".delete-user summary").click()
    row.locator(".delete-user button[type=submit]").click()
    expect(page.locator(".banner.info")).to_contain_text("user tess deleted")
    expect(page.locator("#users tr[data-user=tess]")).to_have_count(0)


@pytest.mark.slow
def test_a_user_name_with_markup_runs_no_script_in_an_admins_page(page: Page) -> None:
    log_in(page, "ada")
    page.goto("/users")
    page.fill("#new-username", EVIL)
    page.fill("#new-password", PASSWORD)
    page.click("#add-user button[type=submit]")
    row = page.locator("#users tr", has_text="onerror")
    expect(row.locator(".username")).to_have_text(EVIL)
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__pwned") is None
    row.locator(".delete-user summary").click()
    row.locator(".delete-user button[type=submit]").click()
    expect(page.locator("#users tr", has_text="onerror")).to_have_count(0)
    assert page.evaluate("() => window.__pwned") is None
