"""Task and flow callbacks (``on_success``, ``on_failure``, ``on_retry``) and notifiers.

Callbacks get one ``pauta.notify.Event`` (the run, the task, the attempt, the error). They run
on a small thread pool, never on the engine loop, so a slow webhook cannot stall dispatch. A
callback that raises is logged and never changes the outcome of the run. The event class and the
pool load with the first callback: a run without callbacks never needs them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor
    from datetime import datetime

    from pauta.engine.calls import TaskCall
    from pauta.notify.notifiers import Event
    from pauta.store.records import FlowRunRecord

log = logging.getLogger("pauta.callbacks")

Callback = Callable[["Event"], Any]


def task_event(call: TaskCall, what: str) -> Event:
    from pauta.notify.notifiers import Event

    run = call.run
    return Event(
        kind="task",
        what=what,  # type: ignore[arg-type]
        flow=run.flow_name,
        run_id=run.run_id,
        state=str(call.state),
        logical_date=run.logical_date,
        task_key=call.key,
        task_name=call.name,
        attempt=call.attempt,
        error=call.error,
        started_at=call.started_at,
        ended_at=call.ended_at,
    )


def flow_event(
    record: FlowRunRecord, what: str, state: str, error: dict[str, Any] | None, *, now: datetime
) -> Event:
    from pauta.notify.notifiers import Event

    return Event(
        kind="flow",
        what=what,  # type: ignore[arg-type]
        flow=record.flow,
        run_id=record.id,
        state=state,
        logical_date=record.logical_date,
        error=error,
        started_at=record.started_at,
        ended_at=now,
    )


def deadline_event(record: FlowRunRecord, *, now: datetime) -> Event:
    """The event of a run still unfinished at ``now``, past its ``deadline_at``."""
    from pauta.notify.notifiers import Event

    return Event(
        kind="flow",
        what="deadline_missed",
        flow=record.flow,
        run_id=record.id,
        state=str(record.state),
        logical_date=record.logical_date,
        error={
            "type": "DeadlineMissed",
            "message": deadline_message(record),
            "traceback": None,
        },
        started_at=record.started_at,
        deadline_at=record.deadline_at,
    )


def deadline_message(record: FlowRunRecord) -> str:
    """``"run X of flow F was due to finish by 2026-03-02T08:00:00+00:00"``."""
    due = record.deadline_at.isoformat() if record.deadline_at else "?"
    return f"run {record.id} of flow {record.flow} was due to finish by {due}"


class CallbackRunner:
    """Runs callbacks in the background and lets a run wait for its own."""

    def __init__(self, threads: int = 2) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._threads = threads
        self._pending: dict[str, list[Future[None]]] = {}
        self._lock = threading.Lock()

    def submit(self, run_id: str, callbacks: Iterable[Callback], event: Event) -> None:
        """Call each callback with ``event`` on the pool."""
        callbacks = list(callbacks)
        if not callbacks:
            return
        with self._lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="pauta-callback")
            futures = self._pending.setdefault(run_id, [])
            futures[:] = [f for f in futures if not f.done()]
            for callback in callbacks:
                futures.append(self._pool.submit(call_safely, callback, event))

    def wait(self, run_id: str, timeout: float = 60.0) -> None:
        """Block until the run's callbacks so far have finished (or ``timeout`` passed)."""
        with self._lock:
            futures = self._pending.pop(run_id, [])
        if futures:
            from concurrent.futures import wait

            _, late = wait(futures, timeout)
            if late:
                log.warning(
                    "%d callbacks of run %s still running after %g s", len(late), run_id, timeout
                )

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


def call_safely(callback: Callback, event: Event) -> None:
    """Run one callback; an exception is logged, never raised."""
    try:
        callback(event)
    except Exception:
        name = getattr(callback, "__qualname__", None) or repr(callback)
        subject = event.task_key or event.flow
        log.warning(
            "%s callback %s for %s (run %s) failed; the run's outcome is unchanged",
            event.what,
            name,
            subject,
            event.run_id,
            exc_info=True,
        )
