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

if TYPE_CHECKING:
    from pauta.connections import connection
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

# Each public name is imported on first use: `import pauta` itself costs nothing, so that a
# command, a worker process or a program that needs one submodule imports only what it uses.
_LAZY = {
    "Asset": "pauta.definitions.triggers",
    "BusinessDays": "pauta.definitions.calendars",
    "Cron": "pauta.definitions.schedules",
    "Deadline": "pauta.definitions.deadlines",
    "Every": "pauta.definitions.schedules",
    "Flow": "pauta.definitions.flow",
    "FlowFailed": "pauta.core.errors",
    "FlowRunState": "pauta.core.states",
    "Resources": "pauta.core.resources",
    "State": "pauta.core.states",
    "Task": "pauta.definitions.task",
    "TaskFailed": "pauta.core.errors",
    "connection": "pauta.connections",
    "context": "pauta.definitions.context",
    "flow": "pauta.definitions.flow",
    "group": "pauta.definitions.groups",
    "on_asset": "pauta.definitions.triggers",
    "on_file": "pauta.definitions.triggers",
    "on_flow": "pauta.definitions.triggers",
    "secret": "pauta.core.secrets",
    "task": "pauta.definitions.task",
    "trigger_flow": "pauta.trigger",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pauta' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__version__ = "0.1.0"
