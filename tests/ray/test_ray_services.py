"""``services.deploy(..., executor="ray")`` on the real two-node cluster: Ray Serve runs the
app, pauta's supervisor records the revisions, and rolls back what Serve cannot deploy.

Serve runs its HTTP proxy on the head only (two nodes of one machine cannot both bind its
port) on a free port of 127.0.0.1. Each replica asks for a quarter of a cpu, so a rolling
update of two replicas fits beside the old ones on the cluster's two cpus.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from ray_support import Cluster, free_port

from pauta import Resources, services
from pauta.core.service_states import RevisionState
from pauta.core.settings import Settings
from pauta.services import control
from pauta.store.repository import Store
from pauta.store.services import ServicesStore
from services.services_support import HERE as SERVICES_TESTS
from services.services_support import SupervisorThread, eventually

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(600)]

APP = "service_apps:create_app"
QUARTER = Resources(cpus=0.25)


@pytest.fixture(scope="module")
def serve_on(cluster: Cluster) -> Iterator[str]:
    """Where Serve's proxy listens for this module's tests; Serve is shut down after them."""
    port = free_port()
    saved = {k: os.environ.get(k) for k in ("PAUTA_RAY_SERVE_PORT", "PAUTA_RAY_SERVE_PROXIES")}
    os.environ.update(
        PAUTA_RAY_SERVE_PORT=str(port),
        PAUTA_RAY_SERVE_PROXIES="HeadOnly",
        PAUTA_RAY_SERVE_HOST="127.0.0.1",
    )
    yield f"http://127.0.0.1:{port}"
    from ray import serve

    serve.shutdown()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    os.environ.pop("PAUTA_RAY_SERVE_HOST", None)


@pytest.fixture
def apps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "apps"
    folder.mkdir()
    shutil.copy(SERVICES_TESTS / "service_apps.py", folder / "service_apps.py")
    monkeypatch.delitem(sys.modules, "service_apps", raising=False)
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    opened = Store.from_settings(Settings.from_env())
    yield opened
    opened.close()


@pytest.fixture
def supervisor(
    store: Store, home: Path, apps: Path, serve_on: str, cluster: Cluster
) -> Iterator[SupervisorThread]:
    running = SupervisorThread(store, home / "services").start()
    yield running
    running.stop()


def pauta(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pauta", "services", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def ask(url: str, path: str = "/") -> tuple[int, Any]:
    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        conn.request("GET", where.path.rstrip("/") + path)
        reply = conn.getresponse()
        body = reply.read()
        try:
            return reply.status, json.loads(body or b"null")
        except ValueError:
            return reply.status, body.decode(errors="replace")
    finally:
        conn.close()


class Load:
    """A client thread sending requests one after another until stopped."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[Any] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, body = ask(self.url)
            except OSError as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")
                continue
            if status == 200:
                self.answers.append(body["answer"])
            else:
                self.failures.append(f"{status}: {str(body)[:200]}")

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(60)


def _deploy(name: str, answer: Any, **extra: Any) -> str:
    return services.deploy(
        name,
        app=APP,
        config={"answer": answer, **extra.pop("config", {})},
        replicas=2,
        resources=QUARTER,
        ready_timeout=extra.pop("ready_timeout", 120),
        executor="ray",
        ray_address=extra.pop("ray_address"),
        **extra,
    )


def test_a_ray_service_serves_two_replicas_and_a_redeploy_swaps_under_load(
    supervisor: SupervisorThread, store: Store, cluster: Cluster, serve_on: str
) -> None:
    first = _deploy("echo", "one", ray_address=cluster.address)
    assert first == "echo@1"
    url = f"{serve_on}/echo"
    status, body = ask(url)
    assert (status, body["answer"]) == (200, "one")
    # Serve's proxy prefers the replicas of its own node, so one client may meet only one:
    # Serve's own view counts them
    view = eventually(
        lambda: (v := control.show(store, "echo"))["replicas"] and v, what="replicas shown"
    )
    assert [r["state"] for r in view["replicas"]] == ["READY", "READY"]
    assert len({r["pid"] for r in view["replicas"]}) == 2
    assert view["executor"] == "ray"
    assert view["address"] == url
    assert view["revision_id"] == "echo@1"
    assert view["revisions"][0]["executor"] == "ray"
    assert services.get("echo").address == url
    # the CLI reads it all from the store: it needs no Ray
    listed = json.loads(pauta("list", "--json").stdout)
    assert [(v["name"], v["executor"], v["address"], v["state"]) for v in listed] == [
        ("echo", "ray", url, "serving")
    ]
    shown = pauta("show", "echo").stdout
    assert f"serving · ray · {url}" in shown
    assert "Ray Serve: application echo RUNNING" in shown
    assert "runs on Ray Serve" in pauta("logs", "echo").stdout

    with Load(url) as load:
        eventually(lambda: len(load.answers) > 5, what="requests before the redeploy")
        second = _deploy("echo", "two", ray_address=cluster.address)
        eventually(lambda: load.answers[-3:] == ["two"] * 3, 60, "the new answer")
    assert second == "echo@2"
    assert "one" in load.answers
    assert "two" in load.answers
    # Serve's rolling update: new replicas up before old ones drain; measured here: none fail
    print(f"redeploy under load: {len(load.answers)} answered, {len(load.failures)} failed")
    assert load.failures == [], load.failures[:5]
    revisions = {r.revision: r.state for r in ServicesStore(store).revisions("echo")}
    assert revisions == {2: RevisionState.SERVING, 1: RevisionState.RETIRED}


def test_a_broken_factory_on_ray_is_rolled_back_and_the_old_revision_keeps_answering(
    supervisor: SupervisorThread, store: Store, cluster: Cluster, serve_on: str
) -> None:
    _deploy("model", "good", ray_address=cluster.address)
    url = f"{serve_on}/model"
    with Load(url) as load:
        eventually(lambda: len(load.answers) > 5, what="requests before the broken deploy")
        with pytest.raises(services.DeployFailed) as failed:
            _deploy("model", "bad", config={"fail": True}, ray_address=cluster.address)
        after = len(load.answers)
        eventually(lambda: len(load.answers) > after + 5, 60, "answers after the rollback")
    message = str(failed.value)
    assert "the model file is corrupt" in message, message  # Serve's message, with the cause
    assert "model@1 was deployed again and serves" in message
    print(f"broken deploy under load: {len(load.answers)} answered, {len(load.failures)} failed")
    assert set(load.answers) == {"good"}
    assert ask(url)[1]["answer"] == "good"
    found = {r.revision: r.state for r in ServicesStore(store).revisions("model")}
    assert found == {2: RevisionState.FAILED, 1: RevisionState.SERVING}

    control.stop(store, "model")
    eventually(
        lambda: ServicesStore(store).revision("model", 1).state is RevisionState.STOPPED,
        60,
        "the stop recorded",
    )
    from ray import serve

    assert "model" not in serve.status().applications


def test_a_revision_whose_health_path_fails_on_ray_is_rolled_back(
    supervisor: SupervisorThread, store: Store, cluster: Cluster, serve_on: str
) -> None:
    _deploy("healthy", "up", ray_address=cluster.address)
    with pytest.raises(services.DeployFailed, match="GET /health answered 500"):
        _deploy(
            "healthy",
            "down",
            config={"health_status": 500},
            ready_timeout=90,
            ray_address=cluster.address,
        )
    assert ask(f"{serve_on}/healthy")[1]["answer"] == "up"
    found = {r.revision: r.state for r in ServicesStore(store).revisions("healthy")}
    assert found == {2: RevisionState.FAILED, 1: RevisionState.SERVING}
