"""The scheduler as a long-running service: rescans flows in the background, evaluates due ticks
every second, and queues runs. Used by `pauta scheduler` and `pauta server`."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from pauta.core.clock import Clock, get_clock
from pauta.scheduling.deadlines import DeadlineCheck
from pauta.scheduling.discovery import Discovery, discover, sync_to_store
from pauta.scheduling.scheduler import DEFAULT_MAX_CATCHUP, Scheduler, paused_flows
from pauta.scheduling.triggers import EventTriggers
from pauta.store.repository import Store

log = logging.getLogger("pauta.scheduler")


class SchedulerService:
    """Runs until ``stop()``; ``ready`` is set once the first scan of the flows finished."""

    def __init__(
        self,
        store: Store,
        folder: Path,
        *,
        rescan: float = 10.0,
        max_catchup: int = DEFAULT_MAX_CATCHUP,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.folder = folder
        self.rescan = rescan
        self.clock = clock or get_clock()
        self.scheduler = Scheduler(store, max_catchup=max_catchup)
        self.triggers = EventTriggers(store)
        self.deadlines = DeadlineCheck(store)
        self.found: Discovery | None = None
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def scan(self) -> Discovery:
        """Discover the flows (re-importing only changed files) and record them."""
        found = discover(self.folder, previous=self.found, clock=self.clock)
        sync_to_store(found, self.store)
        for error in found.errors:
            log.warning("%s", error)
        self.found = found
        self.ready.set()
        return found

    def start(self) -> SchedulerService:
        for target, name in ((self._scan_loop, "pauta-scan"), (self._tick_loop, "pauta-cron")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, *, wait: bool = True) -> None:
        """Stop scanning and scheduling; ``wait`` for the loops to end (a scan may be importing)."""
        self._stop.set()
        if not wait:
            return
        for thread in self._threads:
            thread.join(timeout=30)
        self.deadlines.close()

    def _scan_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan()
            except Exception:
                # keep scheduling with what the previous scan found
                log.exception("scanning %s failed", self.folder)
            self._stop.wait(self.rescan)

    def evaluate(self, found: Discovery) -> None:
        """One pass: queue the runs due to time schedules, then those due to events, then
        report the runs past their deadline."""
        flows = list(found.flows.values())
        now = self.clock.now()
        try:
            paused = paused_flows(self.store)
            for run in self.scheduler.evaluate(flows, now, paused=paused):
                log.info("queued %s for %s as %s", run.flow, run.logical_date, run.id)
        except Exception:
            log.exception("evaluating schedules failed")
            return
        try:
            self.triggers.evaluate(flows, paused, now)
        except Exception:
            log.exception("evaluating event triggers failed")
        try:
            self.deadlines.check(now)
        except Exception:
            log.exception("checking deadlines failed")

    def _tick_loop(self) -> None:
        self.ready.wait()
        while not self._stop.is_set():
            found = self.found
            if found is not None:
                self.evaluate(found)
            # wake at the start of the next second: ticks fall on whole seconds
            self._stop.wait(max(0.05, 1.0 - self.clock.timestamp() % 1.0))
