"""The Connections page: admins only, everything masked and escaped, forms under CSRF.

Over HTTP with a test client, and once in Chromium: a connection whose extras and URL hold
markup must show it as text and run no script in an admin's page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browsing import csrf_of, log_in
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from pauta.app.connections import add_connection
from pauta.app.users import create_user
from pauta.core.settings import Settings
from pauta.store.repository import Store
from pauta.ui.site import create_app

PASSWORD = "a-long-password"
DB_PASSWORD = "ui-pw-2b8d4c61"
SECRET = "ui-secret-7e03f9"
MARK = "window.__pwned=1"
SCRIPT = f"<script>{MARK}</script>"
IMG = f"<img src=x onerror={MARK}>"


@pytest.fixture
def client(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.delenv("PAUTA_SECRET_KEY", raising=False)
    store = Store(f"sqlite:///{tmp_path / 'pauta.db'}")
    for name, role in (("ada", "admin"), ("olga", "operator"), ("vera", "viewer")):
        create_user(store, name, PASSWORD, role)
    flows = tmp_path / "flows"
    flows.mkdir()
    app = create_app(Settings.from_env(), store=store, flows_dir=flows)
    with TestClient(app) as opened:
        opened.app_store = store  # type: ignore[attr-defined]
        yield opened
    store.close()


def session_for(client: TestClient, username: str) -> str:
    client.cookies.clear()  # whoever was logged in before
    form = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token
    data = {"username": username, "password": PASSWORD, "login_token": token.group(1)}
    answer = client.post("/login", data=data)
    assert answer.status_code == 200, answer.text
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', answer.text)
    assert csrf
    return csrf.group(1)


def add_malicious(client: TestClient, home: Path) -> None:
    store: Store = client.app_store  # type: ignore[attr-defined]
    add_connection(
        store,
        home,
        "evil",
        f"https://bot:{DB_PASSWORD}@api.example/{SCRIPT}?q={IMG}",
        extras={"note": SCRIPT, "img": IMG},
        secret_extras={"token": SECRET},
    )


def test_the_page_lists_connections_masked_and_escaped(client: TestClient, home: Path) -> None:
    add_malicious(client, home)
    session_for(client, "ada")
    answer = client.get("/connections")
    assert answer.status_code == 200
    html = answer.text
    assert 'href="/connections" class="active">Connections</a>' in html
    assert "evil" in html
    assert "https://bot:***@api.example/" in html
    assert DB_PASSWORD not in html
    assert SECRET not in html
    assert "token=***" in html
    # every piece of markup came out as text
    assert SCRIPT not in html
    assert IMG not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=window.__pwned=1&gt;" in html


@pytest.mark.parametrize("username", ["olga", "vera"])
def test_operators_and_viewers_get_403_and_no_menu_link(
    client: TestClient, home: Path, username: str
) -> None:
    add_malicious(client, home)
    csrf = session_for(client, username)
    assert 'href="/connections"' not in client.get("/").text
    answer = client.get("/connections")
    assert answer.status_code == 403
    assert "needs the admin role" in answer.text
    assert "evil" not in answer.text
    for path in ("/connections", "/connections/evil/delete", "/connections/evil/test"):
        posted = client.post(path, data={"csrf_token": csrf, "name": "x", "url": "sqlite://"})
        assert posted.status_code == 403, path
    session_for(client, "ada")
    assert "evil" in client.get("/connections").text  # nothing was deleted


def test_adding_needs_the_csrf_token(client: TestClient, home: Path) -> None:
    session_for(client, "ada")
    form = {"name": "wh", "url": "sqlite:///x.db"}
    for data in (form, {**form, "csrf_token": "made-up"}):
        answer = client.post("/connections", data=data)
        assert answer.status_code == 403
    assert 'data-connection="wh"' not in client.get("/connections").text


def test_add_with_a_password_test_and_delete(client: TestClient, home: Path) -> None:
    csrf = session_for(client, "ada")
    folder = home.parent / "data"
    folder.mkdir()
    added = client.post(
        "/connections",
        data={
            "csrf_token": csrf,
            "name": "wh",
            "url": "postgresql://etl@127.0.0.1:1/wh",
            "password": DB_PASSWORD,
            "extras": "schema=analytics\n\n",
            "secret_extras": f"aws_secret={SECRET}",
        },
    )
    assert added.status_code == 200  # the redirect followed back to the page
    assert "connection wh added: postgresql://etl:***@127.0.0.1:1/wh" in added.text
    assert "aws_secret=***" in added.text
    tested = client.post("/connections/wh/test", data={"csrf_token": csrf})
    assert "wh: failed: could not reach postgresql://etl:***@127.0.0.1:1/wh" in tested.text
    client.post(
        "/connections", data={"csrf_token": csrf, "name": "files", "url": f"file://{folder}"}
    )
    ok = client.post("/connections/files/test", data={"csrf_token": csrf})
    assert "files: ok: reached" in ok.text
    deleted = client.post("/connections/wh/delete", data={"csrf_token": csrf})
    assert "connection wh deleted" in deleted.text
    assert 'data-connection="wh"' not in deleted.text
    for answer in (added, tested, ok, deleted):
        assert DB_PASSWORD not in answer.text
        assert SECRET not in answer.text
    for path in home.rglob("*"):
        if path.is_file():
            assert DB_PASSWORD.encode() not in path.read_bytes(), path


def test_a_refused_form_shows_the_error_escaped_and_never_the_url(
    client: TestClient, home: Path
) -> None:
    csrf = session_for(client, "ada")
    answer = client.post(
        "/connections",
        data={"csrf_token": csrf, "name": SCRIPT, "url": f"postgresql://u:{DB_PASSWORD}@h/db"},
    )
    assert answer.status_code == 422
    assert "connection name" in answer.text
    assert SCRIPT not in answer.text
    assert "&lt;script&gt;" in answer.text
    assert DB_PASSWORD not in answer.text
    bad_url = client.post(
        "/connections", data={"csrf_token": csrf, "name": "wh", "url": f"nope:{DB_PASSWORD}"}
    )
    assert bad_url.status_code == 422
    assert DB_PASSWORD not in bad_url.text
    assert 'value="wh"' in bad_url.text  # the name is kept, the URL is not


@pytest.mark.slow
def test_markup_in_a_connection_runs_no_script_in_the_browser(page: Page) -> None:
    log_in(page, "ada")
    answer = page.request.post(
        "/api/v1/connections",
        data={
            "name": "evil",
            "url": f"https://bot:{DB_PASSWORD}@api.example/{SCRIPT}",
            "extras": {"note": SCRIPT, "img": IMG},
        },
        headers={"X-CSRF-Token": csrf_of(page)},
    )
    assert answer.status in (201, 409), answer.text()
    page.goto("/connections")
    page.wait_for_load_state("load")
    page.wait_for_function("() => Array.from(document.images).every((img) => img.complete)")
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.__pwned") is None
    row = page.locator('tr[data-connection="evil"]')
    expect(row).to_contain_text(SCRIPT)
    expect(row).to_contain_text(IMG)
    assert DB_PASSWORD not in page.content()
    page.context.clear_cookies()
    log_in(page, "olga")
    expect(page.locator(".topbar nav")).not_to_contain_text("Connections")
