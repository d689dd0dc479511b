"""``TaskCall``: the engine's node for one task call in one run.

The engine thread owns every field but ``observed``; flow body threads only read ``state``,
``done`` and the result, and wait on the run's ``Signals``. State changes go through
``TaskCall.move``, which checks the transition table; the execution core reports each changed
call to the loop, which writes it with compare-and-set. A call knows its ``RunState`` only:
nothing here reaches the driver, the engine or the store.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pauta.core.errors import TaskFailed
from pauta.core.resources import Resources
from pauta.core.states import TASK_OK, TASK_TERMINAL, State, task_transition_allowed
from pauta.store.records import AttemptRecord, TaskRunRecord
from pauta.store.results import StoredResult

if TYPE_CHECKING:
    from pauta.definitions.task import Task
    from pauta.engine.runstate import RunState

_MISSING = object()


@functools.lru_cache(maxsize=256)
def resources_dict(resources: Resources) -> dict[str, Any]:
    """The JSON form of a request, computed once per distinct request."""
    return resources.to_dict()


class TaskCall:
    """One task call: its inputs, dependencies, state, attempts and result."""

    def __init__(
        self,
        run: RunState,
        key: str,
        task: Task[Any, Any] | None,
        name: str,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        fingerprint: str = "",
        map_index: int | None = None,
        kind: str = "task",
        created_at: datetime,
        label: str | None = None,
        group: str | None = None,
    ) -> None:
        self.run = run
        self.key = key
        self.label = label
        self.group = group
        # runs whatever happened before it (see ExecutionCore.submit); set when submitted
        self.teardown = False
        # latest_only outside the latest tick: SKIPPED when submitted
        self.skip = False
        # upstream keys it only waits for (wait_for=): a skipped one does not skip it
        self.order_only: frozenset[str] = frozenset()
        self.task = task
        self.name = name
        self.args = args
        self.kwargs = kwargs or {}
        self.fingerprint = fingerprint
        self.map_index = map_index
        self.kind = kind
        self.upstream: list[TaskCall] = []
        self.dependents: list[TaskCall] = []
        self.waiting = 0
        self.state = State.PENDING
        self.attempt = 0
        self.failed_attempts = 0
        self.stored: StoredResult | None = None
        self.error: dict[str, Any] | None = None
        self.created_at = created_at
        self.queued_at: datetime | None = None
        self.started_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.worker: str | None = None
        # where the current attempt ran (a host name, a Ray node id)
        self.node: str | None = None
        # the executor its attempts run with (set when one starts)
        self.executor: str | None = None
        self.log_path: str | None = None
        self.child_run_id: str | None = None
        self.cache_key: str | None = None
        self.cached_from: str | None = None
        self.observed = False
        self.done = False
        # a thread waits for this call (see RunState.wait_for and ExecutionCore._resolve)
        self.awaited = False
        self.retry_at: float | None = None
        # engine bookkeeping for "durable before dependents start"
        self.registered_seq = 0
        self.after_undurable = False
        # what the store holds, for compare-and-set; None means no row yet
        self.persisted: State | None = None
        self.attempt_persisted: State | None = None
        self.attempt_persisted_no = 0
        self._value: Any = _MISSING
        self._callbacks: list[Callable[[], None]] = []

    # -- state ------------------------------------------------------------------------------
    def move(self, new: State) -> None:
        """Change state through the transition table (the core's one chokepoint)."""
        if new == self.state:
            return
        if not task_transition_allowed(self.state, new):
            raise RuntimeError(f"task {self.key}: transition {self.state} → {new} is not allowed")
        self.state = new

    def start_on(self, executor: str, at: datetime) -> None:
        """An attempt of this call was handed to ``executor`` at ``at``."""
        self.move(State.RUNNING)
        self.started_at = at
        self.executor = executor

    @property
    def ok(self) -> bool:
        return self.state in TASK_OK

    @property
    def terminal(self) -> bool:
        return self.state in TASK_TERMINAL

    def add_done_callback(self, fn: Callable[[], None]) -> None:
        if self.done:
            fn()
        else:
            self._callbacks.append(fn)

    def mark_done(self) -> list[Callable[[], None]]:
        """Flag the call finished; returns the callbacks to run (outside any lock)."""
        self.done = True
        callbacks, self._callbacks = self._callbacks, []
        return callbacks

    # -- results ----------------------------------------------------------------------------
    def value(self) -> Any:
        """The call's return value (loaded once), None when it was skipped, or raise
        ``TaskFailed``."""
        if self.state == State.SKIPPED:
            return None
        if not self.ok:
            error = self.error or {}
            raise TaskFailed(
                self.name,
                self.key,
                state=str(self.state),
                attempts=self.attempt,
                error_type=error.get("type"),
                error_message=error.get("message"),
                traceback=error.get("traceback"),
            )
        if self._value is _MISSING:
            self._value = self.run.load(self.stored)
        return self._value

    def set_value(self, value: Any) -> None:
        """Keep an already loaded value (e.g. a child flow's return value)."""
        self._value = value

    # -- records ----------------------------------------------------------------------------
    def record(self) -> TaskRunRecord:
        task = self.task
        options = task.options if task is not None else None
        return TaskRunRecord(
            flow_run_id=self.run.run_id,
            key=self.key,
            name=self.name,
            label=self.label,
            group=self.group,
            teardown=self.teardown,
            state=self.state,
            attempts=self.attempt,
            map_index=self.map_index,
            fingerprint=self.fingerprint,
            upstream=[u.key for u in self.upstream],
            priority=options.priority if options else 0,
            resources=resources_dict(options.resources) if options else {},
            kind=self.kind,
            child_run_id=self.child_run_id,
            created_at=self.created_at,
            started_at=self.started_at,
            ended_at=self.ended_at,
            result=self.stored,
            error=self.error,
            cache_key=self.cache_key,
            cached_from=self.cached_from,
        )

    def attempt_record(self) -> AttemptRecord | None:
        if self.attempt == 0:
            return None
        return AttemptRecord(
            flow_run_id=self.run.run_id,
            key=self.key,
            attempt=self.attempt,
            state=self.state,
            queued_at=self.queued_at,
            started_at=self.started_at,
            ended_at=self.ended_at,
            error=self.error,
            worker=self.worker,
            log_path=self.log_path,
            node=self.node,
            executor=self.executor,
        )

    def __repr__(self) -> str:
        return f"<TaskCall {self.key} {self.state} attempt={self.attempt}>"
