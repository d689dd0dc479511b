"""One service in the supervisor: its proxy, the revision with the traffic, and rollouts.

The supervisor hands each runner what the store wants for it (``Wanted``) every moment; the
runner compares it with what runs and acts, without waiting on long work itself:

- a new revision (PENDING) is rolled out: its replicas start beside the serving ones; once all
  are ready the proxy's traffic moves to them (one assignment), the store records it SERVING
  (and the old one RETIRED), and the old replicas finish their requests and stop. One that is
  not ready in time is stopped and recorded FAILED with its log tail; the old one never
  stopped serving. Revisions deployed while one rolls out wait; only the newest is rolled out;
- a SERVING revision that nothing runs (a supervisor that just started) is restored;
- a stopped service's traffic stops, its replicas finish their requests and stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from pauta.core.clock import Clock
from pauta.core.errors import StaleWriteError
from pauta.core.service_states import RevisionState
from pauta.services.proxy import Backend, ServiceProxy
from pauta.services.replicas import ReplicaSet, Timing, cancel_quietly
from pauta.services.spec import ServiceSpec
from pauta.services.traffic import Traffic
from pauta.store.services import RevisionRecord, ServicesStore

log = logging.getLogger("pauta.services")


class Write(Protocol):
    """Runs a blocking store call off the event loop (retrying while the database is busy)."""

    def __call__(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Awaitable[Any]: ...


@dataclass(frozen=True, slots=True)
class Wanted:
    """What the store says about one service."""

    port: int
    stopped: bool
    serving: RevisionRecord | None
    # PENDING and STARTING revisions, oldest first
    waiting: tuple[RevisionRecord, ...] = ()


@dataclass(slots=True)
class RunnerContext:
    store: ServicesStore
    clock: Clock
    timing: Timing
    logs_dir: Path
    host: str
    address_host: str
    write: Write
    changed: Callable[[], None]
    # writes every runner's status now, not at the next debounced write
    publish: Callable[[], Awaitable[None]]
    proxy_wait_s: float = 30.0
    stop_timeout_s: float = 10.0


class RevisionMoves:
    """What every service runner records of its revisions: superseded, failed (rolled back),
    stopped; each a compare-and-set that another supervisor may have won already."""

    name: str
    ctx: RunnerContext
    _finished: set[int]

    async def _supersede(self, revision: RevisionRecord, reason: str) -> None:
        self._finished.add(revision.revision)
        await self._move(revision.revision, revision.state, RevisionState.SUPERSEDED, reason)

    async def _claim(self, revision: RevisionRecord) -> bool:
        """Move a PENDING revision to STARTING; False when another supervisor did first."""
        if revision.state is not RevisionState.PENDING:
            return True
        try:
            await self.ctx.write(
                self.ctx.store.transition,
                self.name,
                revision.revision,
                RevisionState.PENDING,
                RevisionState.STARTING,
            )
        except StaleWriteError:
            self._finished.add(revision.revision)
            return False
        return True

    async def _promote(self, number: int, old: int | None) -> None:
        """Revision ``number`` serves (``old`` no longer): its replicas' states go to the store
        first, so whoever sees it SERVING also sees them READY."""
        self._finished.add(number)
        await self.ctx.publish()
        await self.ctx.write(self.ctx.store.promote, self.name, number, old)

    async def _record_failed(self, revision: RevisionRecord, problem: str, rolled: str) -> None:
        """``revision`` FAILED with ``problem``; ``rolled`` says what serves now."""
        self._finished.add(revision.revision)
        summary, _, details = problem.partition("\n")
        error = f"{self.name}@{revision.revision} {summary}: rolled back{rolled}"
        if details:
            error = f"{error}\n{details}"
        log.warning("service %s: %s", self.name, error.splitlines()[0])
        await self._move(revision.revision, RevisionState.STARTING, RevisionState.FAILED, error)
        self.ctx.changed()

    async def _record_stopped(self, number: int) -> None:
        await self._move(number, RevisionState.SERVING, RevisionState.STOPPED)

    async def _move(
        self, number: int, old: RevisionState, new: RevisionState, error: str | None = None
    ) -> None:
        extra = {} if error is None else {"error": error}
        with contextlib.suppress(StaleWriteError):
            await self.ctx.write(self.ctx.store.transition, self.name, number, old, new, **extra)


class ServiceRunner(RevisionMoves):
    """Runs one service for the supervisor."""

    executor = "local"

    def __init__(self, name: str, port: int, ctx: RunnerContext) -> None:
        self.name = name
        self.port = port
        self.ctx = ctx
        self.traffic = Traffic(ctx.clock.monotonic)
        self.proxy = ServiceProxy(
            name,
            self._routes,
            self.traffic,
            ctx.clock.monotonic,
            coming=self._coming,
            wait_s=ctx.proxy_wait_s,
        )
        self.serving: ReplicaSet | None = None
        self.starting: ReplicaSet | None = None
        self.retiring: list[ReplicaSet] = []
        self.stopped = False
        self.problem: str | None = None
        self._rollout: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._finished: set[int] = set()
        self._retire_tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"http://{self.ctx.address_host}:{self.port}"

    def _routes(self) -> list[Backend]:
        return self.serving.backends() if self.serving is not None else []

    def _coming(self) -> bool:
        return self.serving is not None or self.starting is not None

    def _changed(self) -> None:
        self.proxy.routes_changed()
        self.ctx.changed()

    def _set(self, revision: RevisionRecord, *, serving: bool) -> ReplicaSet:
        return ReplicaSet(
            self.name,
            revision.revision,
            ServiceSpec.from_json(revision.spec),
            logs_dir=self.ctx.logs_dir,
            timing=self.ctx.timing,
            clock=self.ctx.clock,
            on_change=self._changed,
            serving=serving,
        )

    # the supervisor's every look ----------------------------------------------------------------
    async def reconcile(self, want: Wanted) -> None:
        """Act on what the store wants now; never waits on a rollout or a stop."""
        if want.stopped:
            if not self.stopped:
                self.stopped = True
                self._stopping = asyncio.get_running_loop().create_task(self._stop(want))
            return
        if self._stopping is not None and not self._stopping.done():
            return  # a new revision of a stopped service starts once the stop is over
        self.stopped = False
        waiting = [r for r in want.waiting if r.revision not in self._finished]
        if not waiting and self.serving is None and want.serving is None:
            return  # nothing to serve (every revision failed): the port stays free
        if not self.proxy.listening and not await self._listen():
            return
        if self._rollout is not None and not self._rollout.done():
            return
        if self.serving is None and want.serving is not None:
            self._restore(want.serving)
        if not waiting:
            return
        target, older = waiting[-1], waiting[:-1]
        for revision in older:
            await self._supersede(revision, f"superseded by {self.name}@{target.revision}")
        if self.serving is None or self.serving.revision != target.revision:
            self._rollout = asyncio.get_running_loop().create_task(self._roll_out(target))

    async def _listen(self) -> bool:
        try:
            await self.proxy.listen(self.ctx.host, self.port)
        except OSError as exc:
            problem = f"cannot listen on {self.ctx.host}:{self.port}: {exc.strerror or exc}"
            if problem != self.problem:
                log.error("service %s: %s; retrying", self.name, problem)
                self.problem = problem
                self.ctx.changed()
            return False
        self.problem = None
        log.info("service %s: listening on %s", self.name, self.address)
        self.ctx.changed()
        return True

    def _restore(self, revision: RevisionRecord) -> None:
        log.info("service %s: starting %s@%d", self.name, self.name, revision.revision)
        replicas = self._set(revision, serving=True)
        self.serving = replicas
        replicas.start()
        self._changed()

    # a new revision -----------------------------------------------------------------------------
    async def _roll_out(self, revision: RevisionRecord) -> None:
        name, number = self.name, revision.revision
        if not await self._claim(revision):
            return
        new = self._set(revision, serving=False)
        self.starting = new
        log.info("service %s: starting %s", name, new.id)
        new.start()
        self.ctx.changed()
        try:
            problem = await new.until_ready(new.spec.ready_timeout)
        except asyncio.CancelledError:
            self.starting = None
            await new.stop(drain=False)
            if self.stopped:
                started = replace(revision, state=RevisionState.STARTING)
                await self._supersede(started, "the service was stopped while it started")
            raise
        self.starting = None
        if problem is not None:
            await new.stop(drain=False)
            await self._fail(revision, problem)
            return
        old = self.serving
        new.serve()
        self.serving = new
        self._changed()  # from here on, new requests go to the new replicas
        await self._promote(number, old.revision if old else None)
        log.info("service %s: %s serving on %s", name, new.id, self.address)
        if old is not None:
            # its own task: a shutdown that cancels rollouts must not cut a drain short
            self.retiring.append(old)
            task = asyncio.get_running_loop().create_task(self._retire(old))
            self._retire_tasks.add(task)
            task.add_done_callback(self._retire_tasks.discard)

    async def _retire(self, old: ReplicaSet) -> None:
        try:
            await old.stop(drain=True)
        finally:
            self.retiring.remove(old)
            self.ctx.changed()

    async def _fail(self, revision: RevisionRecord, problem: str) -> None:
        keeps = f"; {self.serving.id} keeps serving" if self.serving is not None else ""
        await self._record_failed(revision, problem, keeps)

    # stopping -----------------------------------------------------------------------------------
    async def _stop(self, want: Wanted) -> None:
        """Stop the service for good (``pauta services stop``): its state records it."""
        await cancel_quietly(self._rollout)
        for revision in want.waiting:
            if revision.revision not in self._finished:
                await self._supersede(revision, "the service was stopped")
        serving, self.serving = self.serving, None
        if serving is not None:
            self.retiring.append(serving)  # shown while it drains
        self._changed()
        await self.proxy.close(self.ctx.stop_timeout_s)
        if serving is not None:
            await serving.stop(drain=True)
            self.retiring.remove(serving)
        # also a SERVING revision this supervisor never started (stopped while none ran)
        number = serving.revision if serving is not None else None
        if number is None and want.serving is not None:
            number = want.serving.revision
        if number is not None:
            await self._record_stopped(number)
        log.info("service %s: stopped", self.name)
        self.ctx.changed()

    async def shutdown(self) -> None:
        """Stop everything this runner runs, leaving the store as it is (the supervisor is
        stopping: the next one starts the same revisions again)."""
        await cancel_quietly(self._rollout)
        if self._stopping is not None:
            await self._stopping
        await self.proxy.close(self.ctx.stop_timeout_s)
        sets = [s for s in (self.serving, self.starting) if s is not None]
        await asyncio.gather(
            *(s.stop(drain=s is self.serving) for s in sets), *list(self._retire_tasks)
        )
        self.serving = self.starting = None

    # what the store shows -----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        replicas: list[dict[str, Any]] = []
        for replica_set in (self.serving, self.starting, *self.retiring):
            if replica_set is not None:
                replicas.extend(replica_set.views())
        return {
            "executor": self.executor,
            "address": self.address,
            "listening": self.proxy.listening,
            "problem": self.problem,
            "stopped": self.stopped,
            "revision": self.serving.revision if self.serving is not None else None,
            "starting": self.starting.revision if self.starting is not None else None,
            "replicas": replicas,
            "restarts": self.serving.restarts if self.serving is not None else 0,
            "traffic": self.traffic.snapshot(),
            "logs_dir": str(self.ctx.logs_dir / self.name),
        }
