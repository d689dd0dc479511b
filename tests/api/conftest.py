"""Fixtures of the API tests: an app on a real store (SQLite and PostgreSQL), a flows folder,
one user and token per role, and helpers that record runs and task calls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import BROKEN, GREET, PASSWORD, bearer
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from pauta.api import create_app
from pauta.app import credentials as security
from pauta.app import users
from pauta.core.settings import Settings
from pauta.store.repository import Store


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters: the tests check behaviour, not the hash's cost."""
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=64))


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "greet.py").write_text(GREET)
    (folder / "broken.py").write_text(BROKEN)
    return folder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    found = Settings.from_env(tmp_path / "home")
    found.ensure_home()
    return found


@pytest.fixture
def client(store: Store, settings: Settings, flows_dir: Path) -> Iterator[TestClient]:
    app = create_app(settings, store=store, flows_dir=flows_dir)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def tokens(store: Store) -> dict[str, str]:
    """An API token for a user of each role, by role."""
    found = {}
    for role in users.ROLES:
        users.create_user(store, role, PASSWORD, role)
        found[role] = users.create_token(store, role)
    return found


@pytest.fixture
def as_admin(tokens: dict[str, str]) -> dict[str, str]:
    return bearer(tokens["admin"])
