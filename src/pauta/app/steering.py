"""Steering a finished run by hand: mark a task call SUCCEEDED, or clear calls to run again.

Both follow the reopening rule of retry: the run is queued (FAILED, CANCELLED or SUCCEEDED →
QUEUED) and a worker replays it. The replay takes every SUCCEEDED call from the store (a marked
call gives its marked result to its dependents) and runs the calls that were reset. Keys and
fingerprints stay as recorded, so the replay matches the same calls.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from typing import Any

from pauta.app.runs import RunStateError, UnknownTaskError
from pauta.core.states import CLEARABLE, FLOW_ACTIVE, MARKABLE, TASK_OK, State
from pauta.store.records import FlowRunRecord, TaskRunRecord
from pauta.store.repository import Store
from pauta.store.results import StoredResult, make_preview
from pauta.store.steering import CallChange

MAX_MARKED_RESULT = 64 * 1024
"""Bytes a marked result may take once serialized (it is kept inline in the store)."""

__all__ = ["MAX_MARKED_RESULT", "clear_task", "descendants", "mark_success"]


def descendants(tasks: Iterable[TaskRunRecord], key: str) -> list[TaskRunRecord]:
    """The calls downstream of ``key`` (taking its result or waiting for it, transitively), in
    the order they were created."""
    ordered = list(tasks)
    children: dict[str, list[str]] = {}
    for task in ordered:
        for parent in task.upstream:
            children.setdefault(parent, []).append(task.key)
    found: set[str] = set()
    todo = list(children.get(key, ()))
    while todo:
        child = todo.pop()
        if child not in found:
            found.add(child)
            todo.extend(children.get(child, ()))
    return [task for task in ordered if task.key in found]


def _steerable(
    store: Store, run_id: str, key: str, action: str
) -> tuple[FlowRunRecord, TaskRunRecord, list[TaskRunRecord]]:
    """The run and the call, or the reason (RunStateError, UnknownTaskError) they cannot be
    steered now."""
    run = store.get_flow_run(run_id)
    tasks = store.list_task_runs(run.id)
    task = next((t for t in tasks if t.key == key), None)
    if task is None:
        raise UnknownTaskError(
            f"run {run.id} has no task call {key!r}; see its keys with `pauta runs show {run.id}`"
        )
    if run.parent_run_id is not None:
        raise RunStateError(
            f"run {run.id} is a child run of {run.parent_run_id}: {action} a call of the parent "
            "run, whose replay runs this one again"
        )
    if run.state in FLOW_ACTIVE:
        raise RunStateError(
            f"run {run.id} is {run.state}: it is being driven; {action} a task once the run has "
            "ended (cancel it first to stop it)"
        )
    if task.kind != "task":
        raise RunStateError(
            f"{key!r} of run {run.id} is a child flow call ({task.child_run_id}); only task "
            f"calls can be steered: {action} a task of the flow instead"
        )
    return run, task, tasks


def _queue(store: Store, run: FlowRunRecord, changes: list[CallChange]) -> FlowRunRecord:
    if not store.steer_calls(run.id, changes, expected=run.state, now=store.clock.now()):
        raise RunStateError(f"run {run.id} changed while it was being steered; try again")
    return store.get_flow_run(run.id)


def marked_result(value: Any) -> StoredResult:
    """A JSON value as a stored result, kept inline; ValueError when it is larger than
    ``MAX_MARKED_RESULT`` once serialized."""
    data = pickle.dumps(value, protocol=5)
    if len(data) > MAX_MARKED_RESULT:
        raise ValueError(
            f"the marked result takes {len(data):,} bytes serialized, more than the "
            f"{MAX_MARKED_RESULT:,} allowed; give a smaller value (a path or an id)"
        )
    return StoredResult(None, data, len(data), "pickle", make_preview(value))


def mark_success(
    store: Store, run_id: str, key: str, *, user: str, result: Any = None
) -> FlowRunRecord:
    """Mark a FAILED, UPSTREAM_FAILED, CANCELLED or SKIPPED call SUCCEEDED with ``result``
    (None unless given; a JSON value), recorded as marked by ``user``, and queue the run for a
    replay: its UPSTREAM_FAILED and SKIPPED descendants are reset and run with that result.

    RunStateError when the run is being driven, is a child run, or the call is running or
    already succeeded; UnknownTaskError for an unknown key; ValueError for a result too large.
    """
    run, task, tasks = _steerable(store, run_id, key, "mark success")
    if task.state in TASK_OK:
        raise RunStateError(
            f"task {key!r} of run {run.id} already {task.state}: nothing to mark; clear it to "
            "run it again"
        )
    if task.state not in MARKABLE:
        raise RunStateError(
            f"task {key!r} of run {run.id} is {task.state}: only a FAILED, UPSTREAM_FAILED, "
            "CANCELLED or SKIPPED task can be marked SUCCEEDED"
        )
    stored = marked_result(result)
    changes = [CallChange(key, task.state, State.SUCCEEDED, result=stored, marked_by=user)]
    reset = (State.UPSTREAM_FAILED, State.SKIPPED)
    changes += [
        CallChange(t.key, t.state, State.PENDING)
        for t in descendants(tasks, key)
        if t.state in reset
    ]
    return _queue(store, run, changes)


def clear_task(store: Store, run_id: str, key: str) -> FlowRunRecord:
    """Reset a finished call (any terminal state, SUCCEEDED included) and every finished call
    downstream of it to PENDING, and queue the run (FAILED, CANCELLED or SUCCEEDED → QUEUED):
    the replay runs them again, each as a new attempt; the other calls keep their state.

    RunStateError when the run is being driven, is a child run, or the call has not finished;
    UnknownTaskError for an unknown key.
    """
    run, task, tasks = _steerable(store, run_id, key, "clear")
    if task.state not in CLEARABLE:
        raise RunStateError(
            f"task {key!r} of run {run.id} is {task.state}: only a finished task can be cleared"
        )
    changes = [CallChange(key, task.state, State.PENDING)]
    changes += [
        CallChange(t.key, t.state, State.PENDING)
        for t in descendants(tasks, key)
        if t.state in CLEARABLE
    ]
    return _queue(store, run, changes)
