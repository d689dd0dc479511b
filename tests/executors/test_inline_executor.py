"""The inline executor: the same outcomes as the local one, from threads of this process."""

from __future__ import annotations

import time
from multiprocessing.connection import wait
from pathlib import Path

import pytest

from pauta.core.loading import load_file
from pauta.core.states import State
from pauta.definitions.context import current_context
from pauta.executors.base import ResultPlaceholder
from pauta.executors.inline import InlineExecutor
from pauta.store.results import ResultStore

kit = load_file(Path(__file__).parent / "flowmods" / "kit.py")
tasks = kit.tasks


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Path]:
    return {"results": tmp_path / "results", "logs": tmp_path / "logs"}


@pytest.fixture
def wakeup():
    return kit.Wakeup()


@pytest.fixture
def executor(paths, wakeup):
    ex = InlineExecutor(threads=2, results_url=str(paths["results"]))
    ex.start(wakeup)
    yield ex
    ex.shutdown(kill=True)


def make(fn, *args, paths, **options):
    return kit.item(fn, *args, log_dir=paths["logs"], **options)


def test_values_come_back_and_the_engine_is_woken(executor, paths, wakeup):
    store = ResultStore(str(paths["results"]))
    executor.submit([make(tasks.add, 2, 3, paths=paths)])
    assert wait(executor.waitables(), 10)
    assert wakeup.event.wait(10)
    (outcome,) = kit.collect(executor, 1)
    assert outcome.state == State.SUCCEEDED
    assert outcome.result.uri is None
    assert store.get(outcome.result) == 5
    assert not wait(executor.waitables(), 0)  # drained

    big = kit.run_one(executor, make(tasks.blob, 100_000, paths=paths))
    assert big.result.uri is not None
    assert store.get(big.result) == b"x" * 100_000


def test_exception_and_log_capture(executor, paths, capsys):
    failing = make(tasks.boom, "7", paths=paths)
    outcome = kit.run_one(executor, failing)
    assert outcome.state == State.FAILED
    assert (outcome.error.type, outcome.error.message) == ("ValueError", "boom 7")
    assert "ValueError: boom 7" in Path(failing.log_path).read_text()

    noisy = make(tasks.noisy, paths=paths)
    assert kit.run_one(executor, noisy).state == State.SUCCEEDED
    log = Path(noisy.log_path).read_text()
    assert "hello from print" in log
    assert "hello from the logger" in log
    assert "hello from stderr" in log
    print("outside any task")
    assert "outside any task" in capsys.readouterr().out
    assert "outside any task" not in Path(noisy.log_path).read_text()


def test_silent_tasks_create_no_log_files(executor, paths):
    executor.submit([make(tasks.nothing, paths=paths) for _ in range(10)])
    assert all(o.state == State.SUCCEEDED for o in kit.collect(executor, 10))
    assert kit.files_under(paths["logs"]) == []


def test_context_metrics_async_closures_and_placeholders(executor, paths):
    store = ResultStore(str(paths["results"]))
    ctx = kit.run_one(executor, make(tasks.context_info, paths=paths, key="k", attempt=3))
    info = store.get(ctx.result)
    assert (info["run_id"], info["attempt"], info["key"]) == ("run-1", 3, "k")
    assert [m.name for m in ctx.metrics] == ["accuracy", "loss"]
    assert current_context() is None  # the driver's own context is untouched

    outcome = kit.run_one(executor, make(tasks.async_add, 1, 2, paths=paths, is_async=True))
    assert store.get(outcome.result) == 3
    assert store.get(kit.run_one(executor, make(tasks.make_adder(3), 4, paths=paths)).result) == 7
    upstream = store.put(10, run_id="run-1", key="u", attempt=1)
    work = make(tasks.total, (ResultPlaceholder(upstream), 1), paths=paths)
    assert store.get(kit.run_one(executor, work).result) == 11


def test_timeout_reports_and_keeps_capacity(paths, wakeup):
    ex = InlineExecutor(threads=1, results_url=str(paths["results"]))
    ex.start(wakeup)
    try:
        outcome = kit.run_one(ex, make(tasks.slow_value, "late", 3.0, paths=paths, timeout=0.3))
        assert outcome.state == State.FAILED
        assert outcome.error.kind == "timeout"
        assert outcome.error.message == "timed out after 0.3 s"
        started = time.monotonic()
        assert kit.run_one(ex, make(tasks.add, 1, 1, paths=paths)).state == State.SUCCEEDED
        assert time.monotonic() - started < 2.5  # a fresh thread took the stuck one's place
    finally:
        ex.shutdown(kill=True)


def test_cancel_only_items_not_started(paths, wakeup):
    ex = InlineExecutor(threads=1, results_url=str(paths["results"]))
    ex.start(wakeup)
    try:
        running = make(tasks.slow_value, "x", 0.5, paths=paths)
        queued = make(tasks.add, 1, 1, paths=paths)
        ex.submit([running, queued])
        time.sleep(0.1)
        assert not ex.cancel(running.run.run_id, running.key)
        assert ex.cancel(queued.run.run_id, queued.key)
        outcomes = {o.key: o for o in kit.collect(ex, 2)}
        assert outcomes[queued.key].error.kind == "cancelled"
        assert outcomes[running.key].state == State.SUCCEEDED
        time.sleep(0.1)
        assert ex.collect() == []
    finally:
        ex.shutdown()


def test_shutdown(paths, wakeup):
    ex = InlineExecutor(threads=1, results_url=str(paths["results"]))
    ex.start(wakeup)
    running = make(tasks.slow_value, "x", 0.3, paths=paths)
    waiting = make(tasks.add, 1, 1, paths=paths)
    ex.submit([running, waiting])
    time.sleep(0.1)
    ex.shutdown()
    outcomes = {o.key: o for o in ex.collect()}
    assert outcomes[running.key].state == State.SUCCEEDED
    assert outcomes[waiting.key].interrupted

    ex = InlineExecutor(threads=1, results_url=str(paths["results"]))
    ex.start(wakeup)
    running = make(tasks.slow_value, "x", 0.3, paths=paths)
    ex.submit([running])
    time.sleep(0.1)
    ex.shutdown(kill=True)
    (outcome,) = ex.collect()
    assert outcome.interrupted
    assert outcome.error.kind == "interrupted"
    assert ex.waitables() == []


@pytest.mark.parametrize("through_registry", [False, True])
def test_attempts_are_timed_on_the_clock_it_was_given(paths, wakeup, tmp_path, through_registry):
    from datetime import UTC, datetime

    from pauta.core.clock import FrozenClock
    from pauta.core.resources import Resources
    from pauta.core.settings import Settings
    from pauta.executors.registry import ExecutorConfig, default_registry

    clock = FrozenClock(datetime(2031, 5, 1, 12, 0, tzinfo=UTC))
    if through_registry:  # as the engine builds it, with the engine's clock
        settings = Settings.from_env(tmp_path / "home")
        config = ExecutorConfig(settings, Resources(cpus=1), 1, None, clock)
        ex = default_registry().create("inline", config)
    else:
        ex = InlineExecutor(threads=1, results_url=str(paths["results"]), clock=clock)
    ex.start(wakeup)
    try:
        outcome = kit.run_one(ex, make(tasks.slow_value, "late", 3.0, paths=paths, timeout=0.3))
        assert outcome.error.kind == "timeout"
        # started and ended on the executor's clock, not the process's
        assert outcome.started_at == outcome.ended_at == clock.timestamp()
    finally:
        ex.shutdown(kill=True)
