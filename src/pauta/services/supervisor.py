"""The supervisor: runs every service of a database, as the store says they should run.

One asyncio loop holds it all: a proxy per service on its stable port, the replica processes,
their health checks and rollouts (``pauta.services.runner``). Every ``poll`` seconds it reads
the wanted state (services and their active revisions) and hands it to the runners; every
``HEARTBEAT_S`` (and soon after anything changed) it writes what it sees to the store and
renews its lease. Only the holder of the lease runs services, so two supervisors on one
database never fight over ports: a second one waits, and takes over when the first stops or
its heartbeat is ``LEASE_TTL`` old (at once when it was on this host and its process is gone).

Stopping (``stop`` set) is graceful: every proxy stops accepting and finishes its answers,
every replica finishes its requests and stops, the lease is given up. The store keeps every
revision's state, so the next supervisor starts each service at the same revision on the same
port.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pauta.core.clock import Clock
from pauta.core.errors import StaleWriteError
from pauta.core.service_states import RevisionState
from pauta.services.isolation import remove_left_overs
from pauta.services.lease import HEARTBEAT_S, LEASE_TTL, pid_alive, this_host
from pauta.services.processes import LOOPBACK
from pauta.services.ray_runner import RayServiceRunner
from pauta.services.replicas import Timing
from pauta.services.runner import RunnerContext, ServiceRunner, Wanted
from pauta.services.spec import ServiceSpec
from pauta.store.repository import Store
from pauta.store.services import RevisionRecord, ServicesStore

log = logging.getLogger("pauta.services")

STATUS_DEBOUNCE_S = 0.2
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})


def address_host_for(host: str) -> str:
    """The host name clients use for services bound to ``host``."""
    return this_host() if host in WILDCARD_HOSTS else host


def executor_of(want: Wanted) -> str | None:
    """Where the service's active revisions run (None: it has none)."""
    newest = want.waiting[-1] if want.waiting else want.serving
    return ServiceSpec.from_json(newest.spec).executor if newest is not None else None


class Supervisor:
    """Runs the services of ``store`` until ``run``'s stop event is set."""

    def __init__(
        self,
        store: Store,
        *,
        logs_dir: Path,
        host: str = LOOPBACK,
        timing: Timing | None = None,
        poll: float = 0.25,
        proxy_wait_s: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        self.services = ServicesStore(store)
        self.clock = clock or store.clock
        self.host = host
        self.address_host = address_host_for(host)
        self.logs_dir = logs_dir
        self.timing = timing or Timing()
        self.poll = poll
        self.proxy_wait_s = proxy_wait_s
        self.pid = os.getpid()
        self.holder = f"{this_host()}:{self.pid}"
        self.runners: dict[str, ServiceRunner | RayServiceRunner] = {}
        self.epoch: int | None = None
        self._dirty: asyncio.Event | None = None
        self.database_lost = False
        """Set when the database file is gone: the shutdown then writes nothing more."""

    # the loop -----------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, *, on_ready: Callable[[], None] | None = None) -> bool:
        """Take the lease (waiting while another supervisor holds it), then run the services
        until ``stop`` is set. False when the lease was lost to another supervisor."""
        self._dirty = asyncio.Event()
        if not await self._take_lease(stop):
            return True
        # beside the start, not before it: the container CLI may take seconds to answer
        cleaning = asyncio.get_running_loop().create_task(self._remove_left_overs())
        if on_ready is not None:
            on_ready()
        lost = False
        last_beat = last_status = self.clock.monotonic()
        try:
            while not stop.is_set():
                wanted = await self._read(self._wanted)
                if wanted is not None:
                    await self._reconcile(wanted)
                now = self.clock.monotonic()
                if now - last_beat >= HEARTBEAT_S:
                    last_beat = now
                    # None: the database failed this time (logged); False: the lease is gone
                    renewed = await self._read(self.services.renew_lease, self.holder, self.epoch)
                    if renewed is False:
                        log.error("services: another supervisor took the lease; stopping")
                        lost = True
                        break
                if (self._dirty.is_set() and now - last_status >= STATUS_DEBOUNCE_S) or (
                    now - last_status >= HEARTBEAT_S
                ):
                    self._dirty.clear()
                    last_status = now
                    await self._write_status()
                await self._pause(stop, self.poll)
        finally:
            await self._shutdown(release=not lost)
            await cleaning
        return not lost

    async def _remove_left_overs(self) -> None:
        """Replica containers of a supervisor of this host that died (found by label)."""
        try:
            removed = await asyncio.to_thread(remove_left_overs)
        except OSError:
            log.warning("services: looking for left-over containers failed", exc_info=True)
            return
        if removed:
            log.info("services: removed %d left-over container(s): %s", len(removed), removed)

    def changed(self) -> None:
        """Something a status shows changed: write the statuses soon."""
        if self._dirty is not None:
            self._dirty.set()

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        waiters = [asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _take_lease(self, stop: asyncio.Event) -> bool:
        said = False
        while not stop.is_set():
            lease = await self._read(self.services.lease)
            dead = None
            if lease is not None and lease.host == this_host() and not pid_alive(lease.pid):
                dead = lease.holder
            epoch = await self._read(
                self.services.take_lease,
                self.holder,
                this_host(),
                self.pid,
                self.address_host,
                ttl=LEASE_TTL,
                dead_holder=dead,
            )
            if epoch is not None:
                self.epoch = epoch
                log.info("services: supervisor %s runs the services", self.holder)
                return True
            if not said and lease is not None:
                log.info(
                    "services: supervisor %s runs the services; waiting to take over",
                    lease.holder,
                )
                said = True
            await self._pause(stop, HEARTBEAT_S)
        return False

    def _wanted(self) -> dict[str, Wanted]:
        services = self.services.list_services()
        active = self.services.active_revisions()
        serving: dict[str, RevisionRecord] = {}
        waiting: dict[str, list[RevisionRecord]] = {}
        for revision in active:
            if revision.state is RevisionState.SERVING:
                serving[revision.service] = revision
            else:
                waiting.setdefault(revision.service, []).append(revision)
        return {
            s.name: Wanted(
                port=s.port,
                stopped=s.stopped_at is not None,
                serving=serving.get(s.name),
                waiting=tuple(waiting.get(s.name, ())),
            )
            for s in services
        }

    async def _reconcile(self, wanted: dict[str, Wanted]) -> None:
        for name, want in wanted.items():
            runner = self.runners.get(name)
            kind = executor_of(want)
            if runner is not None and kind is not None and runner.executor != kind:
                # an idle runner made before the service had a revision of this executor
                await runner.shutdown()
                runner = None
            if runner is None:
                make = RayServiceRunner if kind == "ray" else ServiceRunner
                runner = self.runners[name] = make(name, want.port, self._context())
            try:
                await runner.reconcile(want)
            except Exception:
                log.exception("services: running %s failed; trying again", name)

    def _context(self) -> RunnerContext:
        return RunnerContext(
            store=self.services,
            clock=self.clock,
            timing=self.timing,
            logs_dir=self.logs_dir,
            host=self.host,
            address_host=self.address_host,
            write=self._write,
            changed=self.changed,
            publish=self._write_status,
            proxy_wait_s=self.proxy_wait_s,
        )

    async def _write_status(self) -> None:
        statuses = {name: runner.status() for name, runner in self.runners.items()}
        await self._read(self.services.write_statuses, self.holder, statuses)

    # the store, off the loop --------------------------------------------------------------------
    async def _read(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """A store call in a thread; None (logged) when the database fails."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except sa.exc.SQLAlchemyError:
            log.warning("services: the database failed; trying again", exc_info=True)
            return None

    async def _write(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """A store write in a thread, retried for a while when the database fails: what it
        records (a revision serving, failed) must not be lost to a busy moment."""
        delay = 0.2
        for attempt in range(10):
            try:
                return await asyncio.to_thread(fn, *args, **kwargs)
            except StaleWriteError:
                raise
            except sa.exc.SQLAlchemyError:
                if attempt == 9:
                    raise
                log.warning("services: writing to the database failed; retrying", exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        return None

    async def _shutdown(self, *, release: bool) -> None:
        runners = list(self.runners.values())
        if runners:
            log.info("services: stopping %d service(s)", len(runners))
        await asyncio.gather(*(r.shutdown() for r in runners), return_exceptions=True)
        if self.database_lost:
            return  # a write now could create, or write into, a file that is not the store
        await self._write_status()
        if release and self.epoch is not None:
            await self._read(self.services.release_lease, self.holder, self.epoch)
