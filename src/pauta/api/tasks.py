"""``/api/v1/runs/{run_id}/tasks`` and logs: task calls, their attempts, retries, marks and
clears, logs, and the run's flow log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from pauta.api.deps import Operator, RunId, SettingsDep, StoreDep, TaskKey, Viewer
from pauta.api.schemas import FlowLog, Logs, Run, Task
from pauta.app import logs as app_logs
from pauta.app import steering as app_steering
from pauta.app import tasks as app_tasks
from pauta.app.runs import run_view

router = APIRouter(tags=["tasks"])

Attempt = Annotated[int | None, Query(ge=1, le=1_000_000, description="Only this attempt.")]
Offset = Annotated[int, Query(ge=0, le=2**53, description="First byte to read.")]
Limit = Annotated[
    int, Query(ge=1, le=app_logs.MAX_LIMIT, description="Bytes to read at most, per file.")
]
Tail = Annotated[
    int | None, Query(ge=0, le=100_000, description="Only the last N lines (ignores offset).")
]
Format = Annotated[str, Query(pattern="^(json|text)$", description="`text` for plain text.")]


@router.get("/runs/{run_id}/tasks", response_model=list[Task])
def list_tasks(run_id: RunId, user: Viewer, store: StoreDep) -> list[dict[str, Any]]:
    """The run's task calls, in the order they were created."""
    return app_tasks.list_tasks(store, run_id)


@router.get("/runs/{run_id}/tasks/{task_key}", response_model=Task)
def show_task(run_id: RunId, task_key: TaskKey, user: Viewer, store: StoreDep) -> dict[str, Any]:
    """One task call with every attempt (`attempt_history`), its metrics and artifacts."""
    return app_tasks.show_task(store, run_id, task_key)


@router.post("/runs/{run_id}/tasks/{task_key}/retry", response_model=Run)
def retry_task(run_id: RunId, task_key: TaskKey, user: Operator, store: StoreDep) -> dict[str, Any]:
    """Retry a FAILED, UPSTREAM_FAILED or CANCELLED task of a finished run: the run is queued
    again (FAILED/CANCELLED → QUEUED) and a worker replays it. Tasks that succeeded come from
    the store; this task, its downstream tasks and any other task that did not succeed run
    again. 409 when the run is active or succeeded, or the task did not fail."""
    return run_view(app_tasks.retry_task(store, run_id, task_key))


class MarkSuccess(BaseModel):
    """What a marked call returns to its dependents."""

    model_config = ConfigDict(extra="forbid")
    result: Any = Field(
        default=None,
        description="The call's result, any JSON value (null when left out); at most "
        f"{app_steering.MAX_MARKED_RESULT // 1024} KiB serialized.",
    )


@router.post("/runs/{run_id}/tasks/{task_key}/mark-success", response_model=Run)
def mark_success(
    run_id: RunId,
    task_key: TaskKey,
    user: Operator,
    store: StoreDep,
    body: Annotated[MarkSuccess | None, Body()] = None,
) -> dict[str, Any]:
    """Mark a FAILED, UPSTREAM_FAILED, CANCELLED or SKIPPED task of a finished run SUCCEEDED
    (recorded with who and when, `marked_by` and `marked_at` on the task), with `result` as its
    result (null unless given). The run is queued again and a worker replays it: its
    UPSTREAM_FAILED and SKIPPED descendants run with that result. 409 when the run is being
    driven or the task is running or already succeeded."""
    result = body.result if body is not None else None
    try:
        run = app_steering.mark_success(store, run_id, task_key, user=user.username, result=result)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return run_view(run)


@router.post("/runs/{run_id}/tasks/{task_key}/clear", response_model=Run)
def clear_task(run_id: RunId, task_key: TaskKey, user: Operator, store: StoreDep) -> dict[str, Any]:
    """Clear a finished task (any end state, SUCCEEDED included) and every finished task
    downstream of it: they are reset and the run is queued again (FAILED, CANCELLED or
    SUCCEEDED → QUEUED); a worker replays it, running them again as new attempts. 409 when the
    run is being driven or the task has not finished."""
    return run_view(app_steering.clear_task(store, run_id, task_key))


@dataclass
class LogQuery:
    """The query of both log endpoints."""

    attempt: Attempt = None
    offset: Offset = 0
    limit: Limit = app_logs.DEFAULT_LIMIT
    tail: Tail = None
    format: Format = "json"


LogQueryDep = Annotated[LogQuery, Depends()]


def _logs(store: Any, settings: Any, run_id: str, key: str | None, query: LogQuery) -> Any:
    pieces = app_logs.read_logs(
        store, settings.logs_dir, run_id, key, attempt=query.attempt, offset=query.offset,
        limit=query.limit, tail=query.tail,
    )  # fmt: skip
    if query.format == "text":
        return PlainTextResponse("".join(piece["text"] for piece in pieces))
    return {"run_id": store.get_flow_run(run_id).id, "logs": pieces}


_LOG_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}}
}


@router.get("/runs/{run_id}/logs", response_model=Logs, responses=_LOG_RESPONSES)
def run_logs(
    run_id: RunId, user: Viewer, store: StoreDep, settings: SettingsDep, query: LogQueryDep
) -> Any:
    """The logs of every attempt of the run's tasks: a byte range of each (`offset`, `limit`;
    follow a growing log with `next_offset`), or the last `tail` lines."""
    return _logs(store, settings, run_id, None, query)


@router.get("/runs/{run_id}/tasks/{task_key}/logs", response_model=Logs, responses=_LOG_RESPONSES)
def task_logs(
    run_id: RunId,
    task_key: TaskKey,
    user: Viewer,
    store: StoreDep,
    settings: SettingsDep,
    query: LogQueryDep,
) -> Any:
    """The logs of one task call's attempts (see the run's logs for the parameters)."""
    return _logs(store, settings, run_id, task_key, query)


@dataclass
class FlowLogQuery:
    offset: Offset = 0
    limit: Limit = app_logs.DEFAULT_LIMIT
    tail: Tail = None
    format: Format = "json"


@router.get("/runs/{run_id}/flow-log", response_model=FlowLog, responses=_LOG_RESPONSES)
def flow_log(
    run_id: RunId,
    user: Viewer,
    store: StoreDep,
    settings: SettingsDep,
    query: Annotated[FlowLogQuery, Depends()],
) -> Any:
    """What the run's flow body printed or logged (`print`, `context().logger`): a byte range
    (`offset`, `limit`; follow it with `next_offset`), or the last `tail` lines."""
    piece = app_logs.read_flow_log(
        store, settings.logs_dir, run_id, offset=query.offset, limit=query.limit, tail=query.tail
    )
    if query.format == "text":
        return PlainTextResponse(piece["text"])
    return piece
