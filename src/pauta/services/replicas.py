"""The replicas of one revision: started, checked, restarted, drained and stopped.

A set starts in one of two modes. **Rolling out** (a new revision): its replicas must all
answer their health check within the revision's ready timeout; one that exits first fails the
rollout at once. **Serving** (the revision with the traffic, or one restored after a restart of
the supervisor): a replica that exits, stays unready past the ready timeout, fails
``live_failures`` health checks in a row or grows past its memory limit is stopped and started
again after a backoff (0.5 s, doubling to 30 s; back to the start once it stayed up a minute),
and its restarts are counted. Only READY replicas are handed to the proxy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pauta.core.clock import Clock
from pauta.core.resources import format_memory
from pauta.core.service_states import ReplicaState
from pauta.services.isolation import IsolationError, Launch, prepare
from pauta.services.probe import probe
from pauta.services.processes import (
    LOOPBACK,
    Placement,
    ReplicaProcess,
    describe_exit,
    log_tail,
    start_replica,
)
from pauta.services.proxy import Backend
from pauta.services.spec import ServiceSpec

log = logging.getLogger("pauta.services")


@dataclass(frozen=True, slots=True)
class Timing:
    """How often the supervisor looks, and how long it waits (tests shorten them)."""

    tick: float = 0.1
    """Between looks at the replicas' processes (an exit is seen within this)."""
    ready_interval: float = 0.2
    """Between health checks of a replica that is not ready yet."""
    live_interval: float = 5.0
    """Between health checks of a ready replica."""
    live_failures: int = 3
    """Failed health checks in a row that get a ready replica restarted."""
    probe_timeout: float = 2.0
    backoff_first: float = 0.5
    backoff_max: float = 30.0
    backoff_reset: float = 60.0
    """A replica that stayed up this long starts its backoff from the beginning again."""
    stop_grace: float = 10.0
    """Between SIGTERM and SIGKILL when a replica is stopped."""
    drain_timeout: float = 30.0
    """How long an old replica may take to finish its requests in flight."""


BUILD_LIMIT_S = 1800.0
"""The longest a rollout waits for its replicas' virtualenv to be built."""


def backoff_delay(crashes: int, timing: Timing) -> float:
    """The wait before the ``crashes``-th restart in a row (1 for the first)."""
    return min(timing.backoff_first * 2 ** max(crashes - 1, 0), timing.backoff_max)


class Replica:
    """One replica slot of a set: the process in it now, and what is known about it."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.state = ReplicaState.STARTING
        self.process: ReplicaProcess | None = None
        self.backend: Backend | None = None
        self.restarts = 0
        self.crashes = 0
        self.last_exit: str | None = None
        self.kill_reason: str | None = None
        self.health = "not checked yet"
        self.started_at: str | None = None
        self.started_mono = 0.0
        self.ready_mono: float | None = None
        self.next_check = 0.0
        self.next_start = 0.0
        self.failures = 0
        self.probing = False
        self.served_before = 0

    @property
    def served(self) -> int:
        return self.served_before + (self.backend.served if self.backend else 0)

    def view(self, revision: int) -> dict[str, Any]:
        process = self.process
        return {
            "revision": revision,
            "index": self.index,
            "state": str(self.state),
            "pid": process.pid if process and self.state is not ReplicaState.STOPPED else None,
            "port": process.port if process else None,
            "restarts": self.restarts,
            "started_at": self.started_at,
            "health": self.health,
            "last_exit": self.last_exit,
            "served": self.served,
            "in_flight": self.backend.in_flight if self.backend else 0,
            "log": str(process.log_path) if process else None,
        }


class ReplicaSet:
    """The replicas of one revision of a service."""

    def __init__(
        self,
        service: str,
        revision: int,
        spec: ServiceSpec,
        *,
        logs_dir: Path,
        timing: Timing,
        clock: Clock,
        on_change: Callable[[], None],
        serving: bool,
    ) -> None:
        self.service = service
        self.revision = revision
        self.spec = spec
        self.logs_dir = logs_dir
        self.timing = timing
        self.clock = clock
        self.on_change = on_change
        self.serving = serving
        self.replicas = [Replica(i) for i in range(spec.replicas)]
        self._outcome: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._watcher: asyncio.Task[None] | None = None
        self._probes: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.launch: Launch | None = None
        self._prepared: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def id(self) -> str:
        return f"{self.service}@{self.revision}"

    @property
    def restarts(self) -> int:
        return sum(r.restarts for r in self.replicas)

    def backends(self) -> list[Backend]:
        """The ready replicas, for the proxy."""
        return [
            r.backend
            for r in self.replicas
            if r.state is ReplicaState.READY and r.backend is not None
        ]

    def views(self) -> list[dict[str, Any]]:
        return [r.view(self.revision) for r in self.replicas]

    # life ---------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.spec.isolation is None:
            self._started(Launch())
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    def _started(self, launch: Launch) -> None:
        self.launch = launch
        for replica in self.replicas:
            self._spawn(replica)
        if not self._prepared.done():
            self._prepared.set_result(None)
        self.on_change()

    async def _prepare(self) -> bool:
        """Build (or find) the replicas' virtualenv, check their image; then start them. A
        rollout fails when it cannot; a serving set tries again after a backoff."""
        delay = self.timing.backoff_first
        while True:
            for replica in self.replicas:
                replica.health = f"preparing its {self.spec.isolation}"
            try:
                launch = await asyncio.to_thread(prepare, self.spec)
            except IsolationError as exc:
                problem = str(exc)
                if not self.serving:
                    for replica in self.replicas:
                        replica.state = ReplicaState.STOPPED
                        replica.last_exit = problem.splitlines()[0]
                    if not self._outcome.done():
                        self._outcome.set_result(problem)
                    if not self._prepared.done():
                        self._prepared.set_result(None)
                    self.on_change()
                    return False
                log.warning("%s: %s; trying again in %g s", self.id, problem, delay)
                for replica in self.replicas:
                    replica.health = f"{problem.splitlines()[0]}; trying again in {delay:g} s"
                self.on_change()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.timing.backoff_max)
                continue
            if self._stopping:
                launch.close()
                return False
            self._started(launch)
            return True

    async def until_ready(self, timeout: float) -> str | None:
        """None once every replica answered its health check; otherwise why not (with the log
        tail of the replica that failed), after at most ``timeout`` seconds (counted once its
        virtualenv is built: a first build may take minutes)."""
        with suppress(TimeoutError):
            async with asyncio.timeout(max(timeout, BUILD_LIMIT_S)):
                await asyncio.wait(
                    [asyncio.shield(self._prepared), asyncio.shield(self._outcome)],
                    return_when=asyncio.FIRST_COMPLETED,
                )
        if self._outcome.done():
            return self._outcome.result()
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(self._outcome)
        except TimeoutError:
            waiting = [r for r in self.replicas if r.state is not ReplicaState.READY]
            first = waiting[0] if waiting else self.replicas[0]
            reasons = "; ".join(f"replica {r.index}: {r.health}" for r in waiting)
            return self._with_log(f"not ready within {timeout:g} s ({reasons})", first)

    def serve(self) -> None:
        """From now on, restart what fails instead of failing the rollout."""
        self.serving = True

    async def stop(self, *, drain: bool) -> None:
        """Stop every replica: first let the requests in flight finish when ``drain``."""
        self._stopping = True
        for task in [self._watcher, *self._probes]:
            if task is not None:
                task.cancel()
        for replica in self.replicas:
            if replica.state is not ReplicaState.STOPPED:
                replica.state = ReplicaState.DRAINING
        self.on_change()
        await asyncio.gather(*(self._stop_one(r, drain) for r in self.replicas))
        if self.launch is not None:
            self.launch.close()  # the environment may be pruned once nothing uses it
        if not self._outcome.done():
            self._outcome.set_result("stopped before it was ready")
        self.on_change()

    async def _stop_one(self, replica: Replica, drain: bool) -> None:
        backend = replica.backend
        if drain and backend is not None and not await backend.drained(self.timing.drain_timeout):
            log.warning(
                "%s: replica %d still had %d requests after %g s; stopping it anyway",
                self.id,
                replica.index,
                backend.in_flight,
                self.timing.drain_timeout,
            )
        if backend is not None:
            backend.close_idle()
        if replica.process is not None:
            await replica.process.stop(self.timing.stop_grace)
        replica.state = ReplicaState.STOPPED

    # what happens to a replica ------------------------------------------------------------------
    def _spawn(self, replica: Replica) -> None:
        placement = Placement(self.service, self.revision, replica.index, self.logs_dir)
        started = self.clock.now().isoformat()
        if replica.backend is not None:
            replica.served_before += replica.backend.served
        replica.backend = None
        replica.kill_reason = None
        replica.failures = 0
        replica.started_at = started
        replica.started_mono = self.clock.monotonic()
        replica.ready_mono = None
        replica.next_check = replica.started_mono
        replica.health = "starting"
        try:
            replica.process = start_replica(
                self.spec, placement, started_at=started, launch=self.launch
            )
        except OSError as exc:
            replica.process = None
            self._exited(replica, f"could not be started: {exc}")
            return
        replica.state = ReplicaState.STARTING

    def _exited(self, replica: Replica, reason: str) -> None:
        now = self.clock.monotonic()
        reason = replica.kill_reason or reason
        replica.last_exit = reason
        replica.backend = None
        if not self.serving:
            replica.state = ReplicaState.STOPPED
            self.on_change()
            if not self._outcome.done():
                message = f"replica {replica.index} {reason} before it was ready"
                self._outcome.set_result(self._with_log(message, replica))
            return
        stayed = now - replica.ready_mono if replica.ready_mono is not None else 0.0
        replica.crashes = 1 if stayed >= self.timing.backoff_reset else replica.crashes + 1
        delay = backoff_delay(replica.crashes, self.timing)
        replica.next_start = now + delay
        replica.state = ReplicaState.BACKOFF
        replica.health = f"{reason}; starting again in {delay:g} s"
        log.warning("%s: replica %d %s; restarting in %g s", self.id, replica.index, reason, delay)
        self.on_change()

    def _with_log(self, message: str, replica: Replica) -> str:
        path = replica.process.log_path if replica.process else None
        tail = log_tail(path) if path is not None else ""
        if not tail:
            return message
        return f"{message}\n--- last lines of {path} ---\n{tail}"

    async def _watch(self) -> None:
        timing = self.timing
        if self.launch is None and not await self._prepare():
            return
        while not self._stopping:
            now = self.clock.monotonic()
            for replica in self.replicas:
                self._look_at(replica, now, timing)
            await asyncio.sleep(timing.tick)

    def _look_at(self, replica: Replica, now: float, timing: Timing) -> None:
        state = replica.state
        process = replica.process
        if state is ReplicaState.BACKOFF:
            if now >= replica.next_start:
                replica.restarts += 1
                self._spawn(replica)
                self.on_change()
            return
        if state in {ReplicaState.STOPPED, ReplicaState.DRAINING} or process is None:
            return
        code = process.exit_code()
        if code is not None:
            self._exited(replica, describe_exit(code))
            return
        late = now - replica.started_mono > self.spec.ready_timeout
        if state is ReplicaState.STARTING and self.serving and late:
            self._kill(replica, f"not ready within {self.spec.ready_timeout:g} s")
            return
        if not replica.probing and now >= replica.next_check:
            replica.probing = True
            task = asyncio.get_running_loop().create_task(self._check(replica, process))
            self._probes.add(task)
            task.add_done_callback(self._probes.discard)

    def _kill(self, replica: Replica, reason: str) -> None:
        if replica.process is not None:
            replica.kill_reason = reason
            replica.process.kill()

    async def _check(self, replica: Replica, process: ReplicaProcess) -> None:
        timing = self.timing
        try:
            found = await probe(LOOPBACK, process.port, self.spec.health, timing.probe_timeout)
        finally:
            replica.probing = False
        if replica.process is not process or replica.state not in {
            ReplicaState.STARTING,
            ReplicaState.READY,
            ReplicaState.UNHEALTHY,
        }:
            return  # restarted or stopped meanwhile
        now = self.clock.monotonic()
        replica.health = found.detail
        if replica.state is ReplicaState.STARTING:
            replica.next_check = now + (timing.live_interval if found.ok else timing.ready_interval)
            if found.ok:
                self._ready(replica, process, now)
            return
        replica.next_check = now + timing.live_interval
        over = self._over_memory(process)
        if over is not None:
            self._kill(replica, over)
            return
        if found.ok:
            replica.failures = 0
            if replica.state is ReplicaState.UNHEALTHY:
                replica.state = ReplicaState.READY
                self.on_change()
            return
        replica.failures += 1
        if replica.state is ReplicaState.READY:
            replica.state = ReplicaState.UNHEALTHY
            self.on_change()
        if replica.failures >= timing.live_failures:
            self._kill(replica, f"failed {replica.failures} health checks: {found.detail}")

    def _ready(self, replica: Replica, process: ReplicaProcess, now: float) -> None:
        replica.backend = Backend(LOOPBACK, process.port, self.clock.monotonic)
        replica.state = ReplicaState.READY
        replica.ready_mono = now
        replica.failures = 0
        self.on_change()
        if not self._outcome.done() and all(r.state is ReplicaState.READY for r in self.replicas):
            self._outcome.set_result(None)

    def _over_memory(self, process: ReplicaProcess) -> str | None:
        limit = self.spec.resources.memory if self.spec.resources else 0
        if not limit:
            return None
        used = process.rss_bytes()
        if used is None or used <= limit:
            return None
        return f"used {format_memory(used)}, over its memory limit of {format_memory(limit)}"


async def cancel_quietly(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait for it to end."""
    if task is None or task.done():
        return
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
