"""Task calls of a run: listing them, one call with its attempts, and retrying a failed one."""

from __future__ import annotations

from typing import Any

from pauta.app.runs import RunStateError, UnknownTaskError, queue_resume, show_run, task_view
from pauta.core.states import FlowRunState, State
from pauta.store.records import FlowRunRecord
from pauta.store.repository import Store

RETRYABLE = frozenset({State.FAILED, State.UPSTREAM_FAILED, State.CANCELLED})
"""Task states a retry reopens."""

__all__ = ["RETRYABLE", "UnknownTaskError", "list_tasks", "retry_task", "show_task"]


def list_tasks(store: Store, run_id: str) -> list[dict[str, Any]]:
    """A run's task calls (each its latest attempt's view, with its attempt history)."""
    return list(show_run(store, run_id)["tasks"])


def show_task(store: Store, run_id: str, key: str) -> dict[str, Any]:
    """One task call of a run, with every attempt; UnknownTaskError for an unknown key."""
    run = store.get_flow_run(run_id)
    task = store.task_runs_by_key(run.id).get(key)
    if task is None:
        raise UnknownTaskError(
            f"run {run.id} has no task call {key!r}; see its keys with "
            f"GET /api/v1/runs/{run.id}/tasks or `pauta runs show {run.id}`"
        )
    return task_view(
        task,
        store.list_metrics(run.id, key),
        store.list_attempts(run.id, key),
        store.list_artifacts(run.id, key),
    )


def retry_task(store: Store, run_id: str, key: str) -> FlowRunRecord:
    """Reopen a failed (or upstream-failed, or cancelled) task call of a finished run and
    queue the run, FAILED or CANCELLED → QUEUED, for a worker to replay.

    The replay takes every call that succeeded from the store and runs the reopened calls
    again with a fresh retry budget: this one, the calls downstream of it, and any other call
    of the run that did not succeed. RunStateError when the run is still active or succeeded,
    or when the task did not fail.
    """
    run = store.get_flow_run(run_id)
    task = store.task_runs_by_key(run.id).get(key)
    if task is None:
        raise UnknownTaskError(f"run {run.id} has no task call {key!r}")
    if run.state not in (FlowRunState.FAILED, FlowRunState.CANCELLED):
        raise RunStateError(
            f"run {run.id} is {run.state}: a task can be retried once its run has FAILED or "
            "was CANCELLED"
        )
    if task.state not in RETRYABLE:
        raise RunStateError(
            f"task {key!r} of run {run.id} is {task.state}: only a FAILED, UPSTREAM_FAILED or "
            "CANCELLED task can be retried"
        )
    return queue_resume(store, run.id)
