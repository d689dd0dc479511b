"""Running flows from Python and the CLI: one engine per store, kept warm for the process."""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pauta.core.clock import Clock
from pauta.core.errors import FlowLoadError, PautaError
from pauta.core.loading import load_file
from pauta.core.resources import Resources
from pauta.core.settings import Settings
from pauta.core.states import FlowRunState
from pauta.definitions.flow import Flow
from pauta.dispatch.capacity import detect_capacity
from pauta.engine.children import run_child_flow
from pauta.engine.lease import LeaseKeeper
from pauta.engine.loop import Engine
from pauta.engine.replay import RunDriver
from pauta.engine.runs import FlowRun, drive, new_run_record, take_over
from pauta.executors.base import Executor, LateWakeup
from pauta.store.lite import open_run_store
from pauta.store.records import FlowRow
from pauta.tracking.sender import OutboxSender, start_sender

if TYPE_CHECKING:
    from pauta.notify import Notifier
    from pauta.store.repository import Store

OnStart = Callable[[RunDriver], None]


class Runner:
    """Creates runs and drives them in this process.

    ``settings`` default to the environment at first use; ``capacity`` to what this machine
    has; ``workers`` to one warm process per task of one cpu that fits (at least one per core).
    ``light_store``: on a SQLite file, drive runs through the light store (``pauta.store.lite``)
    instead of importing SQLAlchemy, for a process that only drives runs (``pauta run``, a
    flow called from Python); a server or a worker shares its store with the rest of itself.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        capacity: Resources | None = None,
        workers: int | None = None,
        clock: Clock | None = None,
        default_executor: str | None = None,
        started: Mapping[str, tuple[Executor, LateWakeup]] | None = None,
        policy: str = "priority",
        no_cache: bool = False,
        light_store: bool = False,
    ) -> None:
        self._settings = settings
        self._light_store = light_store
        self._no_cache = no_cache
        self._policy = policy
        self._started = started
        self._default_executor = default_executor
        self._capacity = capacity
        self._workers = workers
        self._clock = clock
        self._engine: Engine | None = None
        self._lease: LeaseKeeper | None = None
        self._sender: OutboxSender | None = None
        self._key: tuple[str, str] | None = None
        self._lock = threading.Lock()
        self._notifiers: list[Notifier] = []

    @property
    def settings(self) -> Settings:
        return self._settings or Settings.from_env()

    def engine(self) -> Engine:
        """The warm engine for the current settings (started on first use)."""
        settings = self.settings
        key = (settings.database_url, settings.results_url)
        with self._lock:
            if self._engine is not None and self._key != key:
                self._close_engine()
            if self._engine is None:
                self._notifiers = _notifiers_from_settings()
                settings.ensure_home()
                settings.export_home()
                store = (
                    open_run_store(settings, clock=self._clock)
                    if self._light_store
                    else _full_store(settings, self._clock)
                )
                self._engine = Engine(
                    store,
                    settings,
                    capacity=self._capacity or detect_capacity(),
                    workers=self._workers,
                    clock=store.clock,
                    default_executor=self._default_executor,
                    started=self._started,
                    policy=self._policy,
                    no_cache=self._no_cache,
                ).start()
                self._started = None
                self._lease = LeaseKeeper(self._engine).start()
                # ships the MLflow outbox (PAUTA_MLFLOW_TRACKING_URI), its own runs' and any
                # another process left behind
                self._sender = start_sender(store, settings)
                self._key = key
            return self._engine

    def run(
        self,
        flow: Flow[Any, Any],
        params: dict[str, Any],
        *,
        trigger: str = "manual",
        on_start: OnStart | None = None,
    ) -> FlowRun:
        """Create a run of ``flow`` with validated ``params`` and drive it to the end."""
        engine = self.engine()
        store = engine.store
        source = getattr(sys.modules.get(flow.fn.__module__), "__file__", None)
        store.upsert_flow(FlowRow.of(flow, source))
        record = new_run_record(
            flow, flow.parameters.to_json(params), now=engine.clock.now(), trigger=trigger
        )
        store.create_flow_run(record)
        return self._drive_with_retries(
            RunDriver(engine, flow, record, params, child_flows=run_child_flow), on_start
        )

    def _drive_with_retries(self, driver: RunDriver, on_start: OnStart | None) -> FlowRun:
        """Drive the run; while it FAILS and the flow has ``retries`` left, replay it: calls
        that succeeded are reused, failed ones run again with a fresh retry budget."""
        engine, flow = driver.engine, driver.flow
        retries_left = flow.options.retries
        while True:
            run = drive(driver, on_start, self._notifiers, will_retry=retries_left > 0)
            if run.state != FlowRunState.FAILED or retries_left <= 0:
                return run
            retries_left -= 1
            record = take_over(engine, engine.store.get_flow_run(run.id), flow, force=True)
            recorded = engine.store.task_runs_by_key(run.id)
            driver = RunDriver(
                engine, flow, record, driver.params, recorded=recorded, child_flows=run_child_flow
            )

    def call(self, flow: Flow[Any, Any], params: dict[str, Any]) -> Any:
        """Run ``flow`` and return its value; raise ``FlowFailed`` when it does not succeed."""
        return self.run(flow, params).result()

    def resume(
        self,
        run_id: str,
        *,
        force: bool = False,
        allow_changes: bool = False,
        on_start: OnStart | None = None,
    ) -> FlowRun:
        """Replay a run whose driver died (or that failed): finished calls are not re-run."""
        engine = self.engine()
        record = engine.store.get_flow_run(run_id)
        flow = load_flow(record.flow_ref, record.flow)
        record = take_over(engine, record, flow, force=force, allow_changes=allow_changes)
        params = flow.parameters.validate(record.params)
        recorded = engine.store.task_runs_by_key(record.id)
        driver = RunDriver(
            engine,
            flow,
            record,
            params,
            recorded=recorded,
            allow_changes=allow_changes,
            child_flows=run_child_flow,
        )
        return drive(driver, on_start, self._notifiers)

    def run_claimed(self, record: Any) -> FlowRun:
        """Drive a run this process claimed (a worker): replay whatever it recorded so far."""
        engine = self.engine()
        try:
            flow = load_flow(record.flow_ref, record.flow)
            params = flow.parameters.validate(record.params)
        except PautaError as exc:
            now = engine.clock.now()
            engine.store.transition_flow_run(
                record.id,
                FlowRunState.FAILED,
                expected=FlowRunState.RUNNING,
                epoch=record.lease_epoch,
                now=now,
                error={"type": type(exc).__name__, "message": str(exc)},
            )
            raise
        recorded = engine.store.task_runs_by_key(record.id)
        driver = RunDriver(
            engine, flow, record, params, recorded=recorded or None, child_flows=run_child_flow
        )
        return self._drive_with_retries(driver, None)

    def close(self) -> None:
        with self._lock:
            self._close_engine()

    def _close_engine(self) -> None:
        if self._sender is not None:
            self._sender.stop()
            self._sender = None
        if self._lease is not None:
            self._lease.stop()
            self._lease = None
        if self._engine is not None:
            engine, self._engine = self._engine, None
            engine.stop()
            engine.store.close()


def load_flow(ref: dict[str, Any], name: str) -> Flow[Any, Any]:
    """Find a flow again from the reference its run recorded."""
    module_name = ref.get("module") or ""
    path = ref.get("path")
    try:
        if path and (module_name.startswith("pauta_flows.") or module_name == "__main__"):
            module = load_file(path, None if module_name == "__main__" else module_name)
        else:
            cwd = ref.get("cwd")
            if cwd and cwd not in sys.path:
                sys.path.insert(0, cwd)
            module = importlib.import_module(module_name)
    except FlowLoadError:
        raise
    except Exception as exc:
        raise FlowLoadError(
            f"cannot import {module_name!r} to find flow {name!r}: {type(exc).__name__}: {exc}"
        ) from exc
    obj: Any = module
    for part in str(ref.get("qualname", "")).split("."):
        obj = getattr(obj, part, None)
    if not isinstance(obj, Flow):
        raise FlowLoadError(
            f"{path or module_name} no longer defines flow {name!r} "
            f"({ref.get('qualname')}); restore it to resume the run"
        )
    return obj


def _full_store(settings: Settings, clock: Clock | None) -> Store:
    from pauta.store.repository import Store as FullStore

    return FullStore.from_settings(settings, clock=clock)


def _notifiers_from_settings() -> list[Notifier]:
    """The notifiers ``PAUTA_NOTIFY`` lists (told of every flow failure)."""
    if not os.environ.get("PAUTA_NOTIFY"):
        return []
    # imported only when configured: the notifiers load urllib.request, smtplib and email
    from pauta.notify.config import notifiers_from_env

    try:
        return notifiers_from_env()
    except ValueError as exc:
        raise PautaError(str(exc)) from None


_default: Runner | None = None


def get_runner() -> Runner:
    """The process-wide runner used by plain ``my_flow()`` calls."""
    global _default
    if _default is None:
        _default = Runner(light_store=True)
        atexit.register(_default.close)
    return _default
