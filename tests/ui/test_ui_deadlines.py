"""A flow's deadline record where users look: the flow page, the API and `pauta flows show`
("missed 3 of the last 20")."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pauta.app import users
from pauta.core.settings import Settings
from pauta.scheduling.discovery import discover
from pauta.scheduling.scheduler import new_run
from pauta.store.deadlines import claim_deadline_miss
from pauta.store.repository import Store
from pauta.ui.site import create_app

pytestmark = pytest.mark.slow

PASSWORD = "a long password here"
T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
FLOWS = """
from datetime import timedelta
from pauta import Deadline, flow


@flow(deadline=timedelta(hours=2))
def etl() -> None:
    pass


@flow
def plain() -> None:
    pass
"""


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, Path, Store]]:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "etl.py").write_text(FLOWS)
    home = tmp_path / "home"
    settings = Settings.from_env(home)
    settings.ensure_home()
    store = Store(settings.database_url)
    info = discover(folder).flows["etl"]
    for day in range(22):
        at = T0 + timedelta(days=day)
        run = store.create_flow_run(
            new_run(info, logical_date=at, interval=(at, at), now=at, trigger="schedule", key=None)
        )
        if day in (0, 19, 20, 21):  # the first is older than the last 20
            claim_deadline_miss(store, run, at + timedelta(hours=3), "scheduler")
    yield folder, home, store
    store.close()


def test_the_flow_page_and_the_api_count_the_recent_misses(
    setup: tuple[Path, Path, Store],
) -> None:
    folder, home, store = setup
    users.create_user(store, "vera", PASSWORD, "viewer")
    app = create_app(Settings.from_env(home), store=store, flows_dir=folder)
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {users.create_token(store, 'vera')}"}
        etl = client.get("/api/v1/flows/etl", headers=headers).json()
        assert etl["deadline"] == {"within": 7200.0, "after": "logical_date", "cancel": False}
        assert etl["deadline_misses"]["summary"] == "missed 3 of the last 20"
        assert (etl["deadline_misses"]["missed"], etl["deadline_misses"]["runs"]) == (3, 20)
        assert client.get("/api/v1/flows/plain", headers=headers).json()["deadline_misses"] is None
        form = client.get("/login")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        assert token
        data = {"username": "vera", "password": PASSWORD, "login_token": token.group(1)}
        assert client.post("/login", data=data).status_code == 200
        page = client.get("/flows/etl").text
        panel = re.search(r'<div class="panel" id="deadline">.*?</div>', page, flags=re.S)
        assert panel, page
        assert "within 2:00:00 of the logical date" in panel.group(0)
        assert "missed 3 of the last 20" in panel.group(0)
        assert 'id="deadline"' not in client.get("/flows/plain").text


def test_flows_show_counts_the_recent_misses(setup: tuple[Path, Path, Store]) -> None:
    folder, home, _ = setup
    env = {**os.environ, "PAUTA_HOME": str(home), "PAUTA_FLOWS": str(folder)}
    env.pop("PAUTA_DATABASE_URL", None)
    shown = subprocess.run(
        [sys.executable, "-m", "pauta", "flows", "show", "etl"],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        cwd=home,
    )
    assert shown.returncode == 0, shown.stderr
    assert "deadline: within 2:00:00 of the logical date · missed 3 of the last 20" in (
        shown.stdout
    )
