"""Marking a task SUCCEEDED and clearing tasks through the API, end to end: a worker replays
the run, the marked result reaches the dependents, cleared calls run again as new attempts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from api_support import PASSWORD, bearer
from fastapi.testclient import TestClient

from pauta.api import create_app
from pauta.app import users
from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.engine.runner import Runner
from pauta.scheduling.claims import Worker

pytestmark = pytest.mark.slow

STEER = (Path(__file__).resolve().parents[1] / "engine" / "steer_flows.py").read_text()


@dataclass
class Rig:
    client: TestClient
    worker: Worker
    marks: Path
    op: dict[str, str]
    viewer: dict[str, str]

    def drain(self) -> None:
        """Claim what is queued and wait for those runs to end."""
        self.worker.step()
        for thread in list(self.worker._active.values()):
            thread.join(timeout=60)

    def run(self) -> dict[str, Any]:
        run = self.client.post("/api/v1/flows/steer/runs", json={}, headers=self.op).json()
        self.drain()
        return self.show(run["id"])

    def show(self, run_id: str) -> dict[str, Any]:
        return self.client.get(f"/api/v1/runs/{run_id}", headers=self.op).json()

    def post(self, run_id: str, key: str, action: str, **kwargs: Any) -> Any:
        url = f"/api/v1/runs/{run_id}/tasks/{key}/{action}"
        return self.client.post(url, headers=kwargs.pop("headers", self.op), **kwargs)

    def lines(self, name: str) -> list[str]:
        path = self.marks / name
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def rig(tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "steer.py").write_text(STEER)
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("STEER_DIR", str(marks))
    runner = Runner(settings, capacity=Resources(cpus=1), default_executor="inline")
    store = runner.engine().store
    users.create_user(store, "op", PASSWORD, "operator")
    users.create_user(store, "eve", PASSWORD, "viewer")
    op = bearer(users.create_token(store, "op"))
    viewer = bearer(users.create_token(store, "eve"))
    worker = Worker(runner, max_runs=1, poll_interval=0.05)
    try:
        with TestClient(create_app(settings, store=store, flows_dir=flows)) as client:
            yield Rig(client, worker, marks, op, viewer)
    finally:
        runner.close()


def _tasks(shown: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["key"]: t for t in shown["tasks"]}


def test_mark_success_runs_the_dependents_with_none(rig: Rig) -> None:
    failed = rig.run()
    assert failed["state"] == "FAILED"
    marked = rig.post(failed["id"], "second-0", "mark-success")
    assert marked.status_code == 200, marked.text
    assert marked.json()["state"] == "QUEUED"
    queued = _tasks(rig.show(failed["id"]))
    assert queued["second-0"]["state"] == "SUCCEEDED"
    assert queued["third-0"]["state"] == "PENDING"  # reset, waiting for the replay
    rig.drain()
    shown = rig.show(failed["id"])
    assert shown["state"] == "SUCCEEDED"
    tasks = _tasks(shown)
    assert {k: t["state"] for k, t in tasks.items()} == dict.fromkeys(tasks, "SUCCEEDED")
    assert tasks["second-0"]["marked_by"] == "op"
    assert tasks["second-0"]["marked_at"] is not None
    assert tasks["second-0"]["attempts"] == 1  # it did not run again
    assert tasks["third-0"]["marked_by"] is None
    assert rig.lines("third") == ["None"]
    assert rig.lines("first") == ["ran"]  # what succeeded is not run again


def test_mark_success_with_a_json_result(rig: Rig) -> None:
    failed = rig.run()
    body = {"result": {"rows": 3, "path": "<b>s3://x</b>"}}
    assert rig.post(failed["id"], "second-0", "mark-success", json=body).status_code == 200
    rig.drain()
    shown = rig.show(failed["id"])
    assert shown["state"] == "SUCCEEDED"
    assert rig.lines("third") == ["{'rows': 3, 'path': '<b>s3://x</b>'}"]
    assert "rows" in _tasks(shown)["second-0"]["result"]["preview"]


def test_mark_success_refusals(rig: Rig) -> None:
    failed = rig.run()
    run_id = failed["id"]
    viewer = rig.post(run_id, "second-0", "mark-success", headers=rig.viewer)
    assert viewer.status_code == 403
    done = rig.post(run_id, "first-0", "mark-success")
    assert done.status_code == 409
    assert "already SUCCEEDED" in done.json()["detail"]
    unknown = rig.post(run_id, "nope-0", "mark-success")
    assert unknown.status_code == 404
    too_big = rig.post(run_id, "second-0", "mark-success", json={"result": "x" * 70_000})
    assert too_big.status_code == 422
    assert "bytes" in too_big.json()["detail"]
    bad = rig.post(run_id, "second-0", "mark-success", json={"value": 1})
    assert bad.status_code == 422
    assert rig.post(run_id, "second-0", "mark-success").status_code == 200
    # queued again: being driven until the replay ends
    again = rig.post(run_id, "third-0", "mark-success")
    assert again.status_code == 409
    assert "being driven" in again.json()["detail"]
    cleared = rig.post(run_id, "first-0", "clear")
    assert cleared.status_code == 409


def test_clear_runs_a_succeeded_call_and_its_dependents_again(rig: Rig) -> None:
    (rig.marks / "fixed").touch()
    done = rig.run()
    assert done["state"] == "SUCCEEDED"
    assert rig.post(done["id"], "first-0", "clear", headers=rig.viewer).status_code == 403
    cleared = rig.post(done["id"], "second-0", "clear")
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["state"] == "QUEUED"
    queued = _tasks(rig.show(done["id"]))
    assert [queued[k]["state"] for k in ("first-0", "second-0", "third-0")] == [
        "SUCCEEDED",
        "PENDING",
        "PENDING",
    ]
    rig.drain()
    shown = rig.show(done["id"])
    assert shown["state"] == "SUCCEEDED"
    tasks = _tasks(shown)
    assert {k: t["attempts"] for k, t in tasks.items()} == {
        "first-0": 1,
        "second-0": 2,
        "third-0": 2,
    }
    history = [a["state"] for a in tasks["second-0"]["attempt_history"]]
    assert history == ["SUCCEEDED", "SUCCEEDED"]
    assert rig.lines("first") == ["ran"]
    assert rig.lines("third") == ["2", "2"]


def test_clear_a_failed_call_after_marking(rig: Rig) -> None:
    failed = rig.run()
    rig.post(failed["id"], "second-0", "mark-success")
    rig.drain()
    # the mark is undone by a clear: second runs again, and now it can
    (rig.marks / "fixed").touch()
    assert rig.post(failed["id"], "second-0", "clear").status_code == 200
    rig.drain()
    tasks = _tasks(rig.show(failed["id"]))
    assert tasks["second-0"]["state"] == "SUCCEEDED"
    assert tasks["second-0"]["marked_by"] is None
    assert tasks["second-0"]["attempts"] == 2
    assert rig.lines("third") == ["None", "2"]
