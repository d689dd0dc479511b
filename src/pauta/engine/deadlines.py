"""Deadlines of the runs this process drives, checked by the heartbeat thread.

A run's ``deadline_at`` was fixed when it was created. Once this process's clock passes it
and the run is still going, the miss is recorded in the store (``claim_deadline_miss``: the
first to record it, this process or a scheduler, reports it, once) and reported to the flow's
``on_failure`` callbacks and the configured notifiers; with ``Deadline(cancel=True)`` the run
is then cancelled. No thread per run: one pass over the driven runs, from the thread that
already renews their leases.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pauta.engine.callbacks import CallbackRunner, deadline_event, deadline_message
from pauta.store.records import FlowRunRecord

if TYPE_CHECKING:
    from pauta.store.repository import Store

log = logging.getLogger("pauta.engine")


@runtime_checkable
class WatchedRun(Protocol):
    """What the check needs of a run's driver."""

    @property
    def run_id(self) -> str: ...

    @property
    def record(self) -> FlowRunRecord: ...

    @property
    def failure_callbacks(self) -> Sequence[Callable[[Any], Any]]: ...

    cancel_error: dict[str, Any] | None

    def cancel(self) -> None: ...


class DeadlineWatch:
    """Remembers which driven runs it has settled, so each costs one store write at most."""

    def __init__(self, store: Store, callbacks: CallbackRunner) -> None:
        self.store = store
        self.callbacks = callbacks
        self._settled: set[str] = set()

    def check(self, runs: Iterable[Any], now: datetime) -> list[str]:
        """Report the runs among ``runs`` past their deadline at ``now``; returns the ids of
        those this call reported."""
        reported = []
        live = set()
        for run in runs:
            if not isinstance(run, WatchedRun):
                continue
            live.add(run.run_id)
            record = run.record
            due = record.deadline_at
            if due is None or now < due or run.run_id in self._settled:
                continue
            self._settled.add(run.run_id)
            try:
                mine = self.store.claim_deadline_miss(record, now, "driver")
            except Exception:
                self._settled.discard(run.run_id)  # the database is away: try again next time
                log.warning("recording the missed deadline of run %s failed", run.run_id,
                            exc_info=True)  # fmt: skip
                continue
            if mine:  # else a scheduler saw it first and reports it
                log.warning("%s; it goes on", deadline_message(record))
                event = deadline_event(record, now=now)
                self.callbacks.submit(run.run_id, run.failure_callbacks, event)
                reported.append(run.run_id)
            if record.deadline_cancel:
                run.cancel_error = {
                    "type": "DeadlineMissed",
                    "message": f"cancelled: {deadline_message(record)}",
                }
                run.cancel()
        self._settled &= live  # forget runs no longer driven here
        return reported
