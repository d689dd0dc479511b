"""What the execution core asks the loop around it to do, and the errors it records.

The core never performs I/O: each event it is given returns (by filling) an ``Effects`` value,
and the engine loop performs it: writes the changed calls, starts and cancels attempts on
executors, looks results up in the cache, runs callbacks and wakes waiting flow bodies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from pauta.dispatch.clusters import Cluster
    from pauta.dispatch.queue import ReadyTask
    from pauta.engine.calls import TaskCall


class Now(NamedTuple):
    """The time of an event: the wall clock (for records) and the monotonic one (for delays)."""

    wall: datetime
    monotonic: float


class StartAttempt(NamedTuple):
    """Run this attempt on the executor of that name; ``gpus`` are the devices it was given."""

    call: TaskCall
    ready: ReadyTask
    executor: str
    gpus: tuple[int, ...] = ()


@dataclass(slots=True)
class Running:
    """An attempt the core started and that has not ended (what it holds, where it runs)."""

    call: TaskCall
    ready: ReadyTask
    executor: str
    gpus: tuple[int, ...]
    cluster: Cluster | None = None


class CancelAttempt(NamedTuple):
    """Kill the running attempt of ``key`` in ``run_id`` on that executor."""

    executor: str
    run_id: str
    key: str


class NotifyCallbacks(NamedTuple):
    """Tell the task's ``on_success``/``on_failure``/``on_retry`` callbacks (``what``)."""

    call: TaskCall
    what: str
    callbacks: Any


class LookupCache(NamedTuple):
    """Look for an earlier result of ``call`` under its cache key, then tell the core."""

    call: TaskCall
    not_before: datetime | None


@dataclass(slots=True)
class Effects:
    """Everything one or more events asked for, in the order it must be performed."""

    writes: list[TaskCall] = field(default_factory=list)
    starts: list[StartAttempt] = field(default_factory=list)
    cancels: list[CancelAttempt] = field(default_factory=list)
    notices: list[NotifyCallbacks] = field(default_factory=list)
    lookups: list[LookupCache] = field(default_factory=list)
    done_callbacks: list[Callable[[], None]] = field(default_factory=list)
    wake: bool = False

    def __bool__(self) -> bool:
        return bool(
            self.writes
            or self.starts
            or self.cancels
            or self.notices
            or self.lookups
            or self.done_callbacks
            or self.wake
        )


CANCELLED_ERROR: dict[str, Any] = {
    "type": "Cancelled",
    "message": "the run was cancelled",
    "traceback": "",
    "kind": "cancelled",
}


def exception_error(exc: BaseException) -> dict[str, Any]:
    return {"type": type(exc).__name__, "message": str(exc), "traceback": "", "kind": "exception"}
