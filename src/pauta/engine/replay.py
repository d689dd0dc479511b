"""``RunDriver``: runs one flow body and stands for its run while it executes.

The body runs in the calling thread. Each task call it makes becomes a ``TaskCall`` (keyed by
task name and call count) that the engine thread schedules. On a replay (``runs resume``) calls
that already succeeded are answered from the store without running again; a call whose inputs
differ from the record stops the replay, unless changes are allowed.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pauta.core.errors import FlowChangedError, PautaError
from pauta.core.states import TASK_OK, FlowRunState, State, task_transition_allowed
from pauta.definitions.context import Context, Interval, use_context
from pauta.definitions.groups import current_group
from pauta.definitions.runtime import reset_active_run, set_active_run
from pauta.engine.calls import TaskCall
from pauta.engine.commands import SubmitCall
from pauta.engine.fingerprint import call_key, fingerprint
from pauta.engine.flowlog import capture_flow_output, flow_log_path
from pauta.engine.futures import TaskFuture, find_futures
from pauta.engine.naming import call_label, grouped
from pauta.engine.outcome import run_outcome
from pauta.engine.payload import dump_args
from pauta.engine.runstate import RunState
from pauta.engine.teardown import attempt_timeout
from pauta.executors.base import RunInfo, TaskRef, WorkItem
from pauta.store.records import FlowRunRecord, TaskRunRecord
from pauta.store.results import StoredResult

if TYPE_CHECKING:
    from pauta.definitions.flow import Flow
    from pauta.definitions.task import Task
    from pauta.engine.loop import Engine

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-\[\]]")
_SAFE = re.compile(r"[A-Za-z0-9_\-\[\]][A-Za-z0-9_.\-\[\]]*")
_RESTARTABLE = (State.QUEUED, State.RUNNING, State.RETRYING, State.WAITING)


ChildFlows = Callable[["RunDriver", "Flow[Any, Any]", dict[str, Any]], Any]
"""Runs a flow called inside this run as a child run (``children.run_child_flow``)."""


class RunDriver:
    """Drives one flow run in this process (the ``ActiveRun`` task calls are submitted to).

    ``child_flows`` runs the flows the body calls; the runner hands it in, so this module does
    not reach up to child-run creation.
    """

    def __init__(
        self,
        engine: Engine,
        flow: Flow[Any, Any],
        record: FlowRunRecord,
        params: dict[str, Any],
        *,
        recorded: dict[str, TaskRunRecord] | None = None,
        allow_changes: bool = False,
        child_flows: ChildFlows | None = None,
    ) -> None:
        self.engine = engine
        self.flow = flow
        self.record = record
        self.params = params
        self.run_id = record.id
        self.state = RunState(
            record.id,
            flow_name=flow.name,
            logical_date=record.logical_date,
            epoch=record.lease_epoch,
            priority=flow.options.priority,
            max_active_tasks=flow.options.max_active_tasks,
            results=engine.results,
            signals=engine.signals,
            clock=engine.clock,
        )
        self.calls: dict[str, TaskCall] = self.state.calls
        self.order: list[TaskCall] = []
        self.timed_out = False
        self.failure_callbacks = tuple(flow.options.on_failure)  # `drive` adds the notifiers
        self.cancel_error: dict[str, Any] | None = None  # why it was cancelled, when pauta knows
        self._child_flows = child_flows
        self._counters: dict[str, int] = {}
        self._is_latest: bool | None = None
        self._blobs: dict[str, bytes] = {}
        self._recorded = recorded or {}
        self._allow_changes = allow_changes
        self._diverged = False
        self.logs_dir = engine.settings.logs_dir / self.run_id
        self._log_prefix = f"{self.logs_dir}{os.sep}"
        self.flow_log_path = flow_log_path(engine.settings.logs_dir, self.run_id)
        self.run_info = RunInfo(
            run_id=self.run_id,
            flow_name=flow.name,
            params=record.params,
            logical_date=record.logical_date,
            interval_start=record.interval_start,
            interval_end=record.interval_end,
            trigger=record.trigger,
        )

    # -- ActiveRun: what task calls in the body do ----------------------------------------------
    def submit(
        self,
        task: Task[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        wait_for: Sequence[Any],
    ) -> TaskFuture[Any]:
        scoped = grouped(task.name)
        count = self._next_count(scoped)
        return self._new_call(task, call_key(scoped, count), args, kwargs, wait_for, None)

    def map(
        self,
        task: Task[Any, Any],
        items: Any,
        common: dict[str, Any],
        wait_for: Sequence[Any],
    ) -> list[TaskFuture[Any]]:
        # each call takes one item of a future's list: an edge from the call that made it
        lineage = (items,) if isinstance(items, TaskFuture) else ()
        if isinstance(items, TaskFuture):
            items = items.result()
        try:
            items = list(items)
        except TypeError:
            raise PautaError(
                f"{task.name}.map() needs a list (or a future of a list), got "
                f"{type(items).__name__}"
            ) from None
        scoped = grouped(task.name)
        count = self._next_count(scoped)
        return [
            self._new_call(
                task,
                call_key(scoped, count, index),
                (item,),
                dict(common),
                wait_for,
                index,
                lineage=lineage,
            )
            for index, item in enumerate(items)
        ]

    def call_flow(self, flow: Flow[Any, Any], params: dict[str, Any]) -> Any:
        if self._child_flows is None:
            raise PautaError(
                f"flow {flow.name!r} was called inside run {self.run_id}, which was started "
                "without a way to run child flows; run the parent through pauta's Runner"
            )
        return self._child_flows(self, flow, params)

    def child(
        self,
        flow: Flow[Any, Any],
        record: FlowRunRecord,
        params: dict[str, Any],
        *,
        recorded: dict[str, TaskRunRecord] | None = None,
    ) -> RunDriver:
        """A driver for a child run of this one, on the same engine."""
        return type(self)(
            self.engine, flow, record, params, recorded=recorded, child_flows=self._child_flows
        )

    def next_key(self, name: str) -> str:
        """The key of the next call of ``name`` (a task or a child flow) in this run, inside
        the group the body is in."""
        scoped = grouped(name)
        return call_key(scoped, self._next_count(scoped))

    def _next_count(self, name: str) -> int:
        count = self._counters.get(name, 0)
        self._counters[name] = count + 1
        return count

    # -- the run's state, as the core holds it -------------------------------------------------
    @property
    def epoch(self) -> int:
        return self.state.epoch

    @property
    def cancelling(self) -> bool:
        return self.state.cancelling

    @property
    def lost(self) -> BaseException | None:
        return self.state.lost

    @property
    def unfinished(self) -> int:
        return self.state.unfinished

    def _new_call(
        self,
        task: Task[Any, Any],
        key: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        wait_for: Sequence[Any],
        map_index: int | None,
        *,
        lineage: Sequence[TaskFuture[Any]] = (),
    ) -> TaskFuture[Any]:
        """A new call; ``lineage`` are futures it depends on without taking them as arguments
        (they are edges of the graph but not part of the call's fingerprint)."""
        self.check_alive()
        upstream = [*find_futures((args, kwargs, tuple(wait_for))), *lineage]
        for future in upstream:
            if future._call.run is not self.state:
                raise PautaError(
                    f"task {key!r} was given a future of another flow run ({future.key}); pass "
                    "its .result() instead"
                )
            if not task.options.teardown:
                # a teardown taking a failed call's future does not handle that failure
                future._call.observed = True
        call = TaskCall(
            self.state,
            key,
            task,
            task.name,
            args,
            kwargs,
            fingerprint=fingerprint(task.name, args, {**kwargs, "__wait_for__": list(wait_for)}),
            map_index=map_index,
            created_at=self.engine.clock.now(),
            label=call_label(task, args, kwargs),
            group=current_group(),
        )
        seen: set[int] = set()
        for future in upstream:
            if id(future._call) not in seen:
                seen.add(id(future._call))
                call.upstream.append(future._call)
        if wait_for:
            data = {f.key for f in find_futures((args, kwargs))} | {f.key for f in lineage}
            call.order_only = frozenset(u.key for u in call.upstream if u.key not in data)
        call.skip = task.options.latest_only and not self._latest_tick()
        return self.add_call(call)

    def _latest_tick(self) -> bool:
        """Whether this run may run latest_only tasks: any run but a scheduled or backfill
        run whose flow has a later tick's run (it is catching up, or filling the past)."""
        if self._is_latest is None:
            record = self.record
            if record.trigger not in ("schedule", "backfill"):
                self._is_latest = True
            else:
                last = self.engine.store.last_scheduled_tick(self.flow.name)
                self._is_latest = last is None or record.logical_date >= last
        return self._is_latest

    def add_call(self, call: TaskCall) -> TaskFuture[Any]:
        """Track ``call`` (restoring it from the record on a replay) and hand it to the engine."""
        if call.key in self.calls:
            raise PautaError(f"two task calls got the key {call.key!r}; task names must be unique")
        future: TaskFuture[Any] = TaskFuture(call)
        self.calls[call.key] = call
        self.order.append(call)
        if self._restore(call):
            return future
        self.state.unfinished += 1
        if call.kind == "task":
            self.engine.post(SubmitCall(call))
        return future

    def _restore(self, call: TaskCall) -> bool:
        """Apply what the run recorded for this call; True when it needs no execution."""
        rec = self._recorded.get(call.key)
        if rec is None:
            return False
        if not self._diverged and rec.fingerprint != call.fingerprint:
            if not self._allow_changes:
                raise FlowChangedError(
                    f"the flow changed since run {self.run_id} started: call {call.key!r} now "
                    f"has different inputs than the recorded call {rec.key!r} (fingerprint "
                    f"{call.fingerprint} vs {rec.fingerprint}); resume with --allow-changes to "
                    "re-run from the first difference"
                )
            self._diverged = True
        call.persisted = rec.state
        call.state = rec.state
        call.attempt = rec.attempts
        call.attempt_persisted_no = rec.attempts
        call.attempt_persisted = State.FAILED if rec.state == State.RETRYING else rec.state
        call.child_run_id = rec.child_run_id
        call.created_at = rec.created_at or call.created_at
        if not self._diverged and rec.state in TASK_OK:
            call.stored = rec.result
            call.started_at, call.ended_at = rec.started_at, rec.ended_at
            call.done = True
            return True
        if not self._diverged and rec.state in _RESTARTABLE:
            return False
        if rec.state != State.PENDING:
            # reopened: a failed, skipped or cancelled call (or any call after a change) runs
            # again with a fresh retry budget. Set here without a write: the engine thread owns
            # writes, and queuing the call writes it.
            if not task_transition_allowed(rec.state, State.PENDING):
                raise PautaError(f"call {call.key!r} cannot be reopened from {rec.state}")
            call.state = State.PENDING
        call.error = None
        return False

    # -- waiting ------------------------------------------------------------------------------
    def check_alive(self) -> None:
        self.state.check_alive()

    def wait_for_call(self, call: TaskCall, timeout: float | None) -> bool:
        """Block until ``call`` is done; False on timeout."""
        return self.state.wait_for(call, timeout)

    def wait_all(self) -> None:
        """Block until every call this run submitted has finished."""
        self.state.wait_all()

    # -- called by the engine thread ------------------------------------------------------------
    def abort(self, exc: BaseException) -> None:
        """Another driver took this run over (or the engine died): stop driving it."""
        self.state.lost = exc

    def work_item(self, call: TaskCall, task_ref: TaskRef) -> WorkItem:
        """The work item of the call's current attempt (its log file named by attempt)."""
        task = call.task
        assert task is not None
        call.log_path = self.log_path(call.key, call.attempt)
        return WorkItem(
            run=self.run_info,
            key=call.key,
            task_name=call.name,
            attempt=call.attempt,
            task_ref=task_ref,
            args_blob=self.args_blob(call),
            log_path=call.log_path,
            timeout=attempt_timeout(
                task.options.timeout, cancelling_teardown=call.teardown and self.cancelling
            ),
            is_async=task.is_async,
            venv=task.options.venv,
            container=task.options.container,
        )

    def cancel(self) -> None:
        """Cancel the run's remaining calls (running attempts are killed).

        The flow body notices at its next task call or ``.result()``: pauta cannot interrupt
        plain Python code running in the body.
        """
        self.engine.cancel(self.state)

    def _time_out(self) -> None:
        self.timed_out = True
        self.cancel()
        self.state.signals.notify()

    # -- helpers ------------------------------------------------------------------------------
    def log_path(self, key: str, attempt: int) -> str:
        """Where the attempt's output goes; keys are made safe as file names."""
        safe = key if _SAFE.fullmatch(key) else _UNSAFE.sub("_", key)
        return f"{self._log_prefix}{safe}.{attempt}.log"

    def args_blob(self, call: TaskCall) -> bytes:
        """The call's arguments pickled for a worker.

        Calls of one run with the same fingerprint have the same task, literal arguments and
        upstream calls, so their bytes are the same: a fan-out of thousands of calls on one
        input pickles it once.
        """
        if not call.args and not call.kwargs:
            return dump_args((), {})
        if call.teardown:
            # what it was given may have failed: those arguments are None (not cached: the
            # same fingerprint in an ordinary call must not get the Nones)
            return dump_args(call.args, call.kwargs, key=call.key, missing_as_none=True)
        blob = self._blobs.get(call.fingerprint)
        if blob is None:
            blob = dump_args(call.args, call.kwargs, key=call.key)
            if len(self._blobs) >= 1024:
                self._blobs.clear()
            self._blobs[call.fingerprint] = blob
        return blob

    def load_result(self, stored: StoredResult | None) -> Any:
        return self.state.load(stored)

    def context(self) -> Context:
        rec = self.record
        return Context(
            run_id=self.run_id,
            flow_name=self.flow.name,
            # the stored JSON form, as every task of the run sees it
            params=dict(self.record.params),
            logical_date=rec.logical_date,
            interval=Interval(rec.interval_start, rec.interval_end),
            trigger=rec.trigger,
        )

    # -- the body -----------------------------------------------------------------------------
    def execute(self) -> tuple[Any, BaseException | None]:
        """Run the flow body, then wait for every call; returns (value, body error)."""
        token = set_active_run(self)
        value: Any = None
        error: BaseException | None = None
        timer = None
        if self.flow.options.timeout:
            timer = threading.Timer(self.flow.options.timeout, self._time_out)
            timer.daemon = True
            timer.start()
        try:
            with use_context(self.context()), capture_flow_output(self.flow_log_path):
                if self.flow.is_async:
                    import asyncio  # only async flows pay for importing it (~60 ms)

                    value = asyncio.run(self.flow.fn(**self.params))
                else:
                    value = self.flow.fn(**self.params)
        except KeyboardInterrupt:
            self.cancel()
            error = KeyboardInterrupt()
        except BaseException as exc:
            error = exc
        finally:
            reset_active_run(token)
        try:
            self.wait_all()
        except KeyboardInterrupt:
            self.cancel()
            error = error or KeyboardInterrupt()
            self.wait_all()
        finally:
            if timer is not None:
                timer.cancel()
        return value, error

    def outcome(
        self, value: Any, error: BaseException | None
    ) -> tuple[FlowRunState, Any, dict[str, Any] | None]:
        """How the run ends: its state, its resolved value, and the error record."""
        return run_outcome(self, value, error)

    def failed_keys(self) -> list[str]:
        return [c.key for c in self.order if c.state == State.FAILED]
