"""The same engine behaviour on the real PostgreSQL server."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import engine_flows as ef
import pytest

from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.engine.runner import Runner

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def pg_runner(pg_url: str, tmp_path: Path) -> Iterator[Runner]:
    settings = dataclasses.replace(Settings.from_env(tmp_path / "home"), database_url=pg_url)
    runner = Runner(settings, capacity=Resources(cpus=2), workers=2)
    yield runner
    runner.close()


def test_flows_run_and_record_on_postgres(pg_runner: Runner, tmp_path: Path) -> None:
    assert pg_runner.run(ef.sums, {"n": 5, "offset": 1}).result() == 15
    retried = pg_runner.run(ef.retrying, {"path": str(tmp_path / "count"), "failures": 1})
    assert retried.result() == 2
    failed = pg_runner.run(ef.downstream_of_failure, {})
    assert {t.key: t.state for t in failed.tasks} == {
        "boom-0": "FAILED",
        "add-0": "UPSTREAM_FAILED",
        "add-1": "SUCCEEDED",
    }
    parent = pg_runner.run(ef.parent, {"x": 1})
    assert parent.result() == 203

    store = pg_runner.engine().store
    assert store.dialect == "postgresql"
    runs = store.list_flow_runs(limit=0)
    assert len(runs) == 6  # four top-level runs and two child runs
    stored = {t.key: t for t in store.list_task_runs(retried.id)}
    assert stored["flaky-0"].attempts == 2
    attempts = store.list_attempts(retried.id)
    assert [a.state for a in attempts] == ["FAILED", "SUCCEEDED"]
