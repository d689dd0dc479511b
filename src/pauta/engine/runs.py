"""Creating, driving and ending flow runs: the steps shared by top-level and child runs."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pauta.core.errors import (
    FlowChangedError,
    FlowFailed,
    LeaseHeldError,
    LeaseLostError,
    PautaError,
)
from pauta.core.secrets import mask_file
from pauta.core.states import FlowRunState, State
from pauta.engine.callbacks import flow_event
from pauta.engine.lease import LEASE_TTL, driver_identity
from pauta.executors.capture import recover_scratch
from pauta.store.creation import Driver, Parent, identity, new_flow_run
from pauta.store.records import FlowRunRecord, TaskRunRecord, TaskWrite, WriteBatch

_CUT_OFF = (State.RUNNING, State.WAITING)

if TYPE_CHECKING:
    from pauta.definitions.flow import Flow
    from pauta.engine.loop import Engine
    from pauta.engine.replay import RunDriver


@dataclass(slots=True)
class FlowRun:
    """A finished flow run: what ``my_flow.run()`` returns."""

    id: str
    flow: str
    state: FlowRunState
    params: dict[str, Any]
    logical_date: datetime
    trigger: str
    started_at: datetime | None
    ended_at: datetime | None
    error: dict[str, Any] | None
    tasks: list[TaskRunRecord] = field(default_factory=list)
    value: Any = None
    exception: BaseException | None = field(default=None, repr=False)

    def result(self) -> Any:
        """The flow body's return value; raises ``FlowFailed`` unless the run succeeded."""
        if self.state != FlowRunState.SUCCEEDED:
            raise self.failure() from self.exception
        return self.value

    def failure(self) -> FlowFailed:
        error = self.error or {}
        failed = error.get("failed_tasks") or [t.key for t in self.tasks if t.state == "FAILED"]
        reason = f"{error.get('type')}: {error.get('message')}" if error.get("type") else None
        return FlowFailed(
            self.id, self.flow, state=str(self.state), failed_tasks=failed, reason=reason
        )


def new_run_record(
    flow: Flow[Any, Any],
    params_json: dict[str, Any],
    *,
    now: datetime,
    trigger: str = "manual",
    parent: RunDriver | None = None,
    parent_key: str | None = None,
    queued: bool = False,
) -> FlowRunRecord:
    """A run of a loaded flow: driven by this process from the start (`pauta run`, a child
    flow of ``parent``), or, with ``queued``, QUEUED for a worker (`pauta trigger`)."""
    host, pid = driver_identity()
    return new_flow_run(
        identity(flow),
        params_json,
        now=now,
        trigger=trigger,
        parent=Parent(parent.run_id, parent_key or "", parent.record.trigger) if parent else None,
        driver=None if queued else Driver(host, pid),
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_running(pid: int) -> bool:
    """Whether process ``pid`` still runs: a killed worker stays a zombie until reaped."""
    if not _pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # the state follows the parenthesised command name, which may hold spaces
            return stat.read().rpartition(b")")[2].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return True  # no /proc: the signal check is all there is


def take_over(
    engine: Engine,
    record: FlowRunRecord,
    flow: Flow[Any, Any],
    *,
    force: bool = False,
    allow_changes: bool = False,
) -> FlowRunRecord:
    """Make this process the run's driver, refusing while a live driver holds it."""
    now = engine.clock.now()
    if record.state == FlowRunState.SUCCEEDED:
        raise PautaError(f"run {record.id} already SUCCEEDED: there is nothing to resume")
    if record.code_hash and record.code_hash != flow.code_hash and not allow_changes:
        raise FlowChangedError(
            f"the flow changed since run {record.id} started: the body of {flow.name!r} is not "
            "the code the run recorded; resume with --allow-changes to replay it with the new "
            "code (calls re-run from the first difference)"
        )
    host, pid = driver_identity()
    if record.state == FlowRunState.RUNNING and not force:
        if record.driver_host == host:
            if record.driver_pid and record.driver_pid != pid and _pid_alive(record.driver_pid):
                raise LeaseHeldError(
                    f"run {record.id} is driven by process {record.driver_pid} on this host, "
                    "which is still alive; stop it first, or take over with --force"
                )
        elif record.heartbeat_at is not None:
            expires = record.heartbeat_at + timedelta(seconds=LEASE_TTL)
            if expires > now:
                raise LeaseHeldError(
                    f"run {record.id} is driven by {record.driver_host} (pid "
                    f"{record.driver_pid}) whose lease is fresh until {expires.isoformat()}; "
                    "wait until then, or take over with --force"
                )
    epoch = engine.store.take_lease(
        record.id, host=host, pid=pid, now=now, expected_epoch=record.lease_epoch
    )
    close_interrupted_attempts(engine, record, epoch, now)
    if record.state == FlowRunState.SCHEDULED:
        # a scheduled run that no worker picked up yet: queue it, then run it here
        engine.store.transition_flow_run(
            record.id, FlowRunState.QUEUED, expected=record.state, epoch=epoch, now=now
        )
        record.state = FlowRunState.QUEUED
    if record.state != FlowRunState.RUNNING:
        moved = engine.store.transition_flow_run(
            record.id,
            FlowRunState.RUNNING,
            expected=record.state,
            epoch=epoch,
            now=now,
            started_at=record.started_at or now,
        )
        if not moved:
            raise LeaseLostError(f"run {record.id} changed while it was being resumed; try again")
    record.lease_epoch = epoch
    record.state = FlowRunState.RUNNING
    record.driver_host, record.driver_pid = host, pid
    return record


INTERRUPTED: dict[str, Any] = {
    "type": "Interrupted",
    "message": "the run's driver stopped (killed, or its machine went down) while this attempt "
    "ran; the task ran again in a new attempt, which used none of its retries",
    "traceback": "",
    "kind": "interrupted",
}


def close_interrupted_attempts(
    engine: Engine, record: FlowRunRecord, epoch: int, now: datetime
) -> int:
    """End the attempts a dead driver left running as interrupted, with what they printed.

    Called when this process takes a run over: each attempt still RUNNING (or WAITING) in the
    store stays in the task's history, FAILED with an ``interrupted`` error (the engine runs
    the task again in a new attempt, without using a retry), and its log gets the output the
    dead worker's scratch file held. Returns how many attempts were closed.
    """
    store = engine.store
    for log_path in recover_scratch(str(engine.settings.logs_dir / record.id), _pid_running):
        mask_file(log_path)
    cut_off = [a for a in store.list_attempts(record.id) if a.state in _CUT_OFF]
    if not cut_off:
        return 0
    tasks = store.task_runs_by_key(record.id)
    # the dead driver was last seen alive at its last heartbeat
    seen = record.heartbeat_at or now
    batch = WriteBatch(fences={record.id: epoch})
    for attempt in cut_off:
        task = tasks.get(attempt.key)
        if task is None or task.kind != "task" or task.attempts != attempt.attempt:
            continue
        log_path = attempt.log_path
        closed = replace(
            attempt,
            state=State.FAILED,
            ended_at=max(seen, attempt.started_at) if attempt.started_at else seen,
            error=dict(INTERRUPTED),
            log_path=log_path if log_path and os.path.exists(log_path) else None,
        )
        batch.tasks.append(TaskWrite(task, task.state, closed, attempt.state))
    if batch:
        store.write(batch, now)
    return len(batch.tasks)


def _flow_callbacks(
    driver: RunDriver,
    state: FlowRunState,
    error: dict[str, Any] | None,
    notifiers: Sequence[Callable[[Any], Any]],
) -> None:
    options = driver.flow.options
    if state == FlowRunState.SUCCEEDED:
        what, callbacks = "success", list(options.on_success)
    elif state == FlowRunState.FAILED:
        what, callbacks = "failure", [*options.on_failure, *notifiers]
    else:
        return
    if callbacks:
        event = flow_event(driver.record, what, str(state), error, now=driver.engine.clock.now())
        driver.engine.callbacks.submit(driver.run_id, callbacks, event)


def drive(
    driver: RunDriver,
    on_start: Callable[[RunDriver], None] | None = None,
    notifiers: Sequence[Callable[[Any], Any]] = (),
    *,
    will_retry: bool = False,
) -> FlowRun:
    """Run the driver's flow body to the end and record how the run ended.

    ``notifiers`` are told of a failure, like the flow's own ``on_failure`` callbacks; neither
    hears of a failure that ``will_retry`` (the flow's retries replay the run).
    """
    engine = driver.engine
    driver.failure_callbacks = (*driver.flow.options.on_failure, *notifiers)
    engine.attach(driver)
    value: Any = None
    exception: BaseException | None = None
    try:
        if on_start is not None:
            on_start(driver)
        value, exception = driver.execute()
        state, value, error = driver.outcome(value, exception)
        stored = None
        if state == FlowRunState.SUCCEEDED and value is not None:
            try:
                stored = engine.results.put(value, run_id=driver.run_id, key="__flow__", attempt=1)
            except Exception as exc:
                state, value = FlowRunState.FAILED, None
                error = {
                    "type": type(exc).__name__,
                    "message": f"the flow's return value could not be stored: {exc}",
                }
                exception = exc
        engine.flush_now()
        driver.check_alive()
        now = engine.clock.now()
        ended = engine.store.transition_flow_run(
            driver.run_id,
            state,
            expected=FlowRunState.RUNNING,
            epoch=driver.epoch,
            now=now,
            ended_at=now,
            result=stored,
            error=error,
        )
        if not ended:
            raise LeaseLostError(
                f"run {driver.run_id} was taken over by another driver before it could end"
            )
        if not (will_retry and state == FlowRunState.FAILED):
            _flow_callbacks(driver, state, error, notifiers)
    finally:
        engine.callbacks.wait(driver.run_id)
        engine.detach(driver)
    record = engine.store.get_flow_run(driver.run_id)
    return FlowRun(
        id=record.id,
        flow=record.flow,
        state=record.state,
        params=record.params,
        logical_date=record.logical_date,
        trigger=record.trigger,
        started_at=record.started_at,
        ended_at=record.ended_at,
        error=record.error,
        tasks=[call.record() for call in driver.order],
        value=value,
        exception=exception if isinstance(exception, Exception) else None,
    )
