"""``/api/v1/runs``: listing, triggering, showing, cancelling and resuming flow runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request

from pauta.api.deps import FlowName, Operator, RunId, StoreDep, Viewer, fast_json
from pauta.api.schemas import Run, RunDetail, RunPage, TriggerRequest
from pauta.app import runs as app_runs
from pauta.app.triggering import trigger_run
from pauta.core.states import FlowRunState

router = APIRouter(tags=["runs"])

Limit = Annotated[int, Query(ge=1, le=1000, description="Runs per page.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Runs to skip (use `cursor`).")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="The `next_cursor` of the previous page.")
]
Filter = Annotated[str | None, Query(max_length=255, pattern=r"^[^\x00-\x1f]*$")]


@dataclass
class RunQuery:
    """The filters and the page of both run listings."""

    state: FlowRunState | None = None
    trigger: Filter = None
    limit: Limit = 100
    cursor: Cursor = None
    offset: Offset = 0


RunQueryDep = Annotated[RunQuery, Depends()]


def _page(store: Any, flow: str | None, query: RunQuery) -> Any:
    page = app_runs.list_runs(
        store,
        flow=flow,
        state=str(query.state) if query.state else None,
        trigger=query.trigger,
        limit=query.limit,
        cursor=query.cursor,
        offset=query.offset,
    )
    views = [app_runs.listed_run_view(r) for r in page.runs]
    return fast_json({"runs": views, "next_cursor": page.next_cursor})


@router.get("/runs", response_model=RunPage)
def list_runs(user: Viewer, store: StoreDep, query: RunQueryDep, flow: Filter = None) -> Any:
    """Runs, newest first, filtered by flow, state and trigger; one page at a time.

    Parameters over 1 KiB of JSON are summarised (`params_truncated`); `GET /runs/{run_id}`
    has them all."""
    return _page(store, flow, query)


@router.get("/flows/{flow}/runs", response_model=RunPage)
def list_flow_runs(flow: FlowName, user: Viewer, store: StoreDep, query: RunQueryDep) -> Any:
    """The flow's runs, newest first (as `GET /runs?flow=FLOW`)."""
    return _page(store, flow, query)


@router.post("/flows/{flow}/runs", response_model=Run, status_code=201)
def trigger(
    flow: FlowName,
    user: Operator,
    request: Request,
    store: StoreDep,
    body: Annotated[TriggerRequest | None, Body()] = None,
) -> dict[str, Any]:
    """Queue a run of the flow with `{"params": {...}}`; a worker runs it.

    A bad parameter is a 422 whose `detail` names it (`field` is `params.NAME`); so are
    parameters over 64 KiB of JSON (`PAUTA_MAX_PARAMS_BYTES`): pass large data as a path or URI.
    """
    params = body.params if body is not None else {}
    limit = request.app.state.settings.max_params_bytes
    flows_dir = request.app.state.flows_dir
    record = trigger_run(store, flows_dir, flow, params, trigger="api", max_params_bytes=limit)
    return app_runs.run_view(record)


@router.get("/runs/{run_id}", response_model=RunDetail)
def show_run(run_id: RunId, user: Viewer, store: StoreDep) -> Any:
    """A run with one entry per task call (its latest attempt, and its attempt history).

    `run_id` may be a unique prefix of 4 characters or more.
    """
    return fast_json(app_runs.show_run(store, run_id))


@router.post("/runs/{run_id}/cancel", response_model=Run)
def cancel_run(run_id: RunId, user: Operator, store: StoreDep) -> dict[str, Any]:
    """Cancel a run: at once when it has not started, else its driver stops it within
    seconds (running tasks are killed). 409 when it already ended."""
    return app_runs.run_view(app_runs.cancel_run(store, run_id))


@router.post("/runs/{run_id}/resume", response_model=Run)
def resume_run(run_id: RunId, user: Operator, store: StoreDep) -> dict[str, Any]:
    """Queue a FAILED or CANCELLED run again; a worker replays it: tasks that succeeded are
    taken from the store, the others run again. 409 in any other state."""
    return app_runs.run_view(app_runs.queue_resume(store, run_id))
