"""The seam between definitions and the engine.

Definitions never import the engine. When a flow body runs, the engine makes an ``ActiveRun``
current (a context variable); calling a task then submits it there. Running a flow from plain
Python goes to the default ``FlowRunner``, found by its dotted path (``PAUTA_RUNNER``, default
``pauta.engine.runner``) the first time it is needed, the way plugins are found.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pauta.definitions.flow import Flow
    from pauta.definitions.task import Task


class ActiveRun(Protocol):
    """What a running flow body submits task calls and child flows to."""

    def submit(
        self,
        task: Task[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        wait_for: Sequence[Any],
    ) -> Any: ...

    def map(
        self,
        task: Task[Any, Any],
        items: Any,
        common: dict[str, Any],
        wait_for: Sequence[Any],
    ) -> list[Any]: ...

    def call_flow(self, flow: Flow[Any, Any], params: dict[str, Any]) -> Any: ...


class FlowRunner(Protocol):
    """Runs a flow to completion from plain Python."""

    def run(self, flow: Flow[Any, Any], params: dict[str, Any]) -> Any:
        """Run and return the ``FlowRun`` record."""
        ...

    def call(self, flow: Flow[Any, Any], params: dict[str, Any]) -> Any:
        """Run and return the body's value (futures resolved); raise FlowFailed on failure."""
        ...


_active: ContextVar[ActiveRun | None] = ContextVar("pauta_active_run", default=None)
_runner: FlowRunner | None = None


def active_run() -> ActiveRun | None:
    """The flow run whose body is executing in this thread, if any."""
    return _active.get()


def set_active_run(run: ActiveRun | None) -> Any:
    """Make ``run`` current; returns a token for ``reset_active_run``."""
    return _active.set(run)


def reset_active_run(token: Any) -> None:
    _active.reset(token)


def default_runner() -> FlowRunner:
    """The runner that plain ``my_flow()`` calls use."""
    global _runner
    if _runner is None:
        module = importlib.import_module(os.environ.get("PAUTA_RUNNER", "pauta.engine.runner"))
        _runner = module.get_runner()
    return _runner
