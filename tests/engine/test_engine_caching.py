"""Caching across runs: same task code and inputs reuse the earlier result."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import engine_flows as ef
import pytest

from pauta.engine.runner import Runner

pytestmark = pytest.mark.slow


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_a_second_run_with_the_same_inputs_is_cached(runner: Runner, tmp_path: Path) -> None:
    log = tmp_path / "ran.txt"
    first = runner.run(ef.cached_chain, {"x": 3, "path": str(log)})
    second = runner.run(ef.cached_chain, {"x": 3, "path": str(log)})
    assert first.result() == second.result() == 18
    assert lines(log) == ["3", "double 9"]  # nothing ran the second time
    assert {t.state for t in second.tasks} == {"CACHED"}
    by_key = {t.key: t for t in second.tasks}
    assert by_key["expensive-0"].cached_from == f"{first.id}/expensive-0"
    stored = runner.engine().store.task_runs_by_key(second.id)
    assert stored["double_it-0"].state == "CACHED"
    assert stored["double_it-0"].cached_from == f"{first.id}/double_it-0"


def test_other_inputs_run_again(runner: Runner, tmp_path: Path) -> None:
    log = tmp_path / "ran.txt"
    runner.run(ef.cached_chain, {"x": 4, "path": str(log)})
    run = runner.run(ef.cached_chain, {"x": 5, "path": str(log)})
    assert run.result() == 50
    assert lines(log) == ["4", "double 16", "5", "double 25"]


def test_no_cache_runs_everything(runner: Runner, tmp_path: Path) -> None:
    log = tmp_path / "ran.txt"
    runner.run(ef.cached_chain, {"x": 6, "path": str(log)})
    fresh = Runner(
        dataclasses.replace(runner.settings),
        capacity=runner._capacity,
        workers=1,
        no_cache=True,
    )
    try:
        run = fresh.run(ef.cached_chain, {"x": 6, "path": str(log)})
    finally:
        fresh.close()
    assert {t.state for t in run.tasks} == {"SUCCEEDED"}
    assert lines(log) == ["6", "double 36"] * 2


def test_a_cache_key_function_decides_what_is_the_same(runner: Runner, tmp_path: Path) -> None:
    log = tmp_path / "ran.txt"
    run = runner.run(ef.parities, {"xs": [1, 3, 2, 5, 4], "path": str(tmp_path / "ran.txt")})
    assert run.result() == ["odd", "odd", "even", "odd", "even"]
    assert lines(log) == ["parity 1", "parity 2"]


def test_an_expired_cache_entry_is_not_used(runner: Runner, tmp_path: Path) -> None:
    log = tmp_path / "ran.txt"
    runner.run(ef.expiring, {"path": str(log)})
    runner.run(ef.expiring, {"path": str(log)})
    assert lines(log) == ["ran"]
    time.sleep(1.0)  # the entry lives 0.5 s
    runner.run(ef.expiring, {"path": str(log)})
    assert lines(log) == ["ran", "ran"]
