"""The sensor executor: pokes sensors from one asyncio loop in the dispatching process.

A sensor call (``pauta.sensors``) holds no worker process and no capacity while it waits. Its
item arrives here like any other; a coroutine pokes it every ``poke_interval`` seconds (a
blocking check runs in a thread for that moment only). After the first poke that finds the
condition false the executor reports WAITING, a progress report that does not end the attempt;
the attempt ends SUCCEEDED with the condition's value, or FAILED with ``SensorTimeout`` once
``timeout`` passed, or with the error a poke raised. Each attempt's log says what was poked.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pauta.core.clock import Clock, get_clock
from pauta.core.errors import SensorTimeout
from pauta.core.files import make_private_dirs, private_opener
from pauta.core.host import hostname
from pauta.core.states import State
from pauta.executors.base import ErrorInfo, Wakeup, WorkItem, WorkOutcome, failed_outcome, wake_pipe
from pauta.executors.worker import error_info
from pauta.store.results import ResultStore

_CANCELLED = ErrorInfo("Cancelled", "the sensor was cancelled", "", "cancelled")
_INTERRUPTED = ErrorInfo(
    "Interrupted", "the executor shut down before the sensor finished", "", "interrupted"
)


@dataclass(frozen=True, slots=True)
class PokeContext:
    """What a poke may read: the run's dates, the metadata store, the executor's clock, and
    which call it is (a sensor that creates something, such as ``trigger_flow``, keys it on
    the run and the call so that a retry or a resume finds it again)."""

    logical_date: datetime
    interval_end: datetime
    store: Any
    clock: Clock = field(default_factory=get_clock)
    run_id: str = ""
    key: str = ""
    interval_start: datetime | None = None


class SensorExecutor:
    """Runs sensor items as coroutines on a loop thread of its own."""

    name = "sensor"

    def __init__(
        self,
        *,
        store: Any,
        results_url: str,
        inline_max: int = 64 * 1024,
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock or get_clock()
        self._store = store
        self._results = ResultStore(results_url, inline_max)
        self._worker = f"{hostname()}:{os.getpid()}:sensors"
        self._lock = threading.Lock()
        self._done: list[WorkOutcome] = []
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._wakeup: Wakeup | None = None
        self._read_fd = self._write_fd = -1
        self._closed = False

    def start(self, wakeup: Wakeup) -> None:
        self._wakeup = wakeup
        self._read_fd, self._write_fd = wake_pipe()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="pauta-sensors", daemon=True
        )
        self._thread.start()

    def slots(self) -> int:
        return 1_000_000  # waiting costs a coroutine, not a process

    def submit(self, items: Sequence[WorkItem]) -> None:
        loop = self._loop
        assert loop is not None, "start() first"
        for item in items:
            loop.call_soon_threadsafe(self._begin, item)

    def waitables(self) -> list[Any]:
        return [self._read_fd] if self._read_fd >= 0 else []

    def collect(self) -> list[WorkOutcome]:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._read_fd, 4096):
                pass
        with self._lock:
            done, self._done = self._done, []
        return done

    def cancel(self, run_id: str, key: str) -> bool:
        loop = self._loop
        if loop is None:
            return False
        with self._lock:
            task = self._tasks.get((run_id, key))
        if task is None:
            return False
        loop.call_soon_threadsafe(task.cancel)
        return True

    def shutdown(self, *, kill: bool = False) -> None:
        if self._closed:
            return
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            # a waiting sensor is given up either way: the run resumes it from WAITING
            future = asyncio.run_coroutine_threadsafe(self._interrupt_all(), loop)
            with contextlib.suppress(Exception):
                future.result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()
        self._closed = True
        for fd in (self._read_fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._read_fd = self._write_fd = -1

    # -- on the loop thread ---------------------------------------------------------------------
    def _begin(self, item: WorkItem) -> None:
        task = asyncio.get_running_loop().create_task(self._watch(item))
        with self._lock:
            self._tasks[(item.run.run_id, item.key)] = task

    async def _interrupt_all(self) -> None:
        with self._lock:
            tasks = list(self._tasks.items())
        for (_, _), task in tasks:
            task.cancel()
        for _, task in tasks:
            with contextlib.suppress(BaseException):
                await task

    async def _watch(self, item: WorkItem) -> None:
        clock = self._clock
        started = clock.timestamp()
        log = _AttemptLog(item.log_path, self._clock)
        try:
            sensor = _sensor_of(item)
            ctx = PokeContext(
                item.run.logical_date,
                item.run.interval_end,
                self._store,
                self._clock,
                run_id=item.run.run_id,
                key=item.key,
                interval_start=item.run.interval_start,
            )
            outcome = await self._poke_until(item, sensor, ctx, started, log)
        except asyncio.CancelledError:
            error = _INTERRUPTED if self._closing() else _CANCELLED
            log.write(f"stopped: {error.message}")
            outcome = failed_outcome(
                item,
                error,
                now=clock.timestamp(),
                started=started,
                worker=self._worker,
                interrupted=error is _INTERRUPTED,
            )
        except Exception as exc:
            log.write(f"poke failed: {type(exc).__name__}: {exc}")
            outcome = failed_outcome(
                item, error_info(exc), now=clock.timestamp(), started=started, worker=self._worker
            )
        finally:
            log.close()
            with self._lock:
                self._tasks.pop((item.run.run_id, item.key), None)
        self._finish(outcome)

    async def _poke_until(
        self, item: WorkItem, sensor: Any, ctx: PokeContext, started: float, log: _AttemptLog
    ) -> WorkOutcome:
        clock = self._clock
        deadline = started + sensor.timeout
        pokes = 0
        while True:
            pokes += 1
            value = await sensor.apoke(ctx)
            now = clock.timestamp()
            if value is not None:
                log.write(f"condition met after {pokes} poke(s), {now - started:.1f}s")
                stored = self._results.put(
                    value, run_id=item.run.run_id, key=item.key, attempt=item.attempt
                )
                return WorkOutcome(
                    item.run.run_id,
                    item.key,
                    item.attempt,
                    State.SUCCEEDED,
                    started,
                    now,
                    result=stored,
                    worker=self._worker,
                )
            if pokes == 1:
                log.write(
                    f"waiting for {sensor.describe()}: poking every {sensor.poke_interval:g}s "
                    f"for up to {sensor.timeout:g}s"
                )
                self._finish(
                    WorkOutcome(
                        item.run.run_id,
                        item.key,
                        item.attempt,
                        State.WAITING,
                        started,
                        now,
                        worker=self._worker,
                    )
                )
            left = deadline - now
            if left <= 0:
                raise SensorTimeout(sensor.timeout_message())
            await asyncio.sleep(min(sensor.poke_interval, left))

    def _closing(self) -> bool:
        loop = self._loop
        return loop is None or not loop.is_running() or self._closed

    def _finish(self, outcome: WorkOutcome) -> None:
        with self._lock:
            self._done.append(outcome)
        if self._write_fd >= 0:
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._write_fd, b"!")
        if self._wakeup is not None:
            self._wakeup.set()


def _sensor_of(item: WorkItem) -> Any:
    args, kwargs = pickle.loads(item.args_blob)
    values = [*args, *kwargs.values()]
    if len(values) != 1 or not hasattr(values[0], "apoke"):
        raise TypeError(
            f"{item.task_name}: the sensor executor runs pauta.sensors calls only; "
            "run other tasks with the 'local' or 'inline' executor"
        )
    return values[0]


class _AttemptLog:
    """The attempt's log file, opened on first write."""

    def __init__(self, path: str, clock: Clock) -> None:
        self._path = path
        self._clock = clock
        self._file: Any = None

    def write(self, line: str) -> None:
        if not self._path:
            return
        if self._file is None:
            make_private_dirs(os.path.dirname(self._path) or ".")
            self._file = open(self._path, "a", encoding="utf-8", opener=private_opener)  # noqa: SIM115
        stamp = self._clock.now().strftime("%Y-%m-%d %H:%M:%S")
        self._file.write(f"{stamp} {line}\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
