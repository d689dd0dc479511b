"""What the execution core and a run's task calls know of their run, with no way back.

``RunState`` is plain data: the run's identity, its limits, its calls and its counters. A
``TaskCall`` points to its ``RunState``, never to the driver or the engine, so the call graph
can be built and stepped in a test without either. ``Signals`` is where flow-body threads wait
for calls to finish: the engine notifies it, and no call or future holds the engine.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pauta.core.clock import Clock
from pauta.core.errors import PautaError

if TYPE_CHECKING:
    from pauta.store.results import ResultStore


class Awaitable(Protocol):
    """What waiting needs of a call (``TaskCall`` is one; this module sits below it)."""

    awaited: bool
    done: bool


class Signals:
    """The condition flow bodies wait on, and the engine's fatal error once it has one."""

    __slots__ = ("cond", "error")

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.error: BaseException | None = None

    def notify(self) -> None:
        with self.cond:
            self.cond.notify_all()


class RunState:
    """One flow run as the execution core sees it."""

    __slots__ = (
        "awaiting_all",
        "calls",
        "cancelling",
        "clock",
        "epoch",
        "flow_name",
        "logical_date",
        "lost",
        "max_active_tasks",
        "priority",
        "results",
        "run_id",
        "signals",
        "unfinished",
    )

    def __init__(
        self,
        run_id: str,
        *,
        flow_name: str,
        logical_date: datetime,
        epoch: int,
        priority: int = 0,
        max_active_tasks: int | None = None,
        results: ResultStore | None = None,
        signals: Signals | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.run_id = run_id
        self.flow_name = flow_name
        self.logical_date = logical_date
        self.epoch = epoch
        self.priority = priority
        self.max_active_tasks = max_active_tasks
        self.results = results
        self.signals = signals or Signals()
        self.clock = clock
        self.calls: dict[str, Any] = {}  # key -> TaskCall
        self.unfinished = 0
        self.awaiting_all = False  # the body waits in wait_all
        self.cancelling = False
        self.lost: BaseException | None = None

    def load(self, stored: Any) -> Any:
        """A stored result's value (None when nothing was stored)."""
        if stored is None:
            return None
        if self.results is None:
            raise PautaError(f"run {self.run_id} has no result store to load values from")
        return self.results.get(stored)

    def check_alive(self) -> None:
        if self.lost is not None:
            raise self.lost
        if self.signals.error is not None:
            raise PautaError("the pauta engine stopped") from self.signals.error

    def wait_for(self, call: Awaitable, timeout: float | None) -> bool:
        """Block until ``call`` is done; False on timeout.

        The engine wakes waiters only when a call someone awaits ends, not on every call: a
        body waiting for the last task of a chain of 1,000 is woken once. ``awaited`` is set
        before ``done`` is read, and the core sets ``done`` before it reads ``awaited``, so
        one of the two always sees the other.
        """
        monotonic = self.clock.monotonic if self.clock is not None else _monotonic
        deadline = None if timeout is None else monotonic() + timeout
        cond = self.signals.cond
        with cond:
            call.awaited = True
            while not call.done:
                self.check_alive()
                remaining = None if deadline is None else deadline - monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                cond.wait(0.5 if remaining is None else min(remaining, 0.5))
        return True

    def wait_all(self) -> None:
        """Block until every call of the run has finished."""
        cond = self.signals.cond
        with cond:
            self.awaiting_all = True
            while self.unfinished > 0:
                self.check_alive()
                cond.wait(0.5)


def _monotonic() -> float:
    import time

    return time.monotonic()
