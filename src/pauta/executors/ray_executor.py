"""The ``ray`` executor: attempts run as Ray tasks on a Ray cluster.

pauta decides what starts (its ready queue, with priorities, pools and limits, is fed what
the cluster can start now and a bounded amount more, one attempt per slot by default, that
waits in Ray's queue so no slot idles for a round trip to the driver: see ``ray_ahead``; this
executor's capacity model is ``nodes`` and ``view()`` says what the cluster has); Ray decides
where. Each attempt is one Ray task asking for the task's
resources (``num_cpus``, ``num_gpus``, ``memory``, custom resources), with Ray's own retries
off: pauta's retry policy decides. Code travels as the flow's folder (``ray_code``); results
and arguments through the result store; the attempt's output is streamed while it runs
(``ray_stream``: a sink actor the watcher polls) and its rest comes back with its outcome.

A watcher thread connects (so the engine never waits for the cluster), then reads the cluster
every ``refresh`` seconds (its nodes, what is free, whether it autoscales), tells the
autoscaler the demand, and kills attempts that run past their timeout. Outcomes arrive on
Ray's own threads, through the futures of the tasks' results, and wake the engine.

How an attempt ends: the task's exception fails it, with the traceback made on the node; a
node lost mid-attempt (``NodeDiedError``) interrupts it (queued again without using an
attempt); the worker process dying on its own (``os._exit``, a crash) fails it, as out of
memory when Ray's memory monitor killed it; a timeout or a cancel stops the Ray task with
``ray.cancel(force=True)``.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import os
import pickle
import threading
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from pauta.core.clock import Clock, get_clock
from pauta.core.clusters import ClusterView
from pauta.core.errors import PautaError
from pauta.core.files import make_private_dirs
from pauta.core.resources import Resources
from pauta.executors import ray_cluster
from pauta.executors.base import (
    ErrorInfo,
    FailsAttempts,
    WakePipe,
    Wakeup,
    WorkItem,
    WorkOutcome,
)
from pauta.executors.pipe import PROTOCOL
from pauta.executors.processes import append_to_log
from pauta.executors.ray_ahead import StartOrder, ahead_of, ahead_setting
from pauta.executors.ray_code import CodeShipper, code_folder, relocate
from pauta.executors.ray_stream import EVERY_S, LogFollower, LogSink
from pauta.executors.ray_task import run_attempt
from pauta.executors.worker import decode_outcome

_INTERRUPTED = ErrorInfo(
    "Interrupted", "the executor shut down before the task finished", "", "interrupted"
)
_CANCELLED = ErrorInfo("Cancelled", "the task was cancelled", "", "cancelled")
_NOTHING = Resources(cpus=0)
_LAG_S = 3.0  # how long after an attempt ended Ray may still count its resources as in use


@dataclasses.dataclass(slots=True)
class _Attempt:
    item: WorkItem
    started: float  # when it was submitted, then when it was deemed started (``StartOrder``)
    request: Resources
    ref: Any = None  # the Ray ObjectRef of its result
    stream: str = ""  # the id its output is streamed under
    done: bool = False  # guarded by the executor's lock


class RayExecutor(FailsAttempts):
    """Runs items as Ray tasks on the cluster at ``address`` (see the module docstring)."""

    name = "ray"

    def __init__(
        self,
        *,
        address: str | None,
        results_url: str,
        inline_max: int = 64 * 1024,
        clock: Clock | None = None,
        refresh: float = 1.0,
        ahead: int | None = None,
    ) -> None:
        self._address = address
        self._results_url = results_url
        self._inline_max = inline_max
        self._clock = clock or get_clock()
        self._refresh = refresh
        self._ahead = ahead_setting() if ahead is None else ahead
        self._order = StartOrder()  # guarded by the lock
        self._wakeup: Wakeup | None = None
        self._pipe: WakePipe | None = None
        self._lock = threading.Condition()
        self._running: dict[tuple[str, str], _Attempt] = {}
        self._waiting: list[WorkItem] = []  # submitted before the cluster was reached
        self._done: deque[WorkOutcome] = deque()
        self._deadlines: list[tuple[float, int, _Attempt]] = []
        self._seq = itertools.count()
        self._view: ClusterView | None = None
        self._busy: Resources | None = None
        # (monotonic end, request) of attempts that ended lately, for reading what others hold
        self._recent: deque[tuple[float, Resources]] = deque()
        self._demand: list[Resources] | None = None
        self._connected = threading.Event()
        self._error: str | None = None
        self._closing = False
        self._code: CodeShipper | None = None
        self._functions: dict[tuple[Any, ...], Any] = {}
        self._thread: threading.Thread | None = None
        self._sink: Any = None  # the LogSink actor, once made
        self._follower = LogFollower()
        # ended attempts whose streamed output is still in the sink: (attempt, their answer)
        self._draining: list[tuple[_Attempt, tuple[Any, ...]]] = []

    # -- the protocol -------------------------------------------------------------------------
    def start(self, wakeup: Wakeup) -> None:
        """Connect to the cluster on a thread of its own; attempts start once it answered."""
        self._wakeup = wakeup
        self._pipe = WakePipe(wakeup)
        self._thread = threading.Thread(target=self._watch, name="pauta-ray", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float = 60.0) -> ClusterView:
        """Block until the cluster was reached (or could not be); raise when it cannot run
        attempts, with the reason (``pauta run --executor ray`` refuses to start then)."""
        if not self._connected.wait(timeout):
            raise ray_cluster.ClusterUnreachable(
                f"the Ray cluster did not answer within {timeout:g} s"
            )
        view = self._view
        if view is None or view.error is not None:
            raise PautaError(view.error if view is not None else (self._error or "no cluster"))
        return view

    def slots(self) -> int:
        view = self._view
        return max(1, int(view.total.cpus)) if view is not None else 1

    def view(self) -> ClusterView | None:
        return self._view

    def request_capacity(self, demand: Sequence[Resources]) -> None:
        with self._lock:
            self._demand = list(demand)
            self._lock.notify_all()

    def submit(self, items: Sequence[WorkItem]) -> None:
        for item in items:
            if self._closing:
                self._finish(self._failed(item, _INTERRUPTED, interrupted=True))
            elif self._error is not None:
                info = ErrorInfo("ClusterUnavailable", self._error, "", "environment")
                _note(item.log_path, self._error)
                self._finish(self._failed(item, info))
            else:
                with self._lock:
                    # the watcher hands these over once connected (under the same lock)
                    if not self._connected.is_set():
                        self._waiting.append(item)
                        continue
                self._launch(item)

    def waitables(self) -> list[Any]:
        assert self._pipe is not None, "start() first"
        return [self._pipe.read_fd]

    def collect(self) -> list[WorkOutcome]:
        assert self._pipe is not None
        self._pipe.drain()
        out: list[WorkOutcome] = []
        while self._done:
            out.append(self._done.popleft())
        return out

    def cancel(self, run_id: str, key: str) -> bool:
        with self._lock:
            for index, item in enumerate(self._waiting):
                if item.run.run_id == run_id and item.key == key:
                    del self._waiting[index]
                    self._finish(self._failed(item, _CANCELLED))
                    return True
            attempt = self._take(run_id, key)
        if attempt is None:
            return False
        self._stop(attempt, "the attempt was cancelled; its Ray task was stopped")
        self._finish(self._failed(attempt.item, _CANCELLED, attempt.started))
        return True

    def shutdown(self, *, kill: bool = False) -> None:
        if self._closing:
            return
        with self._lock:
            self._closing = True
            waiting, self._waiting = self._waiting, []
            self._lock.notify_all()
        for item in waiting:
            self._finish(self._failed(item, _INTERRUPTED, interrupted=True))
        if kill:
            with self._lock:
                attempts = [self._take(*key) for key in list(self._running)]
            for attempt in attempts:
                if attempt is not None:
                    self._stop(attempt, "the executor shut down: its Ray task was stopped")
                    self._finish(
                        self._failed(attempt.item, _INTERRUPTED, attempt.started, interrupted=True)
                    )
        with self._lock:
            while self._running:
                self._lock.wait(1.0)
        if self._thread is not None:
            self._thread.join(timeout=10)
        with suppress(Exception):  # withdraw the demand: nothing of ours waits any more
            if self._connected.is_set() and self._error is None:
                ray_cluster.request_capacity([])
        if self._sink is not None:
            import ray

            with suppress(Exception):  # the sink's worker process goes with this executor
                ray.kill(self._sink)
            self._sink = None

    # -- attempts -----------------------------------------------------------------------------
    def _launch(self, item: WorkItem) -> None:
        request = item.resources or Resources()
        attempt = _Attempt(item, self._clock.timestamp(), request)
        attempt.stream = f"{item.run.run_id}/{item.key}/{item.attempt}/{next(self._seq)}"
        self._follower.follow(attempt.stream, item.log_path)
        try:
            function, remote_item = self._prepare(item, request)
            blob = pickle.dumps(remote_item, PROTOCOL)
            attempt.ref = function.remote(
                blob, self._results_url, self._inline_max, self._sink, attempt.stream
            )
        except Exception as exc:
            text = f"the attempt could not be sent to the Ray cluster: {exc}"
            self._follower.forget(attempt.stream)
            _note(item.log_path, text)
            kind = "environment" if isinstance(exc, PautaError) else "crash"
            self._finish(self._failed(item, ErrorInfo(type(exc).__name__, text, "", kind)))
            return
        with self._lock:
            key = (item.run.run_id, item.key)
            self._running[key] = attempt
            if self._order.submitted(key, request, self._capacity()):
                self._deadline(attempt)
        attempt.ref.future().add_done_callback(lambda future: self._ended(attempt, future))

    def _prepare(self, item: WorkItem, request: Resources) -> tuple[Any, WorkItem]:
        """The Ray function to call for ``item`` and the item as the node will read it."""
        assert self._code is not None
        folder = code_folder(item.task_ref)
        env = self._code.runtime_env(folder)
        ref = relocate(item.task_ref, folder) if folder is not None else item.task_ref
        remote_item = dataclasses.replace(item, task_ref=ref, log_path="", resources=None)
        # GPU attempts get a fresh worker process each: CUDA reads CUDA_VISIBLE_DEVICES once
        key = (request, folder, request.gpus > 0)
        function = self._functions.get(key)
        if function is None:
            import ray

            remote = ray.remote(max_retries=0, max_calls=1 if request.gpus else 0)(run_attempt)
            options = ray_cluster.task_options(request)
            function = remote.options(runtime_env=env, retry_exceptions=False, **options)
            self._functions[key] = function
        return function, remote_item

    def _ended(self, attempt: _Attempt, future: Any) -> None:
        """Ray's thread: the attempt's task finished one way or another."""
        item = attempt.item
        with self._lock:
            if attempt.done:
                return  # timed out or cancelled: already reported
            self._take(item.run.run_id, item.key)
        try:
            answer = future.result()
        except BaseException as exc:
            self._follower.forget(attempt.stream)
            self._finish(self._lost(attempt, exc))
            return
        if not self._follower.complete(attempt.stream, answer[4]):
            with self._lock:  # the watcher takes what waits in the sink, then ends it
                self._draining.append((attempt, answer))
                self._lock.notify_all()
            return
        self._end(attempt, answer)

    def _end(self, attempt: _Attempt, answer: tuple[Any, ...]) -> None:
        data, node, worker, output, start = answer
        item = attempt.item
        self._follower.end(attempt.stream, start, output, item.log_path)
        outcome = decode_outcome(data, item, worker)
        outcome.node = node
        self._finish(outcome)

    def _lost(self, attempt: _Attempt, exc: BaseException) -> WorkOutcome:
        """The outcome of an attempt whose Ray task failed as a task (not the function)."""
        import ray.exceptions as rx

        item, text = attempt.item, ray_cluster._first_line(exc)
        lost = tuple(
            getattr(rx, name)
            for name in ("NodeDiedError", "LocalRayletDiedError", "OwnerDiedError")
            if hasattr(rx, name)
        )
        if isinstance(exc, lost):
            message = f"the Ray node running the task was lost: {text}"
            _note(item.log_path, message + "; it runs again")
            info = ErrorInfo(type(exc).__name__, message, "", "interrupted")
            return self._failed(item, info, attempt.started, interrupted=True)
        if isinstance(exc, getattr(rx, "OutOfMemoryError", ())):
            kind, message = "oom", f"the task's Ray worker ran out of memory: {text}"
        elif isinstance(exc, rx.RuntimeEnvSetupError):
            kind, message = "environment", f"Ray could not set up the task's code: {text}"
        elif isinstance(exc, rx.WorkerCrashedError):
            kind, message = "crash", f"the task's Ray worker process died: {text}"
        elif isinstance(exc, rx.TaskCancelledError):
            kind, message = "cancelled", "the task's Ray task was cancelled outside pauta"
        else:
            kind, message = "crash", f"the Ray task failed: {text}"
        _note(item.log_path, message)
        info = ErrorInfo(type(exc).__name__, message, str(exc), kind)
        return self._failed(item, info, attempt.started)

    def _take(self, run_id: str, key: str) -> _Attempt | None:
        """Take an attempt out of the running ones (the lock is held)."""
        attempt = self._running.pop((run_id, key), None)
        if attempt is not None:
            attempt.done = True
            if self._order.is_running((run_id, key)):
                self._recent.append((self._clock.monotonic(), attempt.request))
            self._started(self._order.ended((run_id, key), self._capacity()))
            self._lock.notify_all()
        return attempt

    def _capacity(self) -> Resources:
        """What the cluster has for our attempts: all but what other work holds."""
        view = self._view
        return _NOTHING if view is None else view.total.minus(view.busy)

    def _started(self, keys: list[Any]) -> None:
        """Attempts that waited in Ray's queue are deemed started now (the lock is held)."""
        now = self._clock.timestamp()
        for key in keys:
            attempt = self._running.get(key)
            if attempt is not None:
                attempt.started = now
                self._deadline(attempt)

    def _deadline(self, attempt: _Attempt) -> None:
        """Its timeout counts from now, when it is deemed started (the lock is held)."""
        if attempt.item.timeout is not None:
            deadline = attempt.started + attempt.item.timeout
            heapq.heappush(self._deadlines, (deadline, next(self._seq), attempt))
            self._lock.notify_all()

    def _stop(self, attempt: _Attempt, note: str) -> None:
        import ray

        self._follower.forget(attempt.stream)
        _note(attempt.item.log_path, note)
        with suppress(Exception):  # the task may have ended meanwhile
            ray.cancel(attempt.ref, force=True)

    def _finish(self, outcome: WorkOutcome) -> None:
        self._done.append(outcome)
        if self._pipe is not None:
            self._pipe.wake()
        elif self._wakeup is not None:
            self._wakeup.set()

    # -- the watcher thread -------------------------------------------------------------------
    def _watch(self) -> None:
        try:
            ray_cluster.connect(self._address)
            self._code = CodeShipper()
            self._see()
            self._sink = self._make_sink()
        except Exception as exc:
            self._error = str(exc)
            nothing = _NOTHING
            self._view = ClusterView(nothing, nothing, (), error=self._error)
        with self._lock:
            self._connected.set()
            waiting, self._waiting = self._waiting, []
        if waiting:
            self.submit(waiting)
        if self._wakeup is not None:
            self._wakeup.set()
        if self._error is not None:
            return
        next_look = self._clock.monotonic() + self._refresh
        next_poll = self._clock.monotonic() + EVERY_S
        told: list[Resources] | None = None
        while True:
            with self._lock:
                if self._closing and not self._draining:
                    return
                wait = next_look - self._clock.monotonic()
                if self._deadlines:
                    wait = min(wait, self._deadlines[0][0] - self._clock.timestamp())
                if self._follower:
                    wait = min(wait, next_poll - self._clock.monotonic())
                if not self._draining:
                    self._lock.wait(max(0.0, wait))
                if self._closing and not self._draining:
                    return
                expired = [] if self._closing else self._expired()
                demand = self._demand
                draining, self._draining = self._draining, []
            if draining or (self._follower and self._clock.monotonic() >= next_poll):
                self._poll_sink()
                next_poll = self._clock.monotonic() + EVERY_S
                for attempt, answer in draining:
                    self._end(attempt, answer)
            if self._closing:
                return
            for attempt in expired:
                self._time_out(attempt)
            if demand is not None and demand != told:
                with suppress(Exception):  # a hint: the cluster runs without it
                    ray_cluster.request_capacity(demand)
                told = demand
            if self._clock.monotonic() >= next_look:
                with suppress(Exception):  # a cluster that does not answer keeps its last view
                    self._see()
                next_look = self._clock.monotonic() + self._refresh

    def _make_sink(self) -> Any:
        """The actor that attempts stream their output to (None: output only at the end)."""
        import ray

        assert self._code is not None
        try:
            actor = ray.remote(num_cpus=0, max_restarts=0)(LogSink)
            return actor.options(runtime_env=self._code.runtime_env(None)).remote()
        except Exception:
            return None

    def _poll_sink(self) -> None:
        """Write what attempts streamed since the last poll into their logs."""
        import ray

        if self._sink is None:
            return
        try:
            pieces = ray.get(self._sink.take.remote(), timeout=10)
        except Exception:
            return  # the outcome brings what was not written
        for stream, start, data in pieces:
            self._follower.write(stream, start, data)

    def _expired(self) -> list[_Attempt]:
        """Attempts past their deadline, taken out of the running ones (the lock is held)."""
        now = self._clock.timestamp()
        out = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, attempt = heapq.heappop(self._deadlines)
            if not attempt.done:
                item = attempt.item
                self._take(item.run.run_id, item.key)
                out.append(attempt)
        return out

    def _time_out(self, attempt: _Attempt) -> None:
        item = attempt.item
        text = f"the task ran past its timeout of {item.timeout:g} s; its Ray task was stopped"
        self._stop(attempt, text)
        info = ErrorInfo("TimeoutError", text, "", "timeout")
        self._finish(self._failed(item, info, attempt.started))

    def _see(self) -> None:
        """Read the cluster; a changed view wakes the engine.

        What other work holds is what Ray says is in use less what this executor's attempts
        hold, counting those that ended in the last ``_LAG_S`` seconds too (Ray reports a
        task's resources back a moment after it ended); of two readings in a row the smaller
        counts. Over-counting our own only under-counts the others', which Ray's own queue
        absorbs; the other way round would leave free capacity unused.
        """
        now = self._clock.monotonic()
        with self._lock:
            while self._recent and self._recent[0][0] < now - _LAG_S:
                self._recent.popleft()
            ours = self._order.held()  # the attempts waiting in Ray's queue hold nothing yet
            for _, request in self._recent:
                ours = ours.plus(request)
        view = ray_cluster.read_view(self._results_url, ours)
        busy_before, self._busy = self._busy, view.busy
        if busy_before is not None:
            view = dataclasses.replace(view, busy=ray_cluster.smaller(view.busy, busy_before))
        # One attempt per slot (``PAUTA_RAY_AHEAD`` per slot) may wait in Ray's queue: enough
        # that a slot that frees starts the next attempt at once, few enough that a call of
        # higher priority arriving later waits behind at most one attempt per slot.
        view = dataclasses.replace(view, ahead=ahead_of(view.total, self._ahead))
        old = self._view
        if old is None or old != view:
            self._view = view
            with self._lock:
                self._started(self._order.promote(self._capacity()))
            if self._wakeup is not None:
                self._wakeup.set()


def _note(path: str, text: str) -> None:
    """A line of the executor's own in an attempt's log (its folder may not exist yet: the
    attempt's output is written here only when it comes back)."""
    folder = os.path.dirname(path)
    with suppress(OSError):
        if folder:
            make_private_dirs(folder)
    append_to_log(path, text)
