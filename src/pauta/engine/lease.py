"""The heartbeat: renews the lease of every run this process drives, apart from flow bodies.

A flow body may compute for minutes without calling pauta; the lease must not lapse meanwhile,
so a thread of its own renews it. When a renewal finds another driver's epoch, the run is
aborted here: every later write by this process would be refused anyway.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING

from pauta.core.errors import LeaseLostError
from pauta.core.host import hostname
from pauta.engine.commands import SetPools
from pauta.engine.deadlines import DeadlineWatch

if TYPE_CHECKING:
    from pauta.engine.loop import Engine

log = logging.getLogger("pauta.engine")

HEARTBEAT_INTERVAL_MAX = 5.0
CANCEL_CHECK_INTERVAL = 1.0
LEASE_TTL = float(os.environ.get("PAUTA_LEASE_TTL", "30"))
"""Seconds after which a run whose driver stopped heartbeating counts as abandoned."""
HEARTBEAT_INTERVAL = min(HEARTBEAT_INTERVAL_MAX, LEASE_TTL / 3)
"""A lease is renewed at least three times per LEASE_TTL."""


def driver_identity() -> tuple[str, int]:
    """(host, pid) recorded as a run's driver."""
    return hostname(), os.getpid()


class LeaseKeeper:
    """Renews leases every ``interval`` seconds until stopped, and looks for cancel requests
    (`pauta runs cancel`) and missed deadlines every ``check_interval`` seconds."""

    def __init__(
        self,
        engine: Engine,
        interval: float = HEARTBEAT_INTERVAL,
        check_interval: float = CANCEL_CHECK_INTERVAL,
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.check_interval = min(check_interval, interval)
        self.deadlines = DeadlineWatch(engine.store, engine.callbacks)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pauta-heartbeat", daemon=True)

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        next_beat = self.engine.clock.monotonic() + self.interval
        while not self._stop.wait(self.check_interval):
            self.check_cancels()
            self.check_deadlines()
            try:
                self.engine.store.checkpoint()
            except Exception:
                log.warning("checkpointing the database failed; will retry", exc_info=True)
            if self.engine.clock.monotonic() >= next_beat:
                next_beat += self.interval
                self.beat()

    def check_cancels(self) -> None:
        """Cancel the runs someone asked to stop."""
        engine = self.engine
        drivers = [d for d in engine.runs() if not d.cancelling and d.lost is None]
        if not drivers:
            return
        try:
            wanted = engine.store.cancel_requests(d.run_id for d in drivers)
        except Exception:
            log.warning("checking for cancel requests failed; will retry", exc_info=True)
            return
        for driver in drivers:
            if driver.run_id in wanted:
                driver.cancel()

    def check_deadlines(self) -> list[str]:
        """Report the driven runs past their deadline (see ``deadlines``); their ids."""
        try:
            return self.deadlines.check(self.engine.runs(), self.engine.clock.now())
        except Exception:
            log.warning("checking deadlines failed; will retry", exc_info=True)
            return []

    def beat(self) -> None:
        """Renew every lease once, and pick up pool sizes changed with `pauta pools set`."""
        engine = self.engine
        try:
            engine.post(SetPools(engine.store.list_pools()))
        except Exception:
            log.warning("reading pools failed; will retry", exc_info=True)
        for driver in engine.runs():
            if driver.lost is not None:
                continue
            try:
                held = engine.store.heartbeat(driver.run_id, driver.epoch, engine.clock.now())
            except Exception:
                log.warning("heartbeat for run %s failed; will retry", driver.run_id, exc_info=True)
                continue
            if not held:
                driver.abort(
                    LeaseLostError(
                        f"run {driver.run_id} was taken over by another driver; this process "
                        "stopped driving it"
                    )
                )
                engine.signals.notify()
