"""A failed run names its root cause: the first task that failed, its exception and message,
not the leaf the body happened to look at."""

from __future__ import annotations

import failure_flows as ff
import pytest

from pauta import FlowFailed, State
from pauta.engine.runner import Runner

pytestmark = pytest.mark.slow

ROOT = "load_week-0 failed: ValueError: no rows for week 48"


def test_the_run_error_names_the_first_failed_task(runner: Runner) -> None:
    run = runner.run(ff.weekly, {"week": 48})
    assert run.state == "FAILED"
    assert ROOT in run.error["message"]
    assert run.error["root_cause"] == {
        "task": "load_week-0",
        "state": "FAILED",
        "type": "ValueError",
        "message": "no rows for week 48",
    }
    with pytest.raises(FlowFailed) as caught:
        run.result()
    assert ROOT in str(caught.value)


def test_upstream_failed_tasks_say_which_upstream_failed_first(runner: Runner) -> None:
    run = runner.run(ff.weekly, {"week": 48})
    tasks = {t.key: t for t in run.tasks}
    assert tasks["load_week-0"].state == State.FAILED
    for key in ("build_features-0", "evaluate-0"):
        assert tasks[key].state == State.UPSTREAM_FAILED
        assert ROOT in tasks[key].error["message"]
    # the leaf also says which of its own inputs stopped it
    assert "build_features-0" in tasks["evaluate-0"].error["message"]


def test_an_unobserved_failure_also_names_its_root_cause(runner: Runner) -> None:
    run = runner.run(ff.weekly_unobserved, {"week": 48})
    assert run.state == "FAILED"
    assert ROOT in run.error["message"]
    assert run.error["root_cause"]["task"] == "load_week-0"
