"""Copies made with ``Task.with_options`` run in worker processes with their own options, beside
the original they were made from."""

from __future__ import annotations

from pathlib import Path

import options_flows as of
import pytest

from pauta.engine.runner import Runner

pytestmark = pytest.mark.slow


def test_a_copy_retries_where_the_original_does_not(runner: Runner, tmp_path: Path) -> None:
    params = {"path": str(tmp_path / "a"), "other": str(tmp_path / "b")}
    run = runner.run(of.copy_and_original, params)
    assert run.state == "SUCCEEDED"
    assert run.result() == {"copy": 2, "original": "FAILED"}
    tasks = {t.key: t for t in run.tasks}
    assert set(tasks) == {"sturdy-0", "fails_first-0"}
    assert (tasks["sturdy-0"].attempts, tasks["fails_first-0"].attempts) == (2, 1)


def test_a_copy_with_a_timeout_is_killed_on_time(runner: Runner) -> None:
    run = runner.run(of.copy_with_a_timeout, {})
    assert run.state == "FAILED"
    [task] = run.tasks
    assert task.key == "short_nap-0"
    assert "timed out after 0.5 s" in task.error["message"]
    assert of.nap.options.timeout is None
