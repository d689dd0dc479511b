"""The protocol every executor speaks, and the messages that cross it.

The engine hands executors ``WorkItem`` batches and collects ``WorkOutcome`` values. Executors
never touch the metadata store: they run functions, capture logs, and write large results to
the result store, nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from pauta.core.clock import Clock
from pauta.core.clusters import ClusterView
from pauta.core.resources import Resources
from pauta.core.states import State
from pauta.definitions.environments import ContainerSpec, VenvSpec
from pauta.store.results import StoredResult


class TaskRef(NamedTuple):
    """How a worker process finds a task's function.

    By name when possible (``module`` + ``qualname``; ``path`` when pauta loaded the module from
    a file under that module name), so a warm worker imports a flow module once. ``pickled``
    holds the cloudpickled function for closures and other functions that cannot be imported.
    ``token`` identifies the function in a worker's cache.
    """

    module: str
    qualname: str
    path: str | None = None
    pickled: bytes | None = None
    token: str = ""


class RunInfo(NamedTuple):
    """What a task's ``context()`` knows about its flow run. Sent once per run per worker."""

    run_id: str
    flow_name: str
    params: dict[str, Any]
    logical_date: datetime
    interval_start: datetime
    interval_end: datetime
    trigger: str = "manual"


@dataclass(slots=True)
class WorkItem:
    """One attempt of one task call, ready to run.

    ``args_blob`` is ``cloudpickle.dumps((args, kwargs))`` where each upstream value appears as a
    ``ResultPlaceholder``: the worker swaps them for the loaded values before calling. ``venv``
    is the virtualenv a ``venv`` task runs in, ``container`` the image and limits of a
    ``container`` task (other executors ignore them).
    """

    run: RunInfo
    key: str
    task_name: str
    attempt: int
    task_ref: TaskRef
    args_blob: bytes
    log_path: str
    timeout: float | None = None
    gpu_ids: tuple[int, ...] = ()
    is_async: bool = False
    venv: VenvSpec | None = None
    container: ContainerSpec | None = None
    # what the task asked for (a cluster executor turns it into the cluster's own requests)
    resources: Resources | None = None


@dataclass(frozen=True, slots=True)
class ResultPlaceholder:
    """Stands for an upstream task's stored result inside a ``WorkItem``'s arguments."""

    result: StoredResult

    def __reduce__(self) -> tuple[Any, ...]:
        return (ResultPlaceholder, (self.result,))


class ErrorInfo(NamedTuple):
    """Why an attempt failed. ``kind`` is exception, crash, timeout, cancelled, interrupted,
    environment (a task's virtualenv could not be built, its container could not start) or oom
    (its container ran out of its memory limit).

    ``mro`` holds the qualified names of the exception's class and its bases (for
    ``retry_on``), e.g. ``("builtins.ConnectionResetError", "builtins.ConnectionError", ...)``.
    """

    type: str
    message: str
    traceback: str = ""
    kind: str = "exception"
    mro: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, str]:
        return {
            "type": self.type,
            "message": self.message,
            "traceback": self.traceback,
            "kind": self.kind,
        }


class Metric(NamedTuple):
    """A metric a task logged with ``context().log_metric``."""

    name: str
    value: float
    step: int | None
    timestamp: float


class Artifact(NamedTuple):
    """An artifact a task logged with ``context().log_artifact``."""

    name: str
    stored: StoredResult
    timestamp: float


@dataclass(slots=True)
class WorkOutcome:
    """How one attempt ended.

    ``state`` is SUCCEEDED or FAILED. ``interrupted`` means the attempt was cut off for reasons
    outside the task (executor shut down, its host lost): the engine queues it again without
    counting an attempt. Times are epoch seconds.
    """

    run_id: str
    key: str
    attempt: int
    state: State
    started_at: float
    ended_at: float
    result: StoredResult | None = None
    error: ErrorInfo | None = None
    metrics: list[Metric] = field(default_factory=list)
    worker: str = ""
    interrupted: bool = False
    artifacts: list[Artifact] = field(default_factory=list)
    secrets: tuple[str, ...] = ()
    # where it ran: a cluster executor names the node; empty means this host
    node: str = ""
    # (name, value) of each ``context().log_param``, in order
    params: list[tuple[str, str]] = field(default_factory=list)


def failed_outcome(
    item: WorkItem,
    error: ErrorInfo,
    *,
    now: float,
    started: float | None = None,
    worker: str = "",
    interrupted: bool = False,
    node: str = "",
) -> WorkOutcome:
    """The outcome of an attempt that ended without running to completion."""
    return WorkOutcome(
        run_id=item.run.run_id,
        key=item.key,
        attempt=item.attempt,
        state=State.FAILED,
        started_at=started or now,
        ended_at=now,
        error=error,
        worker=worker,
        interrupted=interrupted,
        node=node,
    )


class Wakeup(Protocol):
    """Lets an executor wake the engine loop from another thread."""

    def set(self) -> None: ...


class LateWakeup:
    """A ``Wakeup`` for an executor started before its engine exists (to warm workers while
    the rest of the program loads); ``bind`` hands it to the engine."""

    def __init__(self) -> None:
        self._target: Wakeup | None = None
        self._pending = False

    def bind(self, target: Wakeup) -> None:
        self._target = target
        if self._pending:
            target.set()

    def set(self) -> None:
        target = self._target
        if target is None:
            self._pending = True
        else:
            target.set()


class Executor(Protocol):
    """Runs work items somewhere and reports how they ended."""

    name: str

    def start(self, wakeup: Wakeup) -> None:
        """Start workers. ``wakeup.set()`` is called (from any thread) when outcomes arrive."""
        ...

    def slots(self) -> int:
        """How many items it can run at once."""
        ...

    def submit(self, items: Sequence[WorkItem]) -> None:
        """Start running these items; never blocks on their completion."""
        ...

    def waitables(self) -> list[Any]:
        """File descriptors (ints, or objects with ``fileno()``) the engine waits on; may be
        empty."""
        ...

    def collect(self) -> list[WorkOutcome]:
        """Every outcome available now, without blocking."""
        ...

    def cancel(self, run_id: str, key: str) -> bool:
        """Kill the attempt's process tree if it is running; True when something was killed."""
        ...

    def shutdown(self, *, kill: bool = False) -> None:
        """Stop workers: wait for running items, or kill them when ``kill`` is true."""
        ...


class ClusterExecutor(Executor, Protocol):
    """An executor whose capacity is a cluster's (``ExecutorSpec.capacity == "nodes"``).

    The engine keeps deciding what starts (priorities, pools, limits): it submits only what
    fits the ``view()`` and tells the executor what waits, so a cluster that grows can grow.
    """

    def view(self) -> ClusterView | None:
        """The cluster as last seen; None until it was reached once. Cheap: no I/O."""
        ...

    def request_capacity(self, demand: Sequence[Resources]) -> None:
        """Everything running or waiting for this executor (one request per attempt), for a
        cluster that scales to it; a cluster without an autoscaler ignores it."""
        ...


def wake_pipe() -> tuple[int, int]:
    """A non-blocking pipe (read end, write end): an executor whose work ends in threads
    writes a byte to it, and the engine waits on the read end beside the worker pipes."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    return read_fd, write_fd


class WakePipe:
    """The :func:`wake_pipe` of an executor whose attempts end in its own threads, with the
    engine's wakeup: ``wake`` tells both that an outcome is ready, ``drain`` empties the pipe
    before outcomes are collected. Safe to call from any thread; ``wake`` after ``close`` does
    nothing."""

    def __init__(self, wakeup: Wakeup | None = None) -> None:
        self.read_fd, self._write_fd = wake_pipe()
        self._wakeup = wakeup
        self._closed = False

    def wake(self) -> None:
        if not self._closed:
            # a full pipe is readable already: the engine wakes anyway
            with suppress(OSError):
                os.write(self._write_fd, b"x")
        if self._wakeup is not None:
            self._wakeup.set()

    def drain(self) -> int:
        """Empty the pipe; the number of bytes read (one per ``wake``)."""
        count = 0
        with suppress(BlockingIOError, OSError):
            while chunk := os.read(self.read_fd, 4096):
                count += len(chunk)
        return count

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self.read_fd)
            os.close(self._write_fd)


class FailsAttempts:
    """``_failed``: the outcome of an attempt that ended without running to completion, timed
    by the executor's clock and named after its worker (empty for a cluster's node)."""

    _clock: Clock
    _worker: str = ""

    def _failed(
        self,
        item: WorkItem,
        error: ErrorInfo,
        started: float | None = None,
        *,
        interrupted: bool = False,
    ) -> WorkOutcome:
        return failed_outcome(
            item,
            error,
            now=self._clock.timestamp(),
            started=started,
            worker=self._worker,
            interrupted=interrupted,
        )
