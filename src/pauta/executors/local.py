"""The local executor: a pool of warm worker processes on this machine.

Each worker is a ``spawn``-ed process that runs one item at a time and keeps the flow modules
it imported, so a no-op task costs one round trip on a pipe. The engine waits on
``waitables()`` (the workers' pipe ends and process sentinels) and calls ``collect()``, which
reads every outcome that is ready, turns a dead worker into a failed attempt (and starts a
replacement), and feeds idle workers from the FIFO of waiting items. Everything but the
timeout monitor runs on the engine's thread: the engine calls the methods from one thread.

Timeouts are enforced by a small monitor thread rather than by the engine calling
``collect()`` on a timer: it sleeps until the earliest deadline and kills the worker's process
group itself, so a stuck task dies on time even when the engine is busy or waits without a
timeout. The killed worker's pipe then reports EOF, which wakes the engine like any outcome,
and ``collect()`` reports the timeout.
"""

from __future__ import annotations

import atexit
import heapq
import itertools
import os
import select
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pickle import loads
from typing import Any

from pauta.core.clock import Clock, get_clock
from pauta.executors.base import ErrorInfo, FailsAttempts, Wakeup, WorkItem, WorkOutcome
from pauta.executors.loading import refuse_while_importing_main
from pauta.executors.processes import (
    Prestarted,
    WorkerProcess,
    append_to_log,
    exit_text,
    log_tail,
)
from pauta.executors.worker import decode_outcome

# Consecutive workers dying before they reach their main loop: the pool gives up.
_START_FAILURES_MAX = 3
# The pool grows when, over at least this long, tasks were waiting for a worker at least this
# share of the time: the work outruns the pool. A chain never has a task waiting (the next one
# is ready only when the last has ended), so it runs in the one warm worker.
_GROW_AFTER_S = 0.05
_GROW_WAITING_SHARE = 0.5
_INTERRUPTED = ErrorInfo(
    "Interrupted", "the executor shut down before the task finished", "", "interrupted"
)
_CANCELLED = ErrorInfo("Cancelled", "the task was cancelled", "", "cancelled")


class _Inflight:
    """An item sent to a worker. ``done`` and ``timed_out`` are guarded by the lock."""

    __slots__ = ("done", "item", "sent_at", "timed_out", "unsent", "worker")

    def __init__(self, item: WorkItem, worker: WorkerProcess, sent_at: float) -> None:
        self.item = item
        self.worker = worker
        self.sent_at = sent_at
        self.done = False
        self.timed_out = False
        self.unsent = False


class LocalExecutor(FailsAttempts):
    """Runs items in a pool of warm worker processes on this machine.

    Up to ``workers`` processes (default: the number of CPUs) run one item each at a time;
    more items wait in a FIFO. The pool starts with one worker and grows while items keep
    waiting for one (see ``_consider_growing``). Items with ``gpu_ids`` run in
    workers started with exactly that ``CUDA_VISIBLE_DEVICES`` (an idle worker of another kind
    is retired to make room when the pool is full). Results go to the result store at
    ``results_url``, inline in the outcome when at most ``inline_max`` bytes.
    """

    name = "local"

    def __init__(
        self,
        *,
        workers: int | None = None,
        results_url: str,
        inline_max: int = 64 * 1024,
        clock: Clock | None = None,
        python: str | None = None,
        sys_path: list[str] | None = None,
        environ: Mapping[str, str] | None = None,
        first: Prestarted | None = None,
    ) -> None:
        """``first``: a worker already started (``pauta run`` starts one before it loads the
        rest), for this interpreter and path, with these ``results_url`` and ``inline_max``."""
        if first is not None and (
            (first.results_url, first.inline_max) != (results_url, inline_max)
            or python is not None
            or sys_path is not None
            or environ
        ):
            raise ValueError("the prestarted worker was started for another configuration")
        self._first = first
        self._clock = clock or get_clock()
        self._size = max(1, workers or os.cpu_count() or 1)
        # another interpreter and environment for the workers (see WorkerProcess)
        self._python = python
        self._sys_path = sys_path
        self._environ = environ
        self._results_url = results_url
        self._inline_max = inline_max
        # Workers hold the read end; it reads EOF when this process dies (see _watch_parent).
        self._lifeline: tuple[int, int] | None = None
        self._wakeup: Wakeup | None = None
        self._workers: list[WorkerProcess] = []
        self._idle: dict[tuple[int, ...], list[WorkerProcess]] = {}
        self._n_idle = 0
        # One poll object kept up to date: collect() costs one syscall however many workers
        # there are (multiprocessing.connection.wait builds a selector on every call).
        self._poller = select.poll()
        self._fds: dict[int, WorkerProcess] = {}
        self._waitables: list[Any] | None = None
        self._retiring: list[WorkerProcess] = []
        self._queue: deque[WorkItem] = deque()
        self._running: dict[tuple[str, str], _Inflight] = {}
        self._ready: list[WorkOutcome] = []
        self._lock = threading.Condition()
        self._deadlines: list[tuple[float, int, _Inflight | None]] = []
        self._seq = itertools.count()
        self._monitor: threading.Thread | None = None
        self._closing = False
        self._start_failures = 0
        self._broken: ErrorInfo | None = None
        # growth: the current window, since when items wait now, and how long they waited
        # in the window before that
        self._window_start: float | None = None
        self._waiting_from: float | None = None
        self._waited = 0.0

    # -- the protocol -------------------------------------------------------------------

    def start(self, wakeup: Wakeup) -> None:
        """Start one worker, without waiting for it; the others start when work waits.

        A chain of tasks never needs a second process; parallel tasks that keep waiting for a
        worker grow the pool within ``_GROW_AFTER_S``.
        """
        refuse_while_importing_main("start a pool of worker processes")
        self._wakeup = wakeup
        first, self._first = self._first, None
        if first is None:
            self._lifeline = os.pipe()
            self._add_idle(self._spawn(()))
        else:
            self._lifeline = first.lifeline
            self._add_idle(self._adopt(first.worker))
        atexit.register(self._at_exit)

    def slots(self) -> int:
        return self._size

    def submit(self, items: Sequence[WorkItem]) -> None:
        if self._broken is not None or self._closing:
            for item in items:
                error = self._broken or _INTERRUPTED
                self._ready.append(self._failed(item, error, interrupted=self._broken is None))
            self._wake()
            return
        self._queue.extend(items)
        self._dispatch()

    def waitables(self) -> list[Any]:
        if self._waitables is None:
            self._waitables = [
                x for w in self._workers for x in (w.fd, w.sentinel) if x is not None
            ]
        return self._waitables

    def collect(self) -> list[WorkOutcome]:
        out, self._ready = self._ready, []
        if self._fds:
            self._poll(0, out)
        if self._retiring:
            self._reap_retiring(block=False)
        self._dispatch()
        return out

    def cancel(self, run_id: str, key: str) -> bool:
        inflight = self._running.pop((run_id, key), None)
        if inflight is not None:
            with self._lock:
                inflight.done = True
            worker = inflight.worker
            self._bury(worker, inflight.item.log_path)
            append_to_log(inflight.item.log_path, "the attempt was cancelled")
            self._ready.append(self._failed(inflight.item, _CANCELLED, inflight.sent_at))
            self._keep_warm()
            self._wake()
            return True
        for index, item in enumerate(self._queue):
            if item.run.run_id == run_id and item.key == key:
                del self._queue[index]
                self._ready.append(self._failed(item, _CANCELLED))
                self._wake()
                return True
        return False

    def shutdown(self, *, kill: bool = False) -> None:
        if self._closing:
            return
        self._closing = True
        while self._queue:
            self._ready.append(self._failed(self._queue.popleft(), _INTERRUPTED, interrupted=True))
        if kill:
            self._poll(0, self._ready)  # outcomes already in the pipes are real results
            with self._lock:
                for inflight in self._running.values():
                    inflight.done = True
            for worker in self._workers:
                worker.kill()
            for worker in list(self._workers):
                inflight = worker.busy
                self._bury(worker, inflight.item.log_path if inflight else None)
                if inflight is not None:
                    item = inflight.item
                    append_to_log(item.log_path, "the executor shut down: the attempt was killed")
                    outcome = self._failed(item, _INTERRUPTED, inflight.sent_at, interrupted=True)
                    self._ready.append(outcome)
            self._running.clear()
        while self._running:
            self._poll(1000, self._ready)
        for worker in list(self._workers):
            self._retire(worker)
        self._reap_retiring(block=True)
        with self._lock:
            self._deadlines.clear()
            self._lock.notify()
        if self._monitor is not None:
            self._monitor.join()
        if self._lifeline is not None:
            for fd in self._lifeline:
                os.close(fd)
            self._lifeline = None
        atexit.unregister(self._at_exit)
        if self._ready:
            self._wake()

    # -- workers --------------------------------------------------------------------------

    def _spawn(self, gpu: tuple[int, ...]) -> WorkerProcess:
        assert self._lifeline is not None
        worker = WorkerProcess(gpu, self._lifeline[0], python=self._python, environ=self._environ)
        worker.configure(self._results_url, self._inline_max, sys_path=self._sys_path)
        return self._adopt(worker)

    def _adopt(self, worker: WorkerProcess) -> WorkerProcess:
        self._workers.append(worker)
        self._waitables = None
        for fd in (worker.fd, worker.sentinel):
            if fd is None:
                continue
            self._fds[fd] = worker
            self._poller.register(fd, select.POLLIN)
        return worker

    def _keep_warm(self) -> None:
        """Keep one worker booted while the pool is open; more start when work waits."""
        if not self._workers and not self._closing and self._broken is None:
            self._add_idle(self._spawn(()))

    def _add_idle(self, worker: WorkerProcess) -> None:
        self._idle.setdefault(worker.gpu, []).append(worker)
        self._n_idle += 1

    def _detach(self, worker: WorkerProcess) -> None:
        """Take a worker out of every table (it is dying or retiring)."""
        with self._lock:
            worker.gone = True
        self._workers.remove(worker)
        self._waitables = None
        for fd in (worker.fd, worker.sentinel):
            if fd is not None and self._fds.pop(fd, None) is not None:
                self._poller.unregister(fd)
        idle = self._idle.get(worker.gpu)
        if idle and worker in idle:
            idle.remove(worker)
            self._n_idle -= 1

    def _retire(self, worker: WorkerProcess) -> None:
        self._detach(worker)
        worker.stop()
        self._retiring.append(worker)

    def _reap_retiring(self, *, block: bool) -> None:
        for worker in list(self._retiring):
            # poll() does not wait; a retired worker exits as soon as it reads "stop"
            if block or worker.proc.poll() is not None:
                worker.reap(10)
                self._retiring.remove(worker)

    def _bury(self, worker: WorkerProcess, log_path: str | None) -> int | None:
        """Reap a worker that was killed or died; its children die with it."""
        self._detach(worker)
        worker.kill()
        return worker.reap(10, log_path)

    # -- the engine thread's work -----------------------------------------------------------

    def _dispatch(self) -> None:
        queue = self._queue
        while queue:
            item = queue[0]
            gpu = tuple(item.gpu_ids)
            pool = self._idle.get(gpu)
            if pool:
                worker = pool.pop()
                self._n_idle -= 1
            elif gpu and len(self._workers) < self._size:
                worker = self._spawn(gpu)  # only a worker for this device set can run it
            elif self._n_idle:
                # CUDA reads CUDA_VISIBLE_DEVICES once: an idle worker of another kind is
                # retired and a worker for this device set takes its place.
                self._retire(next(w for ws in self._idle.values() for w in ws))
                worker = self._spawn(gpu)
            else:
                break
            queue.popleft()
            inflight = _Inflight(item, worker, self._clock.timestamp())
            worker.busy = inflight
            self._running[(item.run.run_id, item.key)] = inflight
            if not worker.send_item(item):
                inflight.unsent = True
            elif item.timeout is not None:
                self._add_deadline(inflight, item.timeout)
        self._consider_growing()

    def _consider_growing(self) -> None:
        """Start more workers when, over ``_GROW_AFTER_S`` or more, items waited for a worker
        at least ``_GROW_WAITING_SHARE`` of the time.

        Called after every dispatch, and woken up at the end of a window in which items wait,
        so a long task that keeps the next one waiting grows the pool on time. Short tasks that
        keep coming grow it too: a second worker overlaps their round trips.
        """
        now = time.monotonic()
        waiting = bool(self._queue)
        if waiting and self._waiting_from is None:
            self._waiting_from = now
            if self._window_start is None:
                self._window_start, self._waited = now, 0.0
                self._wake_at(now + _GROW_AFTER_S)
        elif not waiting and self._waiting_from is not None:
            self._waited += now - self._waiting_from
            self._waiting_from = None
        start = self._window_start
        if start is None or now - start < _GROW_AFTER_S:
            return
        waited = self._waited + (now - self._waiting_from if self._waiting_from else 0.0)
        workers = len(self._workers)
        grow = waited >= _GROW_WAITING_SHARE * (now - start) and workers < self._size
        self._window_start, self._waited = (now, 0.0) if waiting else (None, 0.0)
        self._waiting_from = now if waiting else None
        if waiting:
            self._wake_at(now + _GROW_AFTER_S)
        if grow and not self._closing and self._broken is None:
            for _ in range(max(1, min(len(self._queue), self._size - workers))):
                self._add_idle(self._spawn(()))
            self._dispatch()

    def _poll(self, timeout_ms: int, out: list[WorkOutcome]) -> None:
        for fd, _ in self._poller.poll(timeout_ms):
            worker = self._fds.get(fd)
            if worker is not None and not worker.gone:
                self._drain(worker, out, dead=fd != worker.fd)

    def _drain(self, worker: WorkerProcess, out: list[WorkOutcome], *, dead: bool) -> None:
        # A dead worker is drained to EOF before it is buried: it may have sent an outcome.
        try:
            while True:
                if dead and not worker.has_data():
                    break
                for message in worker.read_messages():
                    data = loads(message)
                    if type(data) is str:  # READY: it reached its main loop
                        worker.ready = True
                        self._start_failures = 0
                        continue
                    inflight = worker.busy
                    if inflight is None:
                        continue
                    worker.busy = None
                    item = inflight.item
                    if item.timeout is not None:
                        with self._lock:
                            inflight.done = True
                    self._running.pop((item.run.run_id, item.key), None)
                    out.append(decode_outcome(data, item, worker.name))
                    self._add_idle(worker)
                if not dead:
                    break
        except (EOFError, OSError):
            dead = True
        if dead:
            self._on_death(worker, out)

    def _on_death(self, worker: WorkerProcess, out: list[WorkOutcome]) -> None:
        inflight = worker.busy
        if inflight is not None:
            with self._lock:
                inflight.done = True
        code = self._bury(worker, inflight.item.log_path if inflight else None)
        if inflight is not None:
            item = inflight.item
            self._running.pop((item.run.run_id, item.key), None)
            if inflight.timed_out:
                text = f"timed out after {item.timeout:g} s"
                append_to_log(item.log_path, f"the attempt was killed: {text}")
                error = ErrorInfo("TimeoutError", text, "", "timeout")
                out.append(self._failed(item, error, inflight.sent_at))
            elif self._closing:
                out.append(self._failed(item, _INTERRUPTED, inflight.sent_at, interrupted=True))
            elif inflight.unsent or not worker.ready:
                self._queue.appendleft(item)  # it never started: it runs on the replacement
            else:
                append_to_log(item.log_path, exit_text(code))
                error = ErrorInfo(
                    "WorkerCrashed", exit_text(code), log_tail(item.log_path), "crash"
                )
                out.append(self._failed(item, error, inflight.sent_at))
        if not worker.ready:
            self._start_failures += 1
        if self._closing:
            return
        if self._start_failures >= _START_FAILURES_MAX:
            self._give_up(code, out)
        else:
            self._keep_warm()

    def _give_up(self, code: int | None, out: list[WorkOutcome]) -> None:
        """Workers die while starting, again and again: fail what waits instead of looping."""
        how = exit_text(code).replace("the task's process", "each")
        self._broken = ErrorInfo(
            "WorkerStartFailed",
            f"worker processes die while starting ({how}); check that "
            f"`{self._python or sys.executable} -c 'import pauta.executors.worker'` works "
            "in this environment",
            "",
            "crash",
        )
        while self._queue:
            out.append(self._failed(self._queue.popleft(), self._broken))

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def _at_exit(self) -> None:
        # An executor not shut down at interpreter exit kills its workers rather than leave
        # them behind. The engine's thread may still be inside collect() now, so no table is
        # touched here.
        if self._closing:
            return
        self._closing = True
        for worker in list(self._workers):
            worker.kill()

    # -- timeouts (the monitor thread) --------------------------------------------------------

    def _add_deadline(self, inflight: _Inflight, timeout: float) -> None:
        # Real time on purpose: a kill deadline must follow the wall even when tests freeze
        # pauta's clock.
        self._push_deadline((time.monotonic() + timeout, next(self._seq), inflight))

    def _wake_at(self, when: float) -> None:
        """Have the engine call ``collect()`` at ``when`` (monotonic), even if nothing happens."""
        self._push_deadline((when, next(self._seq), None))

    def _push_deadline(self, entry: tuple[float, int, _Inflight | None]) -> None:
        with self._lock:
            heapq.heappush(self._deadlines, entry)
            self._lock.notify()
            if self._monitor is None:
                self._monitor = threading.Thread(
                    target=self._watch_deadlines, name="pauta-timeouts", daemon=True
                )
                self._monitor.start()

    def _watch_deadlines(self) -> None:
        with self._lock:
            while not self._closing or self._deadlines:
                if not self._deadlines:
                    self._lock.wait()
                    continue
                deadline, _, inflight = self._deadlines[0]
                delay = deadline - time.monotonic()
                if delay > 0:
                    self._lock.wait(delay)
                    continue
                heapq.heappop(self._deadlines)
                if inflight is None:
                    self._wake()
                    continue
                if inflight.done or inflight.worker.gone:
                    continue
                inflight.timed_out = True
                inflight.worker.kill()
                self._wake()
