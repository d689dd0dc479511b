"""Deadlines checked by whatever drives the run (`pauta run`, a worker): the process's clock is
moved past the deadline while a task waits at a gate. Reported once, to the flow's on_failure
callbacks and the PAUTA_NOTIFY webhook; cancel=True cancels; a quick run reports nothing."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import deadline_flows as df
import pytest

from pauta.core.clock import SystemClock
from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.engine.replay import RunDriver
from pauta.engine.runner import Runner
from pauta.engine.runs import FlowRun
from pauta.scheduling.deadlines import DeadlineCheck
from pauta.store.deadlines import missed_deadlines
from pauta.store.tables import deadline_misses
from webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.slow


class ShiftedClock(SystemClock):
    """The real clock, moved forward by ``advance``: durations keep flowing for the engine,
    while the wall time jumps past a deadline when the test says so."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return super().now() + self.offset

    def timestamp(self) -> float:
        return super().timestamp() + self.offset.total_seconds()

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock() -> ShiftedClock:
    df.EVENTS.clear()
    df.MISSED.clear()
    return ShiftedClock()


@pytest.fixture
def runner(tmp_path: Path, clock: ShiftedClock) -> Iterator[Runner]:
    made = Runner(
        Settings.from_env(tmp_path / "home"), capacity=Resources(cpus=2), workers=1, clock=clock
    )
    yield made
    made.close()


@pytest.fixture
def pipe(tmp_path: Path) -> Path:
    path = tmp_path / "gate"
    os.mkfifo(path)
    return path


def in_background(runner: Runner, flow: Any, params: dict[str, Any]) -> tuple[
    threading.Thread, dict[str, FlowRun], Callable[[], str]
]:  # fmt: skip
    """Run ``flow`` on a thread; returns it, where its result lands, and a function that waits
    for the run to start and gives its id."""
    done: dict[str, FlowRun] = {}
    started = threading.Event()
    ids: list[str] = []

    def on_start(driver: RunDriver) -> None:
        ids.append(driver.run_id)
        started.set()

    thread = threading.Thread(
        target=lambda: done.update(run=runner.run(flow, params, on_start=on_start)), daemon=True
    )
    thread.start()

    def run_id() -> str:
        assert started.wait(60), "the run did not start"
        return ids[0]

    return thread, done, run_id


def open_gate(pipe: Path) -> None:
    with open(pipe, "w") as fifo:
        fifo.write("open")


def test_a_run_past_its_deadline_is_reported_once_while_it_goes_on(
    tmp_path: Path,
    clock: ShiftedClock,
    pipe: Path,
    webhook: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAUTA_NOTIFY", f"webhook+{webhook.url}")
    runner = Runner(
        Settings.from_env(tmp_path / "home"), capacity=Resources(cpus=2), workers=1, clock=clock
    )
    try:
        thread, done, run_id = in_background(runner, df.reported, {"path": str(pipe)})
        rid = run_id()
        clock.advance(minutes=11)
        assert df.MISSED.wait(30), "the deadline was not reported"
        open_gate(pipe)
        thread.join(60)
        run = done["run"]
        store = runner.engine().store
        # nothing more to report for it, by this process or by a scheduler
        assert runner._lease is not None
        assert runner._lease.check_deadlines() == []
        check = DeadlineCheck(store, notifiers=list)
        try:
            assert check.check(clock.now() + timedelta(hours=1)) == []
        finally:
            check.close()
        with store.engine.connect() as conn:
            [row] = conn.execute(deadline_misses.select()).all()
    finally:
        runner.close()
    assert run.id == rid
    assert run.state == "SUCCEEDED"  # the miss did not stop it
    assert run.result() == "open"
    [event] = df.EVENTS
    assert (event.what, event.run_id, event.state) == ("deadline_missed", rid, "RUNNING")
    assert event.deadline_at == run.logical_date + timedelta(minutes=10)
    [posted] = webhook.received
    assert (posted["what"], posted["run_id"]) == ("deadline_missed", rid)
    assert (row.flow_run_id, row.seen_by) == (rid, "driver")


def test_cancel_true_cancels_the_run_it_reported(
    runner: Runner, clock: ShiftedClock, pipe: Path
) -> None:
    thread, done, run_id = in_background(runner, df.cancelled, {"path": str(pipe)})
    rid = run_id()
    clock.advance(minutes=11)
    assert df.MISSED.wait(30), "the deadline was not reported"
    thread.join(60)
    assert not thread.is_alive(), "the run was not cancelled"
    run = done["run"]
    assert run.state == "CANCELLED"
    assert run.error is not None
    assert run.error["type"] == "DeadlineMissed"
    assert rid in run.error["message"]
    assert [e.run_id for e in df.EVENTS] == [rid]


def test_a_run_that_ends_in_time_reports_nothing(runner: Runner, clock: ShiftedClock) -> None:
    run = runner.run(df.quick, {})
    assert run.state == "SUCCEEDED"
    clock.advance(hours=1)
    assert runner._lease is not None
    assert runner._lease.check_deadlines() == []
    store = runner.engine().store
    check = DeadlineCheck(store, notifiers=list)
    try:
        assert check.check(clock.now()) == []
    finally:
        check.close()
    assert missed_deadlines(store, [run.id]) == set()
    assert df.EVENTS == []
