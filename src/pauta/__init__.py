"""pauta: dynamic, durable workflows for machine-learning pipelines.

Write flows as plain Python::

    from pauta import flow, task

    @task
    def double(x: int) -> int:
        return 2 * x

    @flow
    def pipeline(n: int = 3) -> list[int]:
        return [f.result() for f in double.map(range(n))]
"""

from typing import TYPE_CHECKING

from pauta.core.errors import FlowFailed, TaskFailed
from pauta.core.resources import Resources
from pauta.core.secrets import secret
from pauta.core.states import FlowRunState, State
from pauta.definitions.calendars import BusinessDays
from pauta.definitions.context import context
from pauta.definitions.deadlines import Deadline
from pauta.definitions.flow import Flow, flow
from pauta.definitions.groups import group
from pauta.definitions.schedules import Cron, Every
from pauta.definitions.task import Task, task
from pauta.definitions.triggers import Asset, on_asset, on_file, on_flow

if TYPE_CHECKING:
    from pauta.connections import connection
    from pauta.trigger import trigger_flow

__all__ = [
    "Asset",
    "BusinessDays",
    "Cron",
    "Deadline",
    "Every",
    "Flow",
    "FlowFailed",
    "FlowRunState",
    "Resources",
    "State",
    "Task",
    "TaskFailed",
    "connection",
    "context",
    "flow",
    "group",
    "on_asset",
    "on_file",
    "on_flow",
    "secret",
    "task",
    "trigger_flow",
]

# Public names whose modules are heavier than `import pauta` should be: imported on first use.
_LAZY = {"connection": "pauta.connections", "trigger_flow": "pauta.trigger"}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pauta' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"
