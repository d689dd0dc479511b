"""Child flows: a flow called in a flow runs as its own run; what it is given stays private."""

from __future__ import annotations

import re
import secrets as tokens
from collections.abc import Iterator
from pathlib import Path

import engine_flows as ef
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from pauta.app import credentials as security
from pauta.app import users
from pauta.core.secrets import clear_registry
from pauta.engine.runner import Runner
from pauta.ui.site import create_app

pytestmark = pytest.mark.slow

TOKEN = "sk-child-" + tokens.token_hex(12)
PASSWORD = "a-long-password"


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv(ef.CHILD_TOKEN, TOKEN)
    yield TOKEN
    clear_registry()


def test_a_secret_given_to_a_child_flow_is_masked_where_it_is_stored_and_shown(
    runner: Runner, token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = runner.run(ef.passes_a_secret, {})
    assert run.state == "SUCCEEDED", run.error
    assert run.result() is True  # the child saw the real value
    store = runner.engine().store
    [child] = store.list_flow_runs(parent_run_id=run.id, limit=0)
    assert child.params == {"token": "***"}
    assert store.get_flow_run(child.id).params == {"token": "***"}
    # nowhere under the home: database (and its WAL), results, logs
    home = runner.settings.home
    for path in home.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path

    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=64))
    users.create_user(store, "ada", PASSWORD, "admin")
    api_token = users.create_token(store, "ada")
    flows = tmp_path / "flows"
    flows.mkdir()
    app = create_app(runner.settings, store=store, flows_dir=flows)
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {api_token}"}
        shown = client.get(f"/api/v1/runs/{child.id}", headers=headers)
        assert shown.status_code == 200, shown.text
        assert shown.json()["params"] == {"token": "***"}
        listed = client.get("/api/v1/runs", headers=headers)
        assert listed.status_code == 200
        assert child.id in listed.text
        assert token not in listed.text
        form = client.get("/login")
        login_token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        assert login_token
        data = {"username": "ada", "password": PASSWORD, "login_token": login_token.group(1)}
        assert client.post("/login", data=data).status_code == 200
        for page in (f"/runs/{child.id}", f"/runs/{child.id}/live", "/runs"):
            answer = client.get(page)
            assert answer.status_code == 200, (page, answer.text)
            assert token not in answer.text, page
        assert "***" in client.get(f"/runs/{child.id}").text
