"""The execution core: the state machine of every task call of the runs in this process.

It is given events with their time (a call was submitted, attempts were picked and started,
an attempt ended, a retry is due, a run is cancelled, a cache lookup answered) and answers with
``Effects``: the calls whose state changed (to write), the attempts to start or kill, the cache
lookups, the callbacks to notify and whether waiting flow bodies must wake. It does no I/O
and holds only its own data: a test drives it step by step; the ``Engine`` loop does the I/O.

Per-call dependency counters keep the cost per task constant; the pure ``ReadyQueue`` decides
what starts on the free capacity. A success is held back from its dependents until it is
durable (``needs_durability`` tells the loop when a write must come first).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pauta.core.clusters import ClusterView
from pauta.core.errors import PautaError
from pauta.core.resources import Resources
from pauta.core.states import State
from pauta.dispatch.clusters import Clusters
from pauta.dispatch.queue import ReadyQueue, ReadyTask, RunningCounts
from pauta.engine.caching import cache_key_for
from pauta.engine.calls import TaskCall
from pauta.engine.effects import (
    CANCELLED_ERROR,
    CancelAttempt,
    Effects,
    LookupCache,
    NotifyCallbacks,
    Now,
    Running,
    StartAttempt,
    exception_error,
)
from pauta.engine.failures import (
    dependents_after,
    runs_past,
    skipped_after,
    skipped_error,
    upstream_error,
)
from pauta.engine.retries import delay_after, should_retry
from pauta.engine.runstate import RunState
from pauta.executors.base import WorkOutcome


class ExecutionCore:
    """Task-call state for every run in this process; see the module docstring."""

    def __init__(
        self,
        capacity: Resources,
        *,
        default_executor: str = "local",
        no_cache: bool = False,
        policy: str = "priority",
        reservation_after: float = 30.0,
        capacity_model: Callable[[str], str] | None = None,
    ) -> None:
        self.capacity = capacity
        self.default_executor = default_executor
        self.no_cache = no_cache
        # "priority" (with bounded backfilling) is the policy; "fifo" exists for comparison
        queue_options: dict[str, Any] = {"reservation_after": reservation_after}
        if policy != "priority":
            queue_options["policy"] = policy
        self.queue = ReadyQueue(capacity, **queue_options)
        # executors of capacity model "nodes" get queues of their own; the rest share this one
        self.clusters = Clusters(capacity_model or (lambda name: "slots"), queue_options)
        self.counts = RunningCounts()
        self.pools: dict[str, int] = {}
        self.free = capacity
        self.free_gpus = list(range(capacity.gpus))
        self.runs: dict[str, RunState] = {}
        self.running: dict[tuple[str, str], Running] = {}
        self.fx = Effects()
        self._release: list[TaskCall] = []
        self._timers: list[tuple[float, int, TaskCall]] = []
        self._seq = itertools.count()
        self._first_undurable: int | None = None

    # -- the loop's view ----------------------------------------------------------------------
    def take(self) -> Effects:
        """The effects gathered since the last call, to perform now."""
        fx, self.fx = self.fx, Effects()
        return fx

    def has_releases(self) -> bool:
        return bool(self._release)

    def next_timer(self) -> float | None:
        """When the earliest retry is due (monotonic seconds)."""
        return self._timers[0][0] if self._timers else None

    def undurable(self) -> bool:
        """Whether a success was resolved since the last write."""
        return self._first_undurable is not None

    def durable(self) -> None:
        """Everything resolved so far is in the store now."""
        self._first_undurable = None

    def needs_durability(self, call: TaskCall | None) -> bool:
        """Whether ``call`` may depend on a success not yet in the store.

        It does when an input of it finished since the last write, or when the flow body
        submitted it after such a success was resolved (the body may have read the value).
        """
        first = self._first_undurable
        if call is None or first is None:
            return False
        return call.after_undurable or call.registered_seq > first

    def attach(self, run: RunState) -> None:
        self.runs[run.run_id] = run

    def detach(self, run: RunState) -> None:
        # A flow retry drives the same run id again with a new RunState, attached at once by
        # its thread while this ForgetRun for the old one may still wait in the inbox: only the
        # state it names is dropped.
        if self.runs.get(run.run_id) is run:
            del self.runs[run.run_id]

    def call_for(self, ready: ReadyTask) -> TaskCall | None:
        run_id, key = ready.id  # type: ignore[misc]
        run = self.runs.get(run_id)
        return run.calls.get(key) if run is not None else None

    # -- events -------------------------------------------------------------------------------
    def submit(self, call: TaskCall, now: Now) -> Effects:
        """A flow body called a task: wire its dependencies and queue it when ready."""
        if call.done:
            return self.fx
        call.registered_seq = next(self._seq)
        # A teardown call runs whatever happened before it: marked so, or made while the run
        # is being cancelled (by the body's finally: or except: on its way out).
        task = call.task
        call.teardown = bool(task is not None and task.options.teardown) or call.run.cancelling
        if call.skip:
            reason = f"latest_only: run {call.run.run_id} is not of the flow's latest tick"
            self._finish_not_ok(call, State.SKIPPED, skipped_error(reason), now)
            return self.fx
        for upstream in call.upstream:
            if upstream.done and not upstream.ok and runs_past(upstream, call):
                continue  # ended: nothing to wait for, and it does not stop this call
            if upstream.done and upstream.state == State.SKIPPED:
                self._finish_not_ok(call, State.SKIPPED, skipped_after(upstream), now)
                return self.fx
            if upstream.done and not upstream.ok:
                for other in call.upstream:
                    if call in other.dependents:
                        other.dependents.remove(call)
                call.waiting = 0
                self._finish_not_ok(call, State.UPSTREAM_FAILED, upstream_error(upstream), now)
                return self.fx
            if not upstream.done:
                call.waiting += 1
                upstream.dependents.append(call)
        if call.waiting == 0:
            self._make_ready(call, now)
        return self.fx

    def release_successes(self, now: Now) -> Effects:
        """Resolve finished calls and count them off their dependents, without waiting for
        the store: whatever starts because of them is held back until they are durable."""
        released, self._release = self._release, []
        if not released:
            return self.fx
        if self._first_undurable is None:
            self._first_undurable = next(self._seq)
        self._resolve(released)
        for call in released:
            task = call.task
            if task is not None and task.options.on_success:
                self.fx.notices.append(NotifyCallbacks(call, "success", task.options.on_success))
            for dependent in call.dependents:
                dependent.waiting -= 1
                if dependent.waiting == 0 and not dependent.done:
                    dependent.after_undurable = True
                    self._make_ready(dependent, now)
        return self.fx

    def cache_answer(self, call: TaskCall, hit: Any, now: Now) -> Effects:
        """The cache lookup for ``call`` answered: a usable earlier result (``hit``) or None."""
        if call.done or call.state != State.PENDING:
            return self.fx
        if hit is None or (hit.result is None and hit.state != State.SUCCEEDED):
            self._queue(call, now, new_attempt=True)
            return self.fx
        call.stored = hit.result
        call.cached_from = f"{hit.flow_run_id}/{hit.key}"
        call.started_at = call.ended_at = now.wall
        self._move(call, State.CACHED)
        self._release.append(call)
        return self.fx

    def pick(self, now: Now) -> list[ReadyTask]:
        """The queued calls that may start on the free capacity (in the order to start them).

        The loop writes first when ``needs_durability`` holds for any of them, then ``start``s
        them, or hands them back with ``unpick`` when the write failed.
        """
        counts, pools, at = self.counts, self.pools, now.monotonic
        picked = (
            self.queue.pick(self.free, running=counts, pools=pools, now=at) if self.queue else []
        )
        if self.clusters:
            picked += self.clusters.pick(picked, running=counts, pools=pools, now=at)
        return picked

    def unpick(self, picked: list[ReadyTask]) -> None:
        for ready in picked:
            call = self.call_for(ready)
            cluster = self.clusters.of(self.executor_for(call)) if call is not None else None
            (self.queue if cluster is None else cluster.queue).push(ready)

    def executor_for(self, call: TaskCall) -> str:
        """The executor a call's attempts run on."""
        return call.task.options.executor_or(self.default_executor)  # type: ignore[union-attr]

    def set_view(self, name: str, view: ClusterView, now: Now) -> Effects:
        """A cluster executor saw its cluster anew; calls that can never start there fail."""
        for ready, error in self.clusters.see(name, view):
            call = self.call_for(ready)
            if call is not None:
                self._finish_not_ok(call, State.FAILED, error, now)
        return self.fx

    def start(self, picked: list[ReadyTask], now: Now) -> Effects:
        """Reserve capacity for the picked calls and ask the loop to start their attempts."""
        fx = self.fx
        for ready in picked:
            call = self.call_for(ready)
            if call is None or call.state != State.QUEUED:
                continue
            call.after_undurable = False
            executor = self.executor_for(call)
            cluster = self.clusters.of(executor)
            gpus: tuple[int, ...] = ()
            request = ready.resources
            if cluster is not None:
                cluster.reserve(request)  # the cluster assigns devices itself
            else:
                wanted = request.gpus
                if wanted:
                    gpus = tuple(self.free_gpus[:wanted])
                    del self.free_gpus[:wanted]
                self.free = self.free.minus(request)
            self.counts.started(ready)
            running = Running(call, ready, executor, gpus, cluster)
            self.running[ready.id] = running  # type: ignore[index]
            call.start_on(executor, now.wall)
            fx.writes.append(call)
            fx.starts.append(StartAttempt(call, ready, executor, gpus))
        return fx

    def start_failed(self, start: StartAttempt, exc: BaseException, now: Now) -> Effects:
        """The loop could not hand the attempt to its executor (no such executor, bad
        arguments): the attempt fails without retries."""
        call = start.call
        running = self.running.pop((call.run.run_id, call.key), None)
        if running is not None:
            self._free(running)
        call.ended_at = now.wall
        self._finish_not_ok(call, State.FAILED, exception_error(exc), now)
        return self.fx

    def outcome(self, outcome: WorkOutcome, now: Now, *, started_at: Any, ended_at: Any) -> Effects:
        """An executor reported how an attempt went (``started_at``/``ended_at`` as datetimes)."""
        running = self.running.get((outcome.run_id, outcome.key))
        if running is None or running.call.attempt != outcome.attempt:
            return self.fx  # a late report of an attempt the core already gave up on
        call = running.call
        if outcome.state == State.WAITING:
            # a sensor found its condition false: it waits, and the attempt goes on
            if call.state == State.RUNNING:
                self._move(call, State.WAITING)
            return self.fx
        del self.running[(outcome.run_id, outcome.key)]
        self._free(running)
        call.started_at = started_at or call.started_at
        call.ended_at = ended_at
        call.worker = outcome.worker or None
        call.node = outcome.node or None
        self.fx.writes.append(call)
        if outcome.interrupted and not call.run.cancelling:
            self._move(call, State.QUEUED)
            self._queue(call, now, new_attempt=False)
        elif outcome.state == State.SUCCEEDED:
            call.stored = outcome.result
            call.error = None
            self._move(call, State.SUCCEEDED)
            self._release.append(call)
        else:
            info = outcome.error
            error = info.to_dict() if info else exception_error(RuntimeError("failed"))
            mro = (info.mro if info else ()) or (error["type"],)
            self._attempt_failed(call, error, mro, now)
        return self.fx

    def external(self, call: TaskCall, state: State, detail: Any, now: Now) -> Effects:
        """A call run outside the executors (a child flow) moved on."""
        self.fx.writes.append(call)
        if state == State.RUNNING:
            call.attempt = max(call.attempt, 1)
            if call.state in (State.PENDING, State.RETRYING):
                call.move(State.QUEUED)
            if call.state == State.QUEUED:
                call.move(State.RUNNING)
            call.started_at = now.wall
        elif state == State.SUCCEEDED:
            call.stored = detail
            call.ended_at = now.wall
            self._move(call, State.SUCCEEDED)
            self._release.append(call)
        else:
            call.ended_at = now.wall
            self._finish_not_ok(call, state, detail, now)
        return self.fx

    def due_retries(self, now: Now) -> list[TaskCall]:
        """Calls whose retry delay has passed; the loop makes sure each failed attempt is
        written (``attempt_persisted``) before ``retry`` starts the next one."""
        due = []
        while self._timers and self._timers[0][0] <= now.monotonic:
            _, _, call = heapq.heappop(self._timers)
            if call.state == State.RETRYING:
                due.append(call)
        return due

    def retry(self, calls: list[TaskCall], now: Now) -> Effects:
        for call in calls:
            if call.state == State.RETRYING:
                self._queue(call, now, new_attempt=True)
        return self.fx

    def cancel_run(self, run: RunState, now: Now) -> Effects:
        """Cancel every unfinished call of ``run`` but its teardown calls, which start and
        finish (within ``CANCEL_TEARDOWN_LIMIT``); running attempts are killed."""
        run.cancelling = True
        for call in list(run.calls.values()):
            if call.done or call.teardown:
                continue
            running = self.running.get((run.run_id, call.key))
            if running is not None:
                self.fx.cancels.append(CancelAttempt(running.executor, run.run_id, call.key))
            elif call.state in (State.PENDING, State.QUEUED, State.RETRYING):
                self._finish_not_ok(call, State.CANCELLED, CANCELLED_ERROR, now)
        return self.fx

    # -- transitions --------------------------------------------------------------------------
    def _move(self, call: TaskCall, state: State) -> None:
        call.move(state)
        self.fx.writes.append(call)

    def _make_ready(self, call: TaskCall, now: Now) -> None:
        task = call.task
        if task is not None and task.options.cache and call.state == State.PENDING:
            call.cache_key = cache_key_for(call)
            if call.cache_key is not None and not self.no_cache:
                expiration = task.options.cache_expiration
                not_before = (
                    now.wall - timedelta(seconds=expiration) if expiration is not None else None
                )
                self.fx.lookups.append(LookupCache(call, not_before))
                return
        if call.state in (State.RUNNING, State.WAITING):
            # restored from a run whose driver died: that attempt stays in the history as
            # interrupted (see runs.close_interrupted_attempts) and a new one runs; only
            # failed attempts count against retries
            self._move(call, State.QUEUED)
            self._queue(call, now, new_attempt=True)
        elif call.state == State.QUEUED:
            self._queue(call, now, new_attempt=False)
        else:
            self._queue(call, now, new_attempt=True)

    def _queue(self, call: TaskCall, now: Now, *, new_attempt: bool) -> None:
        run = call.run
        if run.cancelling and not call.teardown:
            self._finish_not_ok(call, State.CANCELLED, CANCELLED_ERROR, now)
            return
        task = call.task
        assert task is not None
        if new_attempt:
            call.attempt += 1
            call.started_at = call.ended_at = None
            call.worker = None
            call.node = None
        call.move(State.QUEUED)
        self.fx.writes.append(call)
        call.queued_at = now.wall
        options = task.options
        ready = ReadyTask(
            (run.run_id, call.key),
            options.resources,
            priority=options.priority + run.priority,
            enqueued_at=now.monotonic,
            pool=options.pool,
            pool_slots=options.pool_slots,
            group=run.run_id if run.max_active_tasks else None,
            group_limit=run.max_active_tasks,
            concurrency_key=task.name if options.max_concurrency else None,
            concurrency_limit=options.max_concurrency,
        )
        cluster = self.clusters.of(self.executor_for(call))
        if cluster is not None:
            refused = cluster.refusal(ready.resources)
            if refused is not None:
                self._finish_not_ok(call, State.FAILED, refused, now)
                return
        try:
            (self.queue if cluster is None else cluster.queue).push(ready)
        except PautaError as exc:
            error = exception_error(exc)
            error["kind"] = "resources"
            self._finish_not_ok(call, State.FAILED, error, now)

    def _attempt_failed(
        self, call: TaskCall, error: dict[str, Any], mro: tuple[str, ...], now: Now
    ) -> None:
        task = call.task
        assert task is not None
        call.error = error
        if (call.run.cancelling and not call.teardown) or error.get("kind") == "cancelled":
            self._finish_not_ok(call, State.CANCELLED, error, now)
            return
        call.failed_attempts += 1
        options = task.options
        if should_retry(options, call.failed_attempts, mro):
            self._move(call, State.RETRYING)
            call.retry_at = now.monotonic + delay_after(options, call.failed_attempts)
            heapq.heappush(self._timers, (call.retry_at, next(self._seq), call))
            if options.on_retry:
                self.fx.notices.append(NotifyCallbacks(call, "retry", options.on_retry))
        else:
            self._finish_not_ok(call, State.FAILED, error, now)

    def _free(self, running: Running) -> None:
        request = running.ready.resources
        cluster = running.cluster
        if cluster is not None:
            cluster.release(request)
        else:
            self.free = self.free.plus(request)
        self.counts.finished(running.ready)
        if running.gpus:
            self.free_gpus.extend(running.gpus)
            self.free_gpus.sort()

    def _finish_not_ok(
        self, call: TaskCall, state: State, error: dict[str, Any] | None, now: Now
    ) -> None:
        """End ``call`` without a result and skip everything downstream of it."""
        stack = [(call, state, error)]
        resolved = []
        teardowns: list[TaskCall] = []
        fx = self.fx
        while stack:
            current, new_state, err = stack.pop()
            if current.done:
                continue
            ready_id = (current.run.run_id, current.key)
            if ready_id in self.queue:
                self.queue.remove(ready_id)
            elif self.clusters:
                self.clusters.remove(ready_id)
            current.move(new_state)
            current.error = err
            current.ended_at = current.ended_at or now.wall
            fx.writes.append(current)
            resolved.append(current)
            task = current.task
            if new_state == State.FAILED and task is not None and task.options.on_failure:
                fx.notices.append(NotifyCallbacks(current, "failure", task.options.on_failure))
            ended, unblocked = dependents_after(current, new_state, CANCELLED_ERROR)
            stack.extend(ended)
            teardowns.extend(unblocked)
        self._resolve(resolved)
        for teardown in teardowns:
            if not teardown.done:
                self._make_ready(teardown, now)

    def _resolve(self, calls: list[TaskCall]) -> None:
        fx = self.fx
        for call in calls:
            fx.done_callbacks.extend(call.mark_done())
            run = call.run
            run.unfinished -= 1
            # Only a thread waiting for this call, or for the whole run, needs waking: waking
            # it for every call costs a context switch and the GIL each time.
            if call.awaited or (run.awaiting_all and run.unfinished == 0):
                fx.wake = True
