"""What the page tests over HTTP share: an app on a store with a flows folder and two users,
logging in through the form, and the check that a page carries nothing the CSP refuses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from pauta.api.headers import SECURITY_HEADERS
from pauta.app.users import create_user
from pauta.core.settings import Settings
from pauta.store.repository import Store
from pauta.ui.site import create_app

PASSWORD = "a-long-password"
FLOWS = """
from pauta import flow, task

@task
def double(x: int) -> int:
    return 2 * x

@flow
def simple(n: int = 1) -> int:
    return double(n).result()

@flow
def other() -> None:
    pass
"""


@contextmanager
def page_client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    """The web UI on ``store`` (flows ``simple`` and ``other``), with the operator olga and
    the viewer vera; ``PAUTA_HOME`` must point at a fresh folder (the ``home`` fixture)."""
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "flows.py").write_text(FLOWS)
    create_user(store, "olga", PASSWORD, "operator")
    create_user(store, "vera", PASSWORD, "viewer")
    app = create_app(Settings.from_env(), store=store, flows_dir=flows)
    with TestClient(app) as client:
        yield client


def log_in(client: TestClient, username: str) -> str:
    """Log in through the form and return the session's CSRF token (from the page)."""
    form = client.get("/login").text
    token = re.search(r'name="login_token" value="([^"]+)"', form)
    assert token, form
    data = {"username": username, "password": PASSWORD, "login_token": token.group(1)}
    answer = client.post("/login", data=data)
    assert answer.status_code == 200, answer.text
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', answer.text)
    assert found
    return found.group(1)


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\s(on[a-z]+|hx-on[:\w-]*)=", re.I)


def assert_strict(answer: Any) -> None:
    """Served with the security headers, and nothing in it the policy would refuse."""
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get(name) == value, (answer.url, name)
    assert "unsafe-inline" not in answer.headers["content-security-policy"]
    if answer.headers["content-type"].startswith("text/html"):
        text = answer.text
        assert not INLINE_SCRIPT.search(text), (answer.url, INLINE_SCRIPT.search(text))
        assert not INLINE_HANDLER.search(text), (answer.url, INLINE_HANDLER.search(text))
        assert "style=" not in text, answer.url
        assert "<style" not in text, answer.url
