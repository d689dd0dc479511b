"""The engine's side of cluster executors: their views in, the queue's demand out.

Each loop step, for every cluster executor that calls run or wait for, the watch starts the
executor if needed, hands the core what the executor last saw of its cluster (so the core picks
only what fits, and fails what never will), and tells the executor what runs and waits on it
(at most once a second while that changes, and at once when it empties), so that a cluster with
an autoscaler grows for the queue and shrinks after.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from pauta.core.clusters import ClusterView
from pauta.core.resources import Resources
from pauta.engine.core import ExecutionCore
from pauta.engine.effects import Now

DEMAND_EVERY_S = 1.0
"""How often at most a cluster executor is told what runs and waits on it (while that
changes): the autoscaler reacts in seconds, and each telling is a round trip to the cluster."""


class ClusterWatch:
    """Views and demand between the core and its cluster executors (``executor(name)``
    returns the started executor of that name)."""

    def __init__(self, core: ExecutionCore, executor: Callable[[str], Any]) -> None:
        self._core = core
        self._executor = executor
        # per executor: the demand last told to it and when (monotonic seconds)
        self._told: dict[str, tuple[list[Resources], float]] = {}

    def step(self, now: Now) -> None:
        core = self._core
        for cluster in core.clusters:
            name = cluster.name
            demand = cluster.demand()
            told = self._told.get(name)
            if not demand and told is None:
                continue
            try:
                executor = self._executor(name)
                view = executor.view()
            except Exception as exc:
                view = unusable(name, exc)
                executor = None
            if view is not None and view is not cluster.view:
                core.set_view(name, view, now)
                demand = cluster.demand()
            if executor is None or (
                told is not None
                and (told[0] == demand or (demand and now.monotonic - told[1] < DEMAND_EVERY_S))
            ):
                continue
            with contextlib.suppress(Exception):  # a hint: the cluster works without it
                executor.request_capacity(demand)
            if demand:
                self._told[name] = (demand, now.monotonic)
            else:
                self._told.pop(name, None)


def unusable(name: str, exc: BaseException) -> ClusterView:
    """The view of a cluster executor that could not be built or asked."""
    nothing = Resources(cpus=0)
    return ClusterView(nothing, nothing, (), error=f"the {name!r} executor failed: {exc}")
