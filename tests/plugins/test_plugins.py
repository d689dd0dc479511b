"""Plugin packages: the example plugin's notifier and UI page, and a broken package beside it.

The packages under examples/ are laid out as installed distributions in a temporary site
folder (see installed.py), found by ``importlib.metadata`` like any installed package.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import plugin_flows as pf
import pytest
from fastapi.testclient import TestClient
from installed import Site, install

from pauta.app.users import create_user
from pauta.core.errors import PautaError
from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.engine.runner import Runner
from pauta.executors.registry import ExecutorRegistry
from pauta.plugins import discovery
from pauta.plugins.catalog import all_plugins
from pauta.store.repository import Store
from pauta.ui.site import create_app

PASSWORD = "a-long-password"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    installed = install(tmp_path / "site", "plugin", "plugin_broken")
    for path in reversed(installed.paths):
        monkeypatch.syspath_prepend(str(path))
    discovery.reload()
    yield installed
    discovery.reload()
    for module in [name for name in sys.modules if name.startswith("pauta_")]:
        if module.startswith(("pauta_example_plugin", "pauta_broken_plugin")):
            del sys.modules[module]


def test_importing_pauta_reads_no_entry_points(site: Site) -> None:
    code = (
        "import sys, pauta, pauta.notify; "
        "print(any(m.startswith(('pauta_example', 'pauta_broken', 'pauta.plugins')) "
        "for m in sys.modules))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [site.pythonpath, os.environ.get("PYTHONPATH")])
        ),
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_the_notifier_receives_a_runs_events_through_pauta_notify(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = tmp_path / "events.jsonl"
    monkeypatch.setenv("PAUTA_EXAMPLE_EVENTS", str(events))
    # the broken package is installed too: only the notifiers PAUTA_NOTIFY names are built
    monkeypatch.setenv("PAUTA_NOTIFY", "jsonl://")
    runner = Runner(Settings.from_env(tmp_path / "home"), capacity=Resources(cpus=2), workers=1)
    try:
        ok = runner.run(pf.doubled, {"n": 21})
        failed = runner.run(pf.failing, {})
    finally:
        runner.close()
    assert ok.state == "SUCCEEDED"
    assert ok.result() == 42
    [line] = events.read_text().splitlines()
    event = json.loads(line)
    assert (event["kind"], event["what"], event["flow"]) == ("flow", "failure", "failing")
    assert event["run_id"] == failed.id
    assert "the warehouse is on fire" in event["error"]["message"]


def test_a_broken_notifier_named_in_pauta_notify_says_why(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pauta.notify.config import notifiers_from_env

    monkeypatch.setenv("PAUTA_NOTIFY", "jsonl:///tmp/x.jsonl, broken://x")
    with pytest.raises(
        ValueError,
        match=r"entry 2: notifier 'broken' comes from "
        r"pauta-broken-plugin, which failed to load: ImportError",
    ):
        notifiers_from_env()
    monkeypatch.setenv("PAUTA_NOTIFY", "nosuch://x")
    with pytest.raises(ValueError, match="cannot tell what notifier"):
        notifiers_from_env()


def session_for(client: TestClient, username: str) -> None:
    client.cookies.clear()
    form = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token
    data = {"username": username, "password": PASSWORD, "login_token": token.group(1)}
    answer = client.post("/login", data=data)
    assert answer.status_code == 200, answer.text


@pytest.fixture
def client(site: Site, home: Path, tmp_path: Path) -> Iterator[TestClient]:
    store = Store(f"sqlite:///{tmp_path / 'pauta.db'}")
    create_user(store, "vera", PASSWORD, "viewer")
    flows = tmp_path / "flows"
    flows.mkdir()
    with TestClient(create_app(Settings.from_env(), store=store, flows_dir=flows)) as opened:
        yield opened
    store.close()


def test_the_plugin_page_is_served_to_a_logged_in_user_and_linked_in_the_menu(
    client: TestClient,
) -> None:
    anonymous = client.get("/plugins/example/", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/plugins/example/"
    session_for(client, "vera")
    markup = "<script>alert(1)</script>"
    answer = client.get("/plugins/example/", params={"note": markup})
    assert answer.status_code == 200
    assert "Hello, vera (viewer)." in answer.text
    assert markup not in answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    menu = client.get("/runs").text
    assert '<a href="/plugins/example/" class="">example</a>' in menu
    # the broken package's pages are not mounted, and pauta's own pages still work
    assert "/plugins/broken/" not in menu
    assert "/plugins/wrong/" not in menu
    assert client.get("/plugins/broken/").status_code == 404
    assert client.get("/").status_code == 200


def test_a_broken_executor_is_reported_by_the_registry(site: Site) -> None:
    registry = ExecutorRegistry()
    assert "local" in registry.names()
    with pytest.raises(PautaError, match=r"comes from package pauta-broken-plugin 0\.0\.1"):
        registry.spec("broken")


def test_the_catalog_lists_every_plugin_with_its_error(site: Site) -> None:
    found = {(plugin.group, plugin.name): plugin for plugin in all_plugins()}
    assert set(found) == {
        ("pauta.executors", "broken"),
        ("pauta.notifiers", "broken"),
        ("pauta.notifiers", "jsonl"),
        ("pauta.serializers", "example-json"),
        ("pauta.connection_types", "tcp"),
        ("pauta.ui", "broken"),
        ("pauta.ui", "example"),
        ("pauta.ui", "wrong"),
    }
    jsonl = found["pauta.notifiers", "jsonl"]
    assert (jsonl.loaded, jsonl.distribution, jsonl.version) == (
        True,
        "pauta-example-plugin",
        "0.1.0",
    )
    wrong = found["pauta.ui", "wrong"]
    assert wrong.error == "PluginError: the entry point must name a fastapi.APIRouter, not a str"


def test_pauta_plugins_list_json_and_table(site: Site, home: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [site.pythonpath, os.environ.get("PYTHONPATH")])
        ),
    }
    command = [sys.executable, "-m", "pauta", "plugins", "list"]
    listed = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    rows = {(row["group"], row["name"]): row for row in json.loads(listed.stdout)}
    assert rows["pauta.ui", "example"] == {
        "group": "pauta.ui",
        "name": "example",
        "value": "pauta_example_plugin.page:router",
        "distribution": "pauta-example-plugin",
        "version": "0.1.0",
        "loaded": True,
        "error": None,
    }
    for group in ("pauta.executors", "pauta.notifiers", "pauta.ui"):
        broken = rows[group, "broken"]
        assert broken["loaded"] is False
        assert broken["distribution"] == "pauta-broken-plugin"
        assert broken["error"] == (
            "ImportError: pauta_broken_plugin needs a library that is not installed"
        )
    table = subprocess.run(command, env=env, capture_output=True, text=True)
    assert table.returncode == 0, table.stderr
    assert re.search(
        r"pauta\.notifiers\s+jsonl\s+pauta-example-plugin 0\.1\.0\s+loaded", table.stdout
    )
    assert "failed: ImportError: pauta_broken_plugin needs" in table.stdout
