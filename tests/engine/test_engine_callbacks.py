"""Callbacks and notifiers: real callbacks in the driving process, a real HTTP server."""

from __future__ import annotations

import json
from pathlib import Path

import engine_flows as ef
import pytest

from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.engine.runner import Runner
from webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.slow


@pytest.fixture
def events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "events.jsonl"
    monkeypatch.setenv("PAUTA_TEST_EVENTS", str(path))
    return path


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_retry_then_success_callbacks(runner: Runner, events: Path, tmp_path: Path) -> None:
    run = runner.run(ef.watched_flow, {"fail_times": 1, "path": str(tmp_path / "count")})
    assert run.state == "SUCCEEDED"
    seen = [(e["kind"], e["what"], e.get("task_key"), e["attempt"]) for e in read(events)]
    assert seen == [
        ("task", "retry", "watched-0", 1),
        ("task", "success", "watched-0", 2),
        ("flow", "success", None, 1),
    ]
    retry = read(events)[0]
    assert retry["run_id"] == run.id
    assert retry["error"]["message"] == "failure 1"


def test_failure_callbacks_and_a_broken_callback_changes_nothing(
    runner: Runner, events: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = runner.run(ef.watched_flow, {"fail_times": 5, "path": str(tmp_path / "count")})
    assert run.state == "FAILED"
    seen = [(e["kind"], e["what"], e["state"]) for e in read(events)]
    assert seen == [
        ("task", "retry", "RETRYING"),
        ("task", "failure", "FAILED"),
        ("flow", "failure", "FAILED"),
    ]
    assert "this callback is broken" in caplog.text
    assert run.tasks[0].attempts == 2


def test_pauta_notify_posts_flow_failures_to_a_webhook(
    tmp_path: Path, webhook: WebhookReceiver, events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAUTA_NOTIFY", f"webhook+{webhook.url}")
    runner = Runner(Settings.from_env(tmp_path / "home"), capacity=Resources(cpus=2), workers=1)
    try:
        ok = runner.run(ef.sums, {"n": 2})
        failed = runner.run(ef.retry_only_on, {"kind": "value"})
    finally:
        runner.close()
    assert ok.state == "SUCCEEDED"
    [posted] = webhook.received
    assert posted["kind"] == "flow"
    assert posted["what"] == "failure"
    assert posted["run_id"] == failed.id
    assert posted["flow"] == "retry_only_on"


def test_flow_retries_replay_the_run_and_reuse_what_succeeded(
    runner: Runner, events: Path, tmp_path: Path
) -> None:
    stable = tmp_path / "stable.txt"
    run = runner.run(ef.retried_flow, {"path": str(tmp_path / "n"), "stable_path": str(stable)})
    assert run.state == "SUCCEEDED"
    assert run.result() == "stable second time lucky"
    assert stable.read_text().split() == ["stable"]  # not run again on the retry
    tasks = {t.key: t for t in runner.engine().store.list_task_runs(run.id)}
    assert tasks["fails_first_time-0"].attempts == 2
    # the failure that was retried told nobody; the final success did
    assert [(e["kind"], e["what"]) for e in read(events)] == [("flow", "success")]
