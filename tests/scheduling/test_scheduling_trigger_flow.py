"""trigger_flow: a flow queues a separate run of another flow for the workers and waits for
it without holding a worker; one worker drives both runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trigger_flows as tf

from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.core.states import FlowRunState
from pauta.engine.runner import Runner
from pauta.engine.runs import new_run_record
from pauta.scheduling.claims import Worker
from pauta.store.repository import Store

pytestmark = pytest.mark.slow


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    runner = Runner(Settings.from_env(tmp_path / "home"), capacity=Resources(cpus=2), workers=1)
    yield runner
    runner.close()


def queue(store: Store, flow, **params) -> str:  # type: ignore[no-untyped-def]
    record = new_run_record(
        flow, flow.parameters.to_json(params), now=store.clock.now(), queued=True
    )
    return store.create_flow_run(record).id


def work_until_idle(runner: Runner, store: Store, *run_ids: str, timeout: float = 60) -> None:
    """One worker, as in a one-machine deployment, until the given runs have ended."""
    worker = Worker(runner, max_runs=4, poll_interval=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_until, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = store.clock.monotonic() + timeout
        while store.clock.monotonic() < deadline:
            if all(
                store.get_flow_run(r).state in ("SUCCEEDED", "FAILED", "CANCELLED") for r in run_ids
            ):
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(timeout=60)


def test_a_triggered_run_is_queued_linked_and_waited_for(runner: Runner) -> None:
    store = runner.engine().store
    parent_id = queue(store, tf.parent, n=4)
    work_until_idle(runner, store, parent_id)
    parent = store.get_flow_run(parent_id)
    assert parent.state == FlowRunState.SUCCEEDED, parent.error
    (child,) = store.list_flow_runs(flow="etl")
    assert parent.result.preview == repr(child.id)  # the value is the triggered run's id
    assert child.state == FlowRunState.SUCCEEDED
    assert child.result.preview == "8"
    assert child.trigger == "flow"
    assert (child.triggered_by, child.triggered_by_key) == (parent_id, "trigger_flow_sensor-0")
    assert child.parent_run_id is None  # not a child run: claimed, resumed, retried on its own
    assert child.logical_date == parent.logical_date  # the same data interval
    # waiting held no worker: the one worker drove the child while the parent waited
    sensor = store.task_runs_by_key(parent_id)["trigger_flow_sensor-0"]
    assert sensor.state == "SUCCEEDED"
    # linked both ways, as the run pages show them ("triggered by", "Triggered runs")
    from pauta.app.runs import show_run

    assert show_run(store, parent_id)["triggered"] == [child.id]
    assert show_run(store, child.id)["triggered_by"] == parent_id


def test_a_failed_triggered_run_fails_the_waiting_call(runner: Runner) -> None:
    store = runner.engine().store
    parent_id = queue(store, tf.parent, n=-1)
    work_until_idle(runner, store, parent_id)
    assert store.get_flow_run(parent_id).state == FlowRunState.FAILED
    error = store.task_runs_by_key(parent_id)["trigger_flow_sensor-0"].error
    assert error["type"] == "pauta.trigger.TriggeredRunFailed"
    assert "ended FAILED" in error["message"]
    assert "cannot double -1" in error["message"]
    # the triggered run is a run of its own: it can be retried by itself
    from pauta.app.runs import queue_resume

    (child,) = store.list_flow_runs(flow="etl")
    assert queue_resume(store, child.id).state == FlowRunState.QUEUED


def test_without_waiting_the_call_returns_the_queued_run(runner: Runner) -> None:
    store = runner.engine().store
    run = runner.run(tf.parent, {"n": 2, "wait": False})  # driven here; no worker yet
    assert run.state == FlowRunState.SUCCEEDED, run.error
    (child,) = store.list_flow_runs(flow="etl")
    assert run.result() == child.id
    assert child.state == FlowRunState.QUEUED  # for the workers
    work_until_idle(runner, store, child.id)
    assert store.get_flow_run(child.id).state == FlowRunState.SUCCEEDED


def test_another_poke_or_a_replay_finds_the_run_instead_of_queueing_another(
    runner: Runner,
) -> None:
    from pauta.executors.sensor import PokeContext
    from pauta.trigger import FlowTrigger

    store = runner.engine().store
    now = store.clock.now()
    sensor = FlowTrigger(0.05, 10.0, "etl", tf.__file__, (("n", 1),), wait=True)
    ctx = PokeContext(now, now, store, store.clock, run_id="parentrun0000001", key="trigger-0")
    assert sensor.poke(ctx) is None  # queued, not ended
    assert sensor.poke(ctx) is None
    (child,) = store.list_flow_runs(flow="etl")
    assert child.triggered_by == "parentrun0000001"


def test_by_name_the_flow_comes_from_the_discovered_flows(runner: Runner) -> None:
    store = runner.engine().store
    parent_id = queue(store, tf.parent_by_name, n=1)
    work_until_idle(runner, store, parent_id)
    error = store.task_runs_by_key(parent_id)["trigger_flow_sensor-0"].error
    assert "no flow named 'etl' is known to the store" in error["message"]

    from pauta.store.records import FlowRow

    store.upsert_flow(FlowRow.of(tf.etl, tf.__file__))
    parent_id = queue(store, tf.parent_by_name, n=1)
    work_until_idle(runner, store, parent_id)
    assert store.get_flow_run(parent_id).state == FlowRunState.SUCCEEDED


def test_bad_parameters_fail_in_the_calling_body(runner: Runner) -> None:
    run = runner.run(tf.parent_with_bad_params, {})
    assert run.state == FlowRunState.FAILED
    assert run.error["type"] == "ParameterError"
    assert "n" in run.error["message"]
