"""Each call says the executor it ran with, in `runs show --json` and in the API's task objects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

FLOWS = Path(__file__).with_name("executor_flows.py")


def pauta(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAUTA_HOME": str(home), "COLUMNS": "200"}
    env.pop("PAUTA_DATABASE_URL", None)
    env.pop("PAUTA_EXECUTOR", None)
    return subprocess.run(
        [sys.executable, "-m", "pauta", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_runs_show_json_and_the_api_name_each_calls_executor(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ran = pauta(home, "run", f"{FLOWS}:spread", "-p", "x=3")
    assert ran.returncode == 0, ran.stderr
    [run] = json.loads(pauta(home, "runs", "list", "--json").stdout)
    view = json.loads(pauta(home, "runs", "show", run["id"], "--json").stdout)
    by_name = {t["name"].rsplit(".", 1)[-1]: t for t in view["tasks"]}
    assert by_name["on_default"]["executor"] == "local"
    assert by_name["on_inline"]["executor"] == "inline"
    assert by_name["on_inline"]["attempt_history"][0]["executor"] == "inline"

    from pauta.api import create_app
    from pauta.app import users
    from pauta.core.settings import Settings
    from pauta.store.repository import Store

    settings = Settings.from_env(home)
    store = Store.from_settings(settings)
    try:
        users.create_user(store, "vera", "a-long-password", "viewer")
        token = users.create_token(store, "vera")
        app = create_app(settings, store=store, flows_dir=tmp_path)
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(app) as client:
            tasks = client.get(f"/api/v1/runs/{run['id']}/tasks", headers=headers).json()
            shown = client.get(f"/api/v1/runs/{run['id']}", headers=headers).json()
            key = by_name["on_inline"]["key"]
            one = client.get(f"/api/v1/runs/{run['id']}/tasks/{key}", headers=headers).json()
    finally:
        store.close()
    assert {t["executor"] for t in tasks} == {"local", "inline"}
    assert {t["key"]: t["executor"] for t in shown["tasks"]} == {
        t["key"]: t["executor"] for t in view["tasks"]
    }
    assert one["executor"] == "inline"
    assert [a["executor"] for a in one["attempt_history"]] == ["inline"]
