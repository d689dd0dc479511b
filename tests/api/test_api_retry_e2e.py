"""Retrying a failed task through the API, end to end: a worker replays the run, the task
that succeeded is not run again, the retried one and its dependents are."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import FLAKY, bearer
from fastapi.testclient import TestClient

from pauta.api import create_app
from pauta.app import users
from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.engine.runner import Runner
from pauta.scheduling.claims import Worker

pytestmark = pytest.mark.slow


def _drain(worker: Worker) -> None:
    """Claim what is queued and wait for those runs to end."""
    worker.step()
    for thread in list(worker._active.values()):
        thread.join(timeout=60)


def test_retry_replays_the_run_reusing_what_succeeded(
    tmp_path: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "flaky.py").write_text(FLAKY)
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("FLAKY_DIR", str(marks))
    runner = Runner(settings, capacity=Resources(cpus=1), default_executor="inline")
    store = runner.engine().store

    users.create_user(store, "op", "a long password", "operator")
    headers = bearer(users.create_token(store, "op"))
    worker = Worker(runner, max_runs=1, poll_interval=0.05)
    try:
        with TestClient(create_app(settings, store=store, flows_dir=flows)) as client:
            run = client.post("/api/v1/flows/flaky/runs", json={}, headers=headers).json()
            _drain(worker)
            shown = client.get(f"/api/v1/runs/{run['id']}", headers=headers).json()
            assert shown["state"] == "FAILED"
            states = {t["key"]: t["state"] for t in shown["tasks"]}
            assert states == {
                "first-0": "SUCCEEDED",
                "second-0": "FAILED",
                "third-0": "UPSTREAM_FAILED",
            }
            (marks / "fixed").touch()
            retried = client.post(f"/api/v1/runs/{run['id']}/tasks/second-0/retry", headers=headers)
            assert retried.status_code == 200, retried.text
            assert retried.json()["state"] == "QUEUED"
            _drain(worker)
            shown = client.get(f"/api/v1/runs/{run['id']}", headers=headers).json()
    finally:
        runner.close()
    assert shown["state"] == "SUCCEEDED"
    assert shown["result_preview"] == "20"
    tasks = {t["key"]: t for t in shown["tasks"]}
    assert {k: t["state"] for k, t in tasks.items()} == dict.fromkeys(tasks, "SUCCEEDED")
    assert (marks / "first").read_text() == "x"  # not run again
    assert tasks["second-0"]["attempts"] == 2
