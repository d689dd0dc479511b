"""``pauta worker``: claim queued runs from the store and drive them here.

A worker claims runs in priority order while it has room for them (``max_runs`` at a time),
and resumes runs whose driver stopped renewing its lease (a worker or `pauta run` that
died): the engine's durable replay makes that safe. Claims are atomic in the store, so several
workers on one PostgreSQL database never run the same run twice.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from pauta.core.clock import Clock, get_clock
from pauta.engine.flowlog import quiet_flow_output
from pauta.engine.lease import LEASE_TTL, driver_identity
from pauta.engine.runner import Runner
from pauta.store.records import FlowRunRecord

log = logging.getLogger("pauta.worker")


class Worker:
    """Claims and drives runs until stopped."""

    def __init__(
        self,
        runner: Runner,
        *,
        max_runs: int = 4,
        poll_interval: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        if max_runs < 1:
            raise ValueError("max_runs must be at least 1")
        self.runner = runner
        self.max_runs = max_runs
        self.poll_interval = poll_interval
        self.clock = clock or get_clock()
        self._active: dict[str, threading.Thread] = {}
        self.finished: list[tuple[str, str]] = []
        # set when a run ends (or on stop): a full worker claims again at once instead of
        # after a whole poll interval, which would cap it at max_runs runs per interval
        self._wake = threading.Event()

    @property
    def active(self) -> int:
        self._active = {k: t for k, t in self._active.items() if t.is_alive()}
        return len(self._active)

    def step(self) -> int:
        """Claim what fits now; returns how many runs were started."""
        store = self.runner.engine().store
        host, pid = driver_identity()
        started = 0
        while self.active < self.max_runs:
            record = store.claim_queued_run(host=host, pid=pid, now=self.clock.now())
            if record is None:
                break
            self._start(record.id, lambda r=record: self.runner.run_claimed(r))
            started += 1
        if self.active < self.max_runs:
            stale = self.clock.now() - timedelta(seconds=LEASE_TTL)
            for record in store.abandoned_runs(stale_before=stale, limit=self.max_runs):
                if self.active >= self.max_runs:
                    break
                if record.id in self._active:
                    continue
                log.info("resuming run %s: its driver stopped renewing its lease", record.id)
                self._start(record.id, lambda r=record: self._resume(r))
                started += 1
        return started

    def _resume(self, record: FlowRunRecord) -> object:
        return self.runner.resume(record.id, force=True)

    def _start(self, run_id: str, work: object) -> None:
        def target() -> None:
            try:
                with quiet_flow_output():
                    run = work()  # type: ignore[operator]
                self.finished.append((run_id, str(run.state)))
                log.info("run %s ended %s", run_id, run.state)
            except Exception:
                log.exception("run %s could not be driven", run_id)
                self.finished.append((run_id, "ERROR"))
            finally:
                # free the slot before waking the loop, which counts the runs still going
                self._active.pop(run_id, None)
                self._wake.set()

        thread = threading.Thread(target=target, name=f"pauta-run-{run_id}", daemon=True)
        self._active[run_id] = thread
        thread.start()

    def run_until(self, stop: threading.Event) -> None:
        """Poll for work until ``stop`` is set, then wait for the runs in progress."""

        def wake_on_stop() -> None:
            stop.wait()
            self._wake.set()

        threading.Thread(target=wake_on_stop, name="pauta-worker-stop", daemon=True).start()
        while not stop.is_set():
            self._wake.clear()
            try:
                self.step()
            except Exception:
                log.exception("claiming runs failed; retrying")
            self._wake.wait(self.poll_interval)
        for thread in list(self._active.values()):
            thread.join()
