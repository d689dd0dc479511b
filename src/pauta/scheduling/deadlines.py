"""The scheduler's deadline check: one query a second for unfinished runs past their deadline.

Whatever drives a run checks its deadline too; the scheduler covers the runs nobody drives yet
(QUEUED with no worker free) and those whose driver died. For each run it finds, it records
the miss (``claim_deadline_miss``: exactly one of the schedulers and drivers wins, and a
restarted scheduler finds the row and does not report again), reports it to the flow's
``on_failure`` callbacks and the ``PAUTA_NOTIFY`` notifiers, and with ``cancel=True`` cancels
the run (at once when it is only queued, else through its driver).

The scheduler never imports flow files to schedule them. To call a flow's callbacks it must:
that happens on a background thread, only for a run that missed its deadline, so a slow or
broken file never holds up the loop; a file that fails to import is logged, and the notifiers
are told all the same.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pauta.core.errors import PautaError, StoreError
from pauta.engine.callbacks import CallbackRunner, call_safely, deadline_event, deadline_message
from pauta.notify.notifiers import Event
from pauta.store.deadlines import claim_deadline_miss, due_deadlines
from pauta.store.records import FlowRunRecord
from pauta.store.repository import Store

log = logging.getLogger("pauta.scheduler")

Notifiers = Callable[[], list[Callable[[Event], Any]]]


def env_notifiers() -> list[Callable[[Event], Any]]:
    """The notifiers ``PAUTA_NOTIFY`` lists (none when it is unset)."""
    if not os.environ.get("PAUTA_NOTIFY"):
        return []
    from pauta.notify.config import notifiers_from_env

    return list(notifiers_from_env())


class DeadlineCheck:
    """Finds, records and reports missed deadlines; ``check(now)`` once per scheduler tick."""

    def __init__(
        self, store: Store, *, notifiers: Notifiers = env_notifiers, limit: int = 100
    ) -> None:
        self.store = store
        self.notifiers = notifiers
        self.limit = limit
        self.callbacks = CallbackRunner()

    def check(self, now: datetime) -> list[FlowRunRecord]:
        """The runs whose missed deadline this call recorded (and is reporting)."""
        recorded = []
        for run in due_deadlines(self.store, now, self.limit):
            if not claim_deadline_miss(self.store, run, now, "scheduler"):
                continue  # its driver (or another scheduler) was first
            log.warning("%s; it goes on", deadline_message(run))
            self.callbacks.submit(run.id, [self._report], deadline_event(run, now=now))
            recorded.append(run)
            if run.deadline_cancel:
                with contextlib.suppress(StoreError):  # it ended meanwhile: nothing to cancel
                    self.store.request_cancel(run.id, now)
        return recorded

    def wait(self, run_id: str, timeout: float = 60.0) -> None:
        """Block until the report of ``run_id`` was delivered (for tests and shutdown)."""
        self.callbacks.wait(run_id, timeout)

    def close(self) -> None:
        self.callbacks.shutdown()

    def _report(self, event: Event) -> None:
        """On the callback thread: the flow's own callbacks, then the notifiers."""
        # the runner (and the executors it pulls in) loads only once a deadline is missed
        from pauta.engine.runner import load_flow

        callbacks: list[Callable[[Event], Any]] = []
        try:
            run = self.store.get_flow_run(event.run_id)
            callbacks.extend(load_flow(run.flow_ref, run.flow).options.on_failure)
        except PautaError as exc:
            log.error(
                "cannot call the on_failure callbacks of flow %s for its missed deadline "
                "(run %s): %s",
                event.flow,
                event.run_id,
                exc,
            )
        try:
            callbacks.extend(self.notifiers())
        except ValueError as exc:
            log.error("PAUTA_NOTIFY: %s", exc)
        for callback in callbacks:
            call_safely(callback, event)
