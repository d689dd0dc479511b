"""The execution core driven directly: events in, states and effects out, no store, no threads.

Each case of the tables is one small story (submit, start, an outcome, time passing...) and
the states and effects the core must answer with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pauta import Resources, task
from pauta.core.states import State
from pauta.engine.calls import TaskCall
from pauta.engine.core import ExecutionCore
from pauta.engine.effects import CancelAttempt, Effects, Now
from pauta.engine.runstate import RunState
from pauta.executors.base import ErrorInfo, WorkOutcome
from pauta.store.results import StoredResult

T0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
ONE = StoredResult(None, b"1", 1, "pickle", "1")


def at(seconds: float) -> Now:
    return Now(T0 + timedelta(seconds=seconds), 1000.0 + seconds)


@task
def plain() -> None: ...


@task(retries=2, retry_delay=10, retry_backoff=1, retry_jitter=False)
def flaky() -> None: ...


@task(retries=2, retry_delay=10, retry_on=KeyError, retry_jitter=False)
def picky() -> None: ...


@task(cache=True)
def cached() -> None: ...


@task(isolation="inline")
def inline() -> None: ...


@task(isolation="venv", requirements=["six==1.16.0"])
def in_venv() -> None: ...


@task(isolation="venv", executor="elsewhere")
def venv_elsewhere() -> None: ...


@task(resources=Resources(cpus=1, gpus=1))
def on_gpu() -> None: ...


@task(resources=Resources(cpus=2))
def both_cpus() -> None: ...


@task(resources=Resources(cpus=64))
def huge() -> None: ...


def _on_failure(event: Any) -> None: ...


@task(on_failure=_on_failure)
def alarmed() -> None: ...


@dataclass
class World:
    """A core with one run; calls are made by name and wired by their upstream names."""

    core: ExecutionCore = field(
        default_factory=lambda: ExecutionCore(Resources(cpus=2, memory=0, gpus=2))
    )
    run: RunState = field(
        default_factory=lambda: RunState("r1", flow_name="f", logical_date=T0, epoch=1)
    )

    def __post_init__(self) -> None:
        self.core.attach(self.run)

    def call(self, key: str, fn: Any = plain, *upstream: TaskCall) -> TaskCall:
        made = TaskCall(self.run, key, fn, fn.name, created_at=T0)
        made.upstream.extend(upstream)
        self.run.calls[key] = made
        self.run.unfinished += 1
        return made

    def submit(self, call: TaskCall, now: Now | None = None) -> Effects:
        self.core.submit(call, now or at(0))
        return self.core.take()

    def start_all(self, now: Now | None = None) -> Effects:
        now = now or at(0)
        self.core.start(self.core.pick(now), now)
        return self.core.take()

    def end(self, call: TaskCall, state: State, now: Now | None = None, **more: Any) -> Effects:
        now = now or at(1)
        outcome = WorkOutcome(
            "r1", call.key, call.attempt, state, started_at=0.0, ended_at=1.0, **more
        )
        self.core.outcome(outcome, now, started_at=now.wall, ended_at=now.wall)
        self.core.release_successes(now)
        return self.core.take()


def failure(type_name: str = "ValueError", kind: str = "exception") -> dict[str, Any]:
    mro = (f"builtins.{type_name}", "builtins.Exception")
    return {"error": ErrorInfo(type_name, "boom", "", kind, mro)}


# -- one call, one attempt ----------------------------------------------------------------------
OUTCOMES = [
    # (task, reported state, extra, state after, attempt after, queued again)
    pytest.param(
        plain,
        State.SUCCEEDED,
        {"result": ONE},
        State.SUCCEEDED,
        1,
        False,
        id="success",
    ),
    pytest.param(plain, State.FAILED, failure(), State.FAILED, 1, False, id="failure-no-retries"),
    pytest.param(flaky, State.FAILED, failure(), State.RETRYING, 1, False, id="failure-retried"),
    pytest.param(
        picky,
        State.FAILED,
        failure("ValueError"),
        State.FAILED,
        1,
        False,
        id="retry_on-other-error",
    ),
    pytest.param(
        picky,
        State.FAILED,
        failure("KeyError"),
        State.RETRYING,
        1,
        False,
        id="retry_on-matching-error",
    ),
    pytest.param(
        flaky,
        State.FAILED,
        failure("Cancelled", "cancelled"),
        State.CANCELLED,
        1,
        False,
        id="killed-by-cancel",
    ),
    pytest.param(
        plain,
        State.FAILED,
        {**failure("Interrupted", "interrupted"), "interrupted": True},
        State.QUEUED,
        1,
        True,
        id="interrupted-requeued-same-attempt",
    ),
    pytest.param(plain, State.WAITING, {}, State.WAITING, 1, False, id="sensor-waits"),
]


@pytest.mark.parametrize(("fn", "reported", "extra", "after", "attempt", "requeued"), OUTCOMES)
def test_an_attempt_ends_in_the_state_the_table_gives(
    fn: Any, reported: State, extra: dict[str, Any], after: State, attempt: int, requeued: bool
) -> None:
    world = World()
    call = world.call("a-0", fn)
    submitted = world.submit(call)
    assert call.state == State.QUEUED
    assert submitted.writes == [call]
    started = world.start_all()
    assert call.state == State.RUNNING
    assert [(s.call, s.executor) for s in started.starts] == [(call, "local")]
    world.end(call, reported, **extra)
    assert call.state == after
    assert call.attempt == attempt
    assert (("r1", "a-0") in world.core.queue) is requeued
    # capacity comes back whenever the attempt is over, and only then
    still_running = reported == State.WAITING
    assert (world.core.free == world.core.capacity) is not still_running


# -- what a call's end does downstream ----------------------------------------------------------
def test_a_success_releases_its_dependent_which_must_wait_for_durability() -> None:
    world = World()
    up = world.call("up-0")
    down = world.call("down-0", plain, up)
    world.submit(up)
    world.submit(down)
    assert down.state == State.PENDING
    assert down.waiting == 1
    world.start_all()
    world.end(up, State.SUCCEEDED)
    assert up.done
    assert down.state == State.QUEUED
    assert world.core.needs_durability(down)
    world.core.durable()
    assert not world.core.needs_durability(down)


def test_a_failure_skips_everything_downstream_and_notifies_failure_callbacks() -> None:
    world = World()
    up = world.call("up-0", alarmed)
    mid = world.call("mid-0", plain, up)
    low = world.call("low-0", plain, mid)
    for call in (up, mid, low):
        world.submit(call)
    world.start_all()
    fx = world.end(up, State.FAILED, **failure())
    assert [up.state, mid.state, low.state] == [
        State.FAILED,
        State.UPSTREAM_FAILED,
        State.UPSTREAM_FAILED,
    ]
    assert low.error is not None
    # the skipped leaf names the root cause, and the call it was reached through
    assert low.error["message"] == "up-0 failed: ValueError: boom (reached through mid-0)"
    assert [(n.call, n.what) for n in fx.notices] == [(up, "failure")]
    assert world.run.unfinished == 0


def test_a_call_submitted_after_its_upstream_failed_is_skipped_at_once() -> None:
    world = World()
    up = world.call("up-0")
    world.submit(up)
    world.start_all()
    world.end(up, State.FAILED, **failure())
    late = world.call("late-0", plain, up)
    world.submit(late)
    assert late.state == State.UPSTREAM_FAILED
    assert late.done


# -- time: retries ------------------------------------------------------------------------------
RETRY_TIMES = [
    pytest.param(9.9, [], id="before-the-delay"),
    pytest.param(10.0, ["a-0"], id="at-the-delay"),
    pytest.param(60.0, ["a-0"], id="long-after"),
]


@pytest.mark.parametrize(("later", "due"), RETRY_TIMES)
def test_a_retry_is_due_after_its_delay_and_starts_a_new_attempt(
    later: float, due: list[str]
) -> None:
    world = World()
    call = world.call("a-0", flaky)
    world.submit(call)
    world.start_all()
    world.end(call, State.FAILED, now=at(0), **failure())
    assert world.core.next_timer() == pytest.approx(at(10).monotonic)
    ready = world.core.due_retries(at(later))
    assert [c.key for c in ready] == due
    world.core.retry(ready, at(later))
    if due:
        assert call.state == State.QUEUED
        assert call.attempt == 2
    else:
        assert call.state == State.RETRYING


# -- cancel ---------------------------------------------------------------------------------------
def test_cancel_kills_running_attempts_and_ends_the_rest() -> None:
    world = World()
    running = world.call("run-0")
    queued = world.call("q-0", both_cpus)  # waits: the running call holds one of two cpus
    waiting = world.call("w-0", plain, running)
    world.submit(running)
    world.start_all()
    world.submit(queued)
    world.submit(waiting)
    world.start_all()
    assert queued.state == State.QUEUED
    world.core.cancel_run(world.run, at(2))
    fx = world.core.take()
    assert fx.cancels == [CancelAttempt("local", "r1", "run-0")]
    assert waiting.state == State.CANCELLED
    assert running.state == State.RUNNING  # until the executor reports the kill
    world.end(running, State.FAILED, **failure("Cancelled", "cancelled"))
    assert running.state == State.CANCELLED
    assert queued.state == State.CANCELLED
    assert ("r1", "q-0") not in world.core.queue
    # a call submitted once the run is cancelling comes from the body's way out (a finally:):
    # a teardown call, which queues and runs
    late = world.call("late-0")
    world.submit(late)
    assert late.teardown
    assert late.state == State.QUEUED


# -- teardown -------------------------------------------------------------------------------------
@task(teardown=True)
def teardown() -> None: ...


def test_a_teardown_call_runs_after_what_it_waits_for_failed() -> None:
    world = World()
    work = world.call("work-0")
    after = world.call("after-0", plain, work)
    cleanup = world.call("teardown-0", teardown, work)
    for call in (work, after, cleanup):
        world.submit(call)
    world.start_all()
    world.end(work, State.FAILED, **failure())
    assert after.state == State.UPSTREAM_FAILED  # an ordinary dependent is skipped
    assert cleanup.state == State.QUEUED  # the teardown runs
    world.start_all()
    world.end(cleanup, State.SUCCEEDED, result=ONE)
    assert cleanup.state == State.SUCCEEDED
    # submitted after its upstream already failed, it runs at once
    late = world.call("teardown-1", teardown, work)
    world.submit(late)
    assert late.state == State.QUEUED


def test_a_cancel_spares_teardown_calls_and_a_failing_one_shows_failed() -> None:
    world = World()
    work = world.call("work-0")
    cleanup = world.call("teardown-0", teardown, work)
    world.submit(work)
    world.submit(cleanup)
    world.start_all()
    world.core.cancel_run(world.run, at(2))
    assert world.core.take().cancels == [CancelAttempt("local", "r1", "work-0")]
    assert cleanup.state == State.PENDING  # waits for the killed attempt, then runs
    world.end(work, State.FAILED, **failure("Cancelled", "cancelled"))
    assert work.state == State.CANCELLED
    assert cleanup.state == State.QUEUED
    world.start_all()
    world.end(cleanup, State.FAILED, **failure())
    assert cleanup.state == State.FAILED  # its own failure, not a cancel


# -- placement: executors, devices, what cannot fit ----------------------------------------------
PLACEMENT = [
    pytest.param(plain, "local", (), id="default-executor"),
    pytest.param(inline, "inline", (), id="inline-isolation"),
    pytest.param(in_venv, "venv", (), id="venv-isolation"),
    pytest.param(venv_elsewhere, "elsewhere", (), id="executor-wins-over-isolation"),
    pytest.param(on_gpu, "local", (0,), id="gpu-device-given"),
]


@pytest.mark.parametrize(("fn", "executor", "gpus"), PLACEMENT)
def test_a_started_attempt_names_its_executor_and_devices(
    fn: Any, executor: str, gpus: tuple[int, ...]
) -> None:
    world = World()
    call = world.call("a-0", fn)
    world.submit(call)
    [start] = world.start_all().starts
    assert start.executor == executor
    assert start.gpus == gpus
    world.end(call, State.SUCCEEDED)
    assert world.core.free_gpus == [0, 1]


def test_a_call_that_can_never_fit_fails_with_a_resources_error() -> None:
    world = World()
    call = world.call("a-0", huge)
    world.submit(call)
    assert call.state == State.FAILED
    assert call.error is not None
    assert call.error["kind"] == "resources"


def test_a_start_the_loop_could_not_perform_fails_the_call_and_frees_capacity() -> None:
    world = World()
    call = world.call("a-0")
    world.submit(call)
    [start] = world.start_all().starts
    world.core.start_failed(start, LookupError("no executor 'lcal'"), at(1))
    assert call.state == State.FAILED
    assert call.error == {
        "type": "LookupError",
        "message": "no executor 'lcal'",
        "traceback": "",
        "kind": "exception",
    }
    assert world.core.free == world.core.capacity


# -- the cache ------------------------------------------------------------------------------------
@dataclass
class Hit:
    result: StoredResult | None
    state: State
    flow_run_id: str = "r0"
    key: str = "cached-0"


CACHE = [
    pytest.param(Hit(ONE, State.SUCCEEDED), State.CACHED, id="hit"),
    pytest.param(None, State.QUEUED, id="miss"),
    pytest.param(Hit(None, State.FAILED), State.QUEUED, id="no-result-to-reuse"),
]


@pytest.mark.parametrize(("hit", "after"), CACHE)
def test_a_cacheable_call_asks_for_a_lookup_and_follows_the_answer(
    hit: Hit | None, after: State
) -> None:
    world = World()
    call = world.call("cached-0", cached)
    fx = world.submit(call)
    assert [lookup.call for lookup in fx.lookups] == [call]
    assert call.state == State.PENDING
    world.core.cache_answer(call, hit, at(0))
    world.core.release_successes(at(0))
    assert call.state == after
    assert call.done is (after == State.CACHED)


# -- waking flow bodies ---------------------------------------------------------------------------
WAKES = [
    pytest.param(True, False, True, id="awaited-call"),
    pytest.param(False, True, True, id="body-waits-for-all"),
    pytest.param(False, False, False, id="nobody-waits"),
]


@pytest.mark.parametrize(("awaited", "awaiting_all", "wake"), WAKES)
def test_only_a_waiting_body_is_woken(awaited: bool, awaiting_all: bool, wake: bool) -> None:
    world = World()
    call = world.call("a-0")
    call.awaited = awaited
    world.run.awaiting_all = awaiting_all
    world.submit(call)
    world.start_all()
    fx = world.end(call, State.SUCCEEDED)
    assert fx.wake is wake


def test_a_late_report_of_an_abandoned_attempt_changes_nothing() -> None:
    world = World()
    call = world.call("a-0", flaky)
    world.submit(call)
    world.start_all()
    world.end(call, State.FAILED, now=at(0), **failure())
    world.core.retry(world.core.due_retries(at(10)), at(10))
    world.start_all(at(10))
    assert call.attempt == 2
    stale = WorkOutcome("r1", "a-0", 1, State.SUCCEEDED, started_at=0.0, ended_at=1.0)
    world.core.outcome(stale, at(11), started_at=None, ended_at=None)
    assert call.state == State.RUNNING
    assert not world.core.take()


def test_forgetting_an_old_state_of_a_run_keeps_the_new_one() -> None:
    # A flow retry attaches a new state of the same run before the old one is forgotten.
    world = World()
    old = world.run
    new = RunState("r1", flow_name="f", logical_date=T0, epoch=1)
    world.core.attach(new)
    world.core.detach(old)
    assert world.core.runs == {"r1": new}
    world.core.detach(new)
    assert world.core.runs == {}
