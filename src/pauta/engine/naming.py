"""How the calls of a run are named: keys inside task groups, and labels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pauta.definitions.groups import current_group
from pauta.definitions.labels import render_label
from pauta.engine.futures import TaskFuture

if TYPE_CHECKING:
    from pauta.definitions.task import Task


def call_label(task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The call's label (``@task(label=...)``); an upstream future shows as its own label."""
    template = task.options.label
    if template is None:
        return None

    def describe(value: Any) -> str | None:
        if isinstance(value, TaskFuture):
            return value._call.label or value.key
        return None

    return render_label(template, task.fn, args, kwargs, describe)


def grouped(name: str) -> str:
    """``name`` under the path of the group the body is in (``train.fit``), for keys."""
    path = current_group()
    return name if path is None else f"{path}.{name}"
