"""Artifacts a task keeps, and secrets read in a worker masked in the driver too."""

from __future__ import annotations

from pathlib import Path

import engine_flows as ef
import pytest

from pauta.app.runs import show_run
from pauta.core.resources import Resources
from pauta.core.secrets import clear_registry
from pauta.engine.runner import Runner

pytestmark = pytest.mark.slow


def test_artifacts_are_kept_and_listed(runner: Runner, tmp_path: Path) -> None:
    run = runner.run(ef.reporting, {"folder": str(tmp_path)})
    assert run.result() == "done"
    store = runner.engine().store
    kept = {a.name: a for a in store.list_artifacts(run.id)}
    assert set(kept) == {"report", "confusion"}
    report = kept["report"].stored
    assert report.serializer == "file"
    assert Path(report.uri).read_text() == "accuracy 0.93\n"
    assert report.uri != str(tmp_path / "report.txt")  # a copy, kept with the run
    confusion = runner.engine().results.get(kept["confusion"].stored)
    assert confusion == {"tp": 40, "fp": 3, "fn": 5, "tn": 52}
    view = show_run(store, run.id)
    [task] = view["tasks"]
    assert [a["name"] for a in task["artifacts"]] == ["report", "confusion"]


def test_a_secret_read_in_a_worker_is_masked_in_the_flow_result(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAUTA_TEST_TOKEN", "tok-7f3a9c1e55")
    runner = Runner(capacity=Resources(cpus=1), workers=1)  # workers see the variable
    try:
        run = runner.run(ef.leaks_through_the_flow, {})
        assert run.result() == "token is tok-7f3a9c1e55"  # the value itself is untouched
        record = runner.engine().store.get_flow_run(run.id)
        assert record.result is not None
        assert "tok-7f3a9c1e55" not in record.result.preview
        assert "***" in record.result.preview
        [task] = runner.engine().store.list_task_runs(run.id)
        assert "tok-7f3a9c1e55" not in task.result.preview
    finally:
        runner.close()
        clear_registry()
