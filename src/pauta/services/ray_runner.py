"""One ``ray`` service in the supervisor: its revisions deployed with Ray Serve.

The same store, states and rules as a local service (``pauta.services.runner``); what runs
them differs. A new revision is a new deploy of the service's Serve application, which Serve
rolls out itself (new replicas up, then old ones drained); the revision SERVES once Serve
reports the application RUNNING. One that Serve reports DEPLOY_FAILED or UNHEALTHY, or that
is not RUNNING within its ready timeout, is FAILED with Serve's message, and pauta rolls back
by deploying the previous revision's spec again (Ray Serve has no rollback of its own).
Replicas, their restarts and their health checks are Serve's; stopping the service deletes
the application. A supervisor that stops leaves the application running on the cluster: the
next one finds it and goes on (or deploys the serving revision again when it is gone).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from pauta.services import ray_serve
from pauta.services.replicas import cancel_quietly
from pauta.services.runner import RevisionMoves, RunnerContext, Wanted
from pauta.services.spec import ServiceSpec
from pauta.store.services import RevisionRecord

log = logging.getLogger("pauta.services")

T = TypeVar("T")
WATCH_S = 1.0
"""Between looks at Serve's status (what the listings show)."""
POLL_S = 0.5
"""Between looks at an application being deployed."""
FAILED = frozenset({"DEPLOY_FAILED", "UNHEALTHY"})
LIVE = frozenset({"RUNNING", "DEPLOYING", "UNHEALTHY"})
# Serve's replica states in pauta's words (the listings count READY replicas)
REPLICA_STATES = {"RUNNING": "READY", "STOPPING": "DRAINING"}


class RayServiceRunner(RevisionMoves):
    """Runs one service with Ray Serve for the supervisor."""

    executor = "ray"

    def __init__(self, name: str, port: int, ctx: RunnerContext) -> None:
        self.name = name
        self.port = port
        self.ctx = ctx
        self.serving: RevisionRecord | None = None
        self.starting: int | None = None
        self.stopped = False
        self.problem: str | None = None
        self.cluster: str | None = None
        self._view: ray_serve.ServeView | None = None
        self._rollout: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._finished: set[int] = set()

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    # the supervisor's every look ----------------------------------------------------------------
    async def reconcile(self, want: Wanted) -> None:
        """Act on what the store wants now; never waits on a rollout or a stop."""
        newest = want.waiting[-1] if want.waiting else want.serving
        if newest is not None:
            self.cluster = ServiceSpec.from_json(newest.spec).ray_address
        loop = asyncio.get_running_loop()
        if self._watcher is None and newest is not None:
            self._watcher = loop.create_task(self._watch())
        if want.stopped:
            if not self.stopped:
                self.stopped = True
                self._stopping = loop.create_task(self._stop(want))
            return
        if self._stopping is not None and not self._stopping.done():
            return
        self.stopped = False
        if self._rollout is not None and not self._rollout.done():
            return
        waiting = [r for r in want.waiting if r.revision not in self._finished]
        if self.serving is None and want.serving is not None:
            self.serving = want.serving
            self._rollout = loop.create_task(self._restore(want.serving))
            return
        if not waiting:
            return
        target, older = waiting[-1], waiting[:-1]
        for revision in older:
            await self._supersede(revision, f"superseded by {self.name}@{target.revision}")
        if self.serving is None or self.serving.revision != target.revision:
            self._rollout = loop.create_task(self._roll_out(target))

    async def _watch(self) -> None:
        while True:
            try:
                self._view = await self._call(ray_serve.view, self.cluster)
                self.problem = None
            except Exception as exc:
                problem = f"cannot read Ray Serve's status: {exc}"
                if problem != self.problem:
                    log.warning("service %s: %s", self.name, problem)
                self.problem = problem
            self.ctx.changed()
            await asyncio.sleep(WATCH_S)

    async def _app(self) -> ray_serve.AppState | None:
        view = await self._call(ray_serve.view, self.cluster)
        self._view = view
        return view.apps.get(self.name)

    # revisions ----------------------------------------------------------------------------------
    async def _restore(self, revision: RevisionRecord) -> None:
        """A SERVING revision this supervisor did not deploy: keep Serve's application when it
        runs, deploy it again when it is gone (a cluster that restarted)."""
        try:
            app = await self._app()
            if app is not None and app.status in LIVE:
                log.info("service %s: %s runs on Ray Serve", self.name, revision.id)
                return
            log.info("service %s: deploying %s to Ray Serve again", self.name, revision.id)
            await self._call(ray_serve.deploy, self.name, ServiceSpec.from_json(revision.spec))
        except Exception as exc:
            self.serving = None  # tried again at the next look
            self.problem = f"cannot restore {revision.id} on Ray Serve: {exc}"
            log.warning("service %s: %s", self.name, self.problem)
            await asyncio.sleep(WATCH_S * 5)

    async def _roll_out(self, revision: RevisionRecord) -> None:
        name, number = self.name, revision.revision
        if not await self._claim(revision):
            return
        spec = ServiceSpec.from_json(revision.spec)
        self.starting = number
        self.ctx.changed()
        log.info("service %s: deploying %s with Ray Serve", name, revision.id)
        try:
            problem = await self._deploy_and_wait(spec)
        finally:
            self.starting = None
        if problem is not None:
            rolled = await self._roll_back()
            await self._fail(revision, problem, rolled)
            return
        old = self.serving
        self.serving = revision
        await self._promote(number, old.revision if old else None)
        log.info("service %s: %s serving on Ray Serve", name, revision.id)
        self.ctx.changed()

    async def _deploy_and_wait(self, spec: ServiceSpec) -> str | None:
        """None once Serve runs ``spec``; otherwise why not, in Serve's words."""
        try:
            before = await self._app()
            await self._call(ray_serve.deploy, self.name, spec)
        except Exception as exc:
            return str(exc)
        # Serve sets the application DEPLOYING before the deploy call returns, and replaces
        # every replica (each deploy is a new version): RUNNING with none of the replicas of
        # before is the new revision running
        old_ids = {r["replica_id"] for r in before.replicas} if before is not None else set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + spec.ready_timeout
        app: ray_serve.AppState | None = None
        while True:
            try:
                app = await self._app()
            except Exception as exc:
                log.warning("service %s: reading Serve's status failed: %s", self.name, exc)
            if app is not None:
                ids = {r["replica_id"] for r in app.replicas}
                if app.status == "RUNNING" and not ids & old_ids:
                    return None
                if app.status in FAILED:
                    return f"Ray Serve reports it {app.status}: {app.reason()}"
            if loop.time() > deadline:
                said = f" ({app.status}: {app.reason()})" if app is not None else ""
                return f"not RUNNING on Ray Serve within {spec.ready_timeout:g} s{said}"
            await asyncio.sleep(POLL_S)

    async def _roll_back(self) -> str:
        """Deploy the serving revision's spec again; what happened, in words."""
        old = self.serving
        if old is None:
            try:
                await self._call(ray_serve.delete, self.name, self.cluster)
            except Exception as exc:
                return f"; deleting the application failed: {exc}"
            return "; nothing served before: the application was deleted"
        log.warning("service %s: rolling back to %s on Ray Serve", self.name, old.id)
        problem = await self._deploy_and_wait(ServiceSpec.from_json(old.spec))
        if problem is not None:
            log.error("service %s: redeploying %s failed: %s", self.name, old.id, problem)
            return f"; redeploying {old.id} failed too: {problem}"
        return f"; {old.id} was deployed again and serves"

    async def _fail(self, revision: RevisionRecord, problem: str, rolled: str) -> None:
        await self._record_failed(revision, problem, rolled)

    # stopping -----------------------------------------------------------------------------------
    async def _stop(self, want: Wanted) -> None:
        await cancel_quietly(self._rollout)
        for revision in want.waiting:
            if revision.revision not in self._finished:
                await self._supersede(revision, "the service was stopped")
        serving, self.serving = self.serving or want.serving, None
        try:
            await self._call(ray_serve.delete, self.name, self.cluster)
        except Exception as exc:
            self.problem = f"deleting the Serve application failed: {exc}"
            log.error("service %s: %s", self.name, self.problem)
            self.stopped = False  # the next look tries again
            self.serving = serving
            return
        if serving is not None:
            await self._record_stopped(serving.revision)
        log.info("service %s: stopped (its Serve application was deleted)", self.name)
        self.ctx.changed()

    async def shutdown(self) -> None:
        """Stop watching; the application keeps running on the cluster for the next
        supervisor (Serve, not pauta, keeps its replicas up)."""
        await cancel_quietly(self._rollout)
        if self._stopping is not None:
            await self._stopping
        await cancel_quietly(self._watcher)

    # what the store shows -----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        view = self._view
        app = view.apps.get(self.name) if view is not None else None
        revision = self.serving.revision if self.serving is not None else None
        shown = self.starting or revision
        replicas = [
            {
                "revision": shown,
                "index": r["index"],
                "state": REPLICA_STATES.get(r["state"], r["state"]),
                "pid": r.get("pid"),
                "port": None,
                "node": r.get("node"),
                "restarts": 0,
                "started_at": r.get("started_at"),
                "health": f"Serve: {r['state']}",
                "last_exit": None,
                "served": None,
                "in_flight": 0,
                "log": None,
            }
            for r in (app.replicas if app is not None else ())
        ]
        address = f"{view.address}/{self.name}" if view is not None and view.address else ""
        return {
            "executor": self.executor,
            "address": address,
            "listening": app is not None and app.status == "RUNNING",
            "problem": self.problem,
            "stopped": self.stopped,
            "revision": revision,
            "starting": self.starting,
            "replicas": replicas,
            "restarts": 0,
            "traffic": {},
            "serve": {
                "status": app.status if app is not None else None,
                "message": app.message if app is not None else None,
            },
            "logs_dir": None,
        }
