"""The inline executor: tasks run in threads of the driving process.

For debugging (breakpoints work), notebooks and ``isolation="inline"``. Items produce the same
outcomes as in the local executor, with two limits that come from sharing one process: a
running task cannot be killed (a timeout reports the attempt as failed and abandons its
thread, which a fresh thread replaces; cancelling works only for items not yet started), and
``gpu_ids`` cannot change ``CUDA_VISIBLE_DEVICES``. Output of ``print`` and of the task logger
is captured per attempt; output of child processes and C code goes to the driver's streams.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Sequence
from typing import Any

from pauta.core.clock import Clock, get_clock
from pauta.core.host import hostname
from pauta.executors.base import ErrorInfo, FailsAttempts, WakePipe, Wakeup, WorkItem, WorkOutcome
from pauta.executors.capture import thread_capture
from pauta.executors.worker import run_item
from pauta.store.results import ResultStore


class InlineExecutor(FailsAttempts):
    """Runs items in ``threads`` threads of this process."""

    name = "inline"

    def __init__(
        self,
        *,
        threads: int = 1,
        results_url: str,
        inline_max: int = 64 * 1024,
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock or get_clock()
        self._threads = max(1, threads)
        self._store = ResultStore(results_url, inline_max)
        self._worker = f"{hostname()}:{os.getpid()}"
        self._queue: queue.SimpleQueue[WorkItem | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._done: list[WorkOutcome] = []
        self._queued: dict[tuple[str, str], WorkItem] = {}
        self._running: dict[tuple[str, str], tuple[WorkItem, float, threading.Timer | None]] = {}
        self._abandoned: set[int] = set()  # idents of threads whose attempt timed out
        self._pool: list[threading.Thread] = []
        self._wakeup: Wakeup | None = None
        self._pipe: WakePipe | None = None
        self._stopping = False
        self._closed = False

    def start(self, wakeup: Wakeup) -> None:
        self._wakeup = wakeup
        self._pipe = WakePipe(wakeup)
        for _ in range(self._threads):
            self._add_thread()

    def slots(self) -> int:
        return self._threads

    def submit(self, items: Sequence[WorkItem]) -> None:
        with self._lock:
            for item in items:
                self._queued[(item.run.run_id, item.key)] = item
        for item in items:
            self._queue.put(item)

    def waitables(self) -> list[Any]:
        return [] if self._pipe is None else [self._pipe.read_fd]

    def collect(self) -> list[WorkOutcome]:
        if self._pipe is not None:
            self._pipe.drain()
        with self._lock:
            out, self._done = self._done, []
        return out

    def cancel(self, run_id: str, key: str) -> bool:
        # A running thread cannot be stopped from outside; an item not started yet can.
        with self._lock:
            item = self._queued.pop((run_id, key), None)
            if item is None:
                return False
            error = ErrorInfo("Cancelled", "the task was cancelled", "", "cancelled")
            self._finish(self._failed(item, error))
        return True

    def shutdown(self, *, kill: bool = False) -> None:
        if self._closed:
            return
        error = ErrorInfo(
            "Interrupted", "the executor shut down before the task finished", "", "interrupted"
        )
        with self._lock:
            self._stopping = True
            for item in self._queued.values():
                self._finish(self._failed(item, error, interrupted=True))
            self._queued.clear()
            if kill:
                # The threads cannot be stopped: their attempts are reported now, and what
                # they return later is dropped.
                for item, started, timer in self._running.values():
                    if timer is not None:
                        timer.cancel()
                    self._finish(self._failed(item, error, started, interrupted=True))
                self._running.clear()
                self._abandoned.update(t.ident or 0 for t in self._pool)
        for _ in self._pool:
            self._queue.put(None)
        if not kill:
            for thread in self._pool:
                thread.join()
        with self._lock:
            self._closed = True
            if self._pipe is not None:
                self._pipe.close()
                self._pipe = None
        if self._wakeup is not None:
            self._wakeup.set()

    # -- threads --------------------------------------------------------------------------

    def _add_thread(self) -> None:
        thread = threading.Thread(target=self._loop, name="pauta-inline", daemon=True)
        self._pool.append(thread)
        thread.start()

    def _loop(self) -> None:
        me = threading.get_ident()
        while True:
            item = self._queue.get()
            if item is None:
                return
            rk = (item.run.run_id, item.key)
            with self._lock:
                if self._queued.pop(rk, None) is None:
                    continue  # cancelled while it waited
                timer = None
                if item.timeout is not None:
                    timer = threading.Timer(item.timeout, self._expire, (rk, me))
                    timer.daemon = True
                    timer.start()
                self._running[rk] = (item, self._clock.timestamp(), timer)
            outcome = run_item(item, self._store, thread_capture, self._worker)
            with self._lock:
                if me in self._abandoned:
                    # Timed out (or shut down): its outcome was reported, and another thread
                    # took its place.
                    self._abandoned.discard(me)
                    return
                entry = self._running.pop(rk, None)
                if entry is not None and entry[2] is not None:
                    entry[2].cancel()
                self._finish(outcome)

    def _expire(self, rk: tuple[str, str], ident: int) -> None:
        with self._lock:
            if self._stopping or rk not in self._running:
                return
            entry = self._running.pop(rk)
            item, started, _ = entry
            self._abandoned.add(ident)
            error = ErrorInfo("TimeoutError", f"timed out after {item.timeout:g} s", "", "timeout")
            self._finish(self._failed(item, error, started))
            self._pool = [t for t in self._pool if t.ident != ident]
            self._add_thread()

    def _finish(self, outcome: WorkOutcome) -> None:
        """Hand an outcome to collect() and wake the engine (called with the lock held)."""
        self._done.append(outcome)
        if self._closed or self._pipe is None:
            return
        self._pipe.wake()
