"""Call labels in what people read: the run's summary, `runs show` and its JSON, the run page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

LABEL_FLOWS = Path(__file__).resolve().parents[1] / "engine" / "label_flows.py"


def pauta(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAUTA_HOME": str(home), "COLUMNS": "200"}
    env.pop("PAUTA_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "pauta", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_labels_replace_keys_in_the_cli_and_sit_beside_them_in_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    summary = pauta(home, "run", f"{LABEL_FLOWS}:labelled", "-p", "n=2")
    assert summary.returncode == 0, summary.stderr
    printed = summary.stdout + summary.stderr  # the live table and summary go to stderr
    assert "train[forest]" in printed
    assert "train-0" not in printed  # the label is shown instead of the key
    assert "load-0" in printed  # a call without a label shows its key

    runs = json.loads(pauta(home, "runs", "list", "--json").stdout)
    shown = pauta(home, "runs", "show", runs[0]["id"])
    assert "item 001" in shown.stdout
    assert "square-0[1]" not in shown.stdout
    view = json.loads(pauta(home, "runs", "show", runs[0]["id"], "--json").stdout)
    tasks = {t["key"]: t for t in view["tasks"]}
    assert tasks["train-1"]["label"] == "train[logreg]"
    assert tasks["load-0"]["label"] is None


def test_the_run_page_shows_labels_with_the_key_on_hover(tmp_path: Path, home: Path) -> None:
    from pauta.app.users import create_user
    from pauta.core.settings import Settings
    from pauta.store.repository import Store
    from pauta.ui.site import create_app

    assert pauta(home, "run", f"{LABEL_FLOWS}:labelled", "-p", "n=2").returncode == 0
    settings = Settings.from_env()
    store = Store.from_settings(settings)
    try:
        create_user(store, "vera", "a-long-password", "viewer")
        (run,) = store.list_flow_runs()
        app = create_app(settings, store=store, flows_dir=tmp_path)
        with TestClient(app) as client:
            login = client.get("/login")
            token = login.text.split('name="login_token" value="')[1].split('"')[0]
            client.post(
                "/login",
                data={"username": "vera", "password": "a-long-password", "login_token": token},
            )
            page = client.get(f"/runs/{run.id}")
        assert page.status_code == 200
        assert 'title="train-0">train[forest]</td>' in page.text
        assert '"label": "train[forest]"' in page.text or '"label":"train[forest]"' in page.text
        # the engine's mapped calls are one node of the graph, their labels in the table
        assert '"id": "square-0", "label": "square-0 \\u00d72\\n2 succeeded"' in page.text
        assert 'title="square-0[1]">item 001</td>' in page.text
    finally:
        store.close()
