"""Dispatch on the real engine: worker processes record when they ran, the tests replay it.

Each task measures its own start and end (``time.time()`` in its worker process) and returns
them; the tests check that declared capacity, pools and limits held at every moment, and that
priority decided who started first. Start and end come from different processes, so two
spans count as overlapping only by more than ``TOL`` on each side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dispatch_flows as df
import pytest

from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.engine.runner import Runner
from pauta.store.repository import Store

pytestmark = pytest.mark.slow

TOL = 0.01
CAPACITY = 4


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    """4 declared cpus, 4 warm workers, and a pool "db" of 2 slots set before the engine
    starts (it reads the pools once, at start)."""
    settings = Settings.from_env(tmp_path_factory.mktemp("home"))
    store = Store.from_settings(settings)
    try:
        store.set_pool("db", 2)
    finally:
        store.close()
    runner = Runner(settings, capacity=Resources(cpus=CAPACITY), workers=CAPACITY)
    yield runner
    runner.close()


def spans_of(runner: Runner, flow: Any, params: dict[str, Any] | None = None) -> list[df.Span]:
    run = runner.run(flow, params or {})
    assert run.state == "SUCCEEDED", run.error
    return [(label, cpus, start, end) for label, cpus, start, end in run.result()]


def peak(spans: list[df.Span], weight: Callable[[df.Span], float] = lambda s: 1) -> float:
    """The most ``weight`` that was running at once.

    The total is highest just after some span starts, so it is enough to look there: at each
    start, add up the spans that started no later and end more than ``2 * TOL`` after it.
    """
    most = 0.0
    for _, _, at, _ in spans:
        alive = [s for s in spans if s[2] <= at and s[3] > at + 2 * TOL]
        most = max(most, sum(weight(s) for s in alive))
    return most


def cpus(span: df.Span) -> float:
    return span[1]


def test_running_tasks_never_hold_more_cpus_than_declared(runner: Runner) -> None:
    spans = spans_of(runner, df.mixed_sizes, {"rounds": 3})
    assert len(spans) == 12
    assert peak(spans, cpus) <= CAPACITY
    # The tasks were packed, not run one by one: the check above had something to catch.
    assert peak(spans, cpus) >= CAPACITY - 1
    assert peak(spans) >= 2


def test_a_pool_of_two_slots_runs_two_tasks_at_most(runner: Runner) -> None:
    spans = spans_of(runner, df.through_a_pool, {"n": 6})
    assert peak(spans) == 2  # 4 cpus would have run 4 at once


def test_max_concurrency_serializes_the_calls_of_one_task(runner: Runner) -> None:
    spans = spans_of(runner, df.limited_task, {"n": 3})
    serial = [s for s in spans if s[0].startswith("serial-")]
    assert peak(serial) == 1
    assert peak(spans) >= 2  # other tasks ran beside them: the limit is per task


def test_max_active_tasks_serializes_the_tasks_of_a_flow_run(runner: Runner) -> None:
    spans = spans_of(runner, df.one_task_at_a_time)
    assert len(spans) == 4
    assert peak(spans) == 1


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(
            "priority", ["urgent", "routine-0", "routine-1", "routine-2"], id="priority first"
        ),
        pytest.param(
            "fifo", ["routine-0", "routine-1", "routine-2", "urgent"], id="fifo: queue order"
        ),
    ],
)
def test_a_later_higher_priority_task_starts_first(
    tmp_path: Path, policy: str, expected: list[str]
) -> None:
    # One cpu: one task at a time, so the order they start in is the order they were picked.
    narrow = Runner(
        Settings.from_env(tmp_path / "home"),
        capacity=Resources(cpus=1),
        workers=1,
        policy=policy,
    )
    try:
        spans = spans_of(narrow, df.late_urgent, {"routines": 3})
        assert narrow.engine().core.queue.policy == policy
    finally:
        narrow.close()
    assert [label for label, *_ in sorted(spans, key=lambda s: s[2])] == expected
    assert peak(spans) == 1
