"""Root causes: which task failed first, so a run's error names it instead of a skipped leaf.

A call that ends FAILED (or CANCELLED on its own) is its own root cause. A call skipped because
an input did not succeed (UPSTREAM_FAILED) inherits the root cause of that input, so a chain of
any length names the task that started it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from pauta.core.states import State


class TaskCall(Protocol):
    """What a root cause is read from (``pauta.engine.calls.TaskCall`` has it)."""

    key: str
    state: State
    error: dict[str, Any] | None
    done: bool
    ended_at: datetime | None

    @property
    def ok(self) -> bool: ...


def root_cause(call: TaskCall) -> dict[str, Any]:
    """The first failed task behind ``call``: its key, state, exception type and message."""
    error = call.error or {}
    inherited = error.get("root_cause")
    if call.state == State.UPSTREAM_FAILED and isinstance(inherited, dict):
        return dict(inherited)
    return {
        "task": call.key,
        "state": str(call.state),
        "type": error.get("type"),
        "message": error.get("message"),
    }


def describe(root: dict[str, Any]) -> str:
    """``load_week-0 failed: ValueError: no rows for week 48``."""
    verb = "failed" if root.get("state") in (None, str(State.FAILED)) else f"ended {root['state']}"
    text = f"{root.get('task')} {verb}"
    if root.get("type"):
        text += f": {root['type']}: {root.get('message')}"
    return text


def upstream_error(upstream: TaskCall) -> dict[str, Any]:
    """The error of a call that does not run because ``upstream`` did not succeed."""
    root = root_cause(upstream)
    message = describe(root)
    if root["task"] != upstream.key:
        message += f" (reached through {upstream.key})"
    return {
        "type": "UpstreamFailed",
        "message": message,
        "traceback": "",
        "kind": "upstream",
        "root_cause": root,
    }


def first_root_cause(
    calls: Iterable[TaskCall], by_key: Mapping[str, TaskCall]
) -> dict[str, Any] | None:
    """Of the root causes behind the unsuccessful ``calls``, the one that failed first;
    ``by_key`` holds every call of the run (a root cause may lie outside ``calls``)."""
    found: list[tuple[tuple[bool, float, int], dict[str, Any]]] = []
    for index, call in enumerate(calls):
        if not call.done or call.ok:
            continue
        root = root_cause(call)
        ended = by_key.get(root["task"], call).ended_at
        found.append(((ended is None, ended.timestamp() if ended else 0.0, index), root))
    return min(found, key=lambda pair: pair[0])[1] if found else None


def skipped_error(reason: str) -> dict[str, Any]:
    """Why a call was SKIPPED (not a failure: the run's outcome does not count it)."""
    return {"type": "Skipped", "message": reason, "traceback": "", "kind": "skipped"}


def runs_past(upstream: Any, call: Any) -> bool:
    """Whether ``call`` runs although ``upstream`` ended without a result: a teardown runs
    whatever happened, and a call that only waited for a skipped call (wait_for=) runs."""
    skipped_wait = upstream.state == State.SKIPPED and upstream.key in call.order_only
    return bool(call.teardown) or skipped_wait


def skipped_after(upstream: Any) -> dict[str, Any]:
    return skipped_error(f"{upstream.key} was skipped and this call takes its result")


def dependents_after(
    ended: Any, state: State, cancelled: dict[str, Any]
) -> tuple[list[tuple[Any, State, dict[str, Any]]], list[Any]]:
    """What becomes of the calls waiting for ``ended``, which ended in ``state`` without a
    result: (those that end too, with their state and error; those now free to run)."""
    ending: list[tuple[Any, State, dict[str, Any]]] = []
    unblocked: list[Any] = []
    for dependent in ended.dependents:
        if dependent.done:
            continue
        if runs_past(ended, dependent):
            dependent.waiting -= 1  # one fewer to wait for
            if dependent.waiting == 0:
                unblocked.append(dependent)
        elif dependent.state == State.PENDING:
            if state == State.SKIPPED:
                ending.append((dependent, State.SKIPPED, skipped_after(ended)))
            elif dependent.run.cancelling:
                ending.append((dependent, State.CANCELLED, cancelled))
            else:
                ending.append((dependent, State.UPSTREAM_FAILED, upstream_error(ended)))
    return ending, unblocked
