"""The runs list, a run's page with its live fragment and logs, and the run actions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from pauta.app.logs import read_logs
from pauta.app.runs import cancel_run, queue_resume
from pauta.app.steering import clear_task, mark_success
from pauta.app.tasks import retry_task
from pauta.core.errors import PautaError, RunNotFoundError
from pauta.core.states import FLOW_TERMINAL, TASK_ACTIVE, FlowRunState
from pauta.ui import queries
from pauta.ui.render import fragment, page
from pauta.ui.run_page import MAX_TASK_PAGE, TaskQuery, run_context
from pauta.ui.session import Session, check_form, flash, store_of

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MAX_PAGE = 200_000
"""The runs list's last page number: 10 million runs back, as far as the API's ``offset``."""
LOG_TAIL_LINES = 500
LOG_TAIL_BYTES = 256 * 1024
COMPARE_CHOICES = 20
"""Runs of the same flow the run page offers to compare with."""


PageNo = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Attempt = Annotated[int | None, Query(ge=1, le=1_000_000)]


@router.get("/runs", response_class=HTMLResponse)
def runs_page(
    request: Request, session: Session, flow: str = "", state: str = "", page_no: PageNo = 1
) -> Response:
    state = state.upper()
    if state and state not in FlowRunState.__members__:
        state = ""
    store = store_of(request)
    rows, more = queries.list_runs(
        store,
        flow=flow or None,
        state=state or None,
        limit=PAGE_SIZE,
        offset=(page_no - 1) * PAGE_SIZE,
    )
    context = {
        "runs": rows,
        "more": more,
        "page_no": page_no,
        "flow": flow,
        "state": state,
        "flow_names": queries.flow_names(store),
        "nav": "runs",
    }
    return page(request, "runs.html", session, context)


def _not_found(request: Request, session: Session | None, exc: Exception) -> Response:
    """A 404 page, or for a fragment (``session`` None) the message as plain text: it quotes
    the id from the URL, so as HTML a crafted link would run its script in the page."""
    if session is None:
        return PlainTextResponse(str(exc), status_code=404)
    return page(request, "error.html", session, {"message": str(exc)}, status=404)


@dataclass
class TaskFilter:
    """The task table's selection, from the run page's query string."""

    task_state: Annotated[str, Query(max_length=32)] = ""
    map: Annotated[str, Query(max_length=512)] = ""
    task_page: Annotated[int, Query(ge=1, le=MAX_TASK_PAGE)] = 1
    groups: Annotated[str, Query(max_length=4096)] = ""

    def query(self) -> TaskQuery:
        return TaskQuery.of(self.task_state, self.map, self.task_page, self.groups)


Tasks = Annotated[TaskFilter, Depends()]


def _context(request: Request, run_id: str, tasks: TaskFilter) -> dict[str, Any]:
    logs_dir = request.app.state.settings.logs_dir
    return run_context(store_of(request), logs_dir, run_id, tasks.query())


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str, session: Session, tasks: Tasks) -> Response:
    try:
        context = _context(request, run_id, tasks)
    except RunNotFoundError as exc:
        return _not_found(request, session, exc)
    run = context["run"]
    others, _ = queries.list_runs(store_of(request), flow=run["flow"], limit=COMPARE_CHOICES + 1)
    context.update(
        nav="runs", compare_with=[r for r in others if r.id != run["id"]][:COMPARE_CHOICES]
    )
    return page(request, "run.html", session, context)


@router.get("/runs/{run_id}/live", response_class=HTMLResponse)
def run_live(request: Request, run_id: str, session: Session, tasks: Tasks) -> Response:
    """The part of the run page that changes while the run is in progress (polled by htmx)."""
    try:
        context = _context(request, run_id, tasks)
    except RunNotFoundError as exc:
        return _not_found(request, None, exc)
    context.update(csrf=session.csrf, can_operate=session.may("operator"))
    return fragment(request, "run_live.html", context)


@router.get("/runs/{run_id}/tasks/{key:path}/logs", response_class=HTMLResponse)
def task_logs(
    request: Request, run_id: str, key: str, session: Session, attempt: Attempt = None
) -> Response:
    """The tail of one attempt's log (the latest attempt unless ``attempt`` says)."""
    store = store_of(request)
    try:
        run = store.get_flow_run(run_id)
        task = store.task_runs_by_key(run.id).get(key)
        if task is None:
            raise RunNotFoundError(f"run {run.id} has no task call {key!r}")
        logs_dir = request.app.state.settings.logs_dir
        pieces = read_logs(store, logs_dir, run.id, key, tail=LOG_TAIL_LINES, limit=LOG_TAIL_BYTES)
    except PautaError as exc:
        return _not_found(request, None, exc)
    numbers = sorted({p["attempt"] for p in pieces} | set(range(1, task.attempts + 1)))
    chosen = attempt if attempt in numbers else (numbers[-1] if numbers else None)
    piece = next((p for p in pieces if p["attempt"] == chosen), None)
    context = {
        "run_id": run.id,
        "key": key,
        "task": task,
        "attempts": numbers,
        "attempt": chosen,
        "piece": piece,
        # follow the log while this attempt may still write to it
        "live": task.state in TASK_ACTIVE and chosen == (numbers[-1] if numbers else None),
    }
    return fragment(request, "logs.html", context)


def _after_action(request: Request, run_id: str, done: str | None, error: str | None) -> Response:
    response = RedirectResponse(f"/runs/{run_id}", status_code=303)
    flash(response, error or done or "")
    return response


@router.post("/runs/{run_id}/cancel")
async def cancel(request: Request, run_id: str, session: Session) -> Response:
    await check_form(request, session, "operator")
    try:
        run = cancel_run(store_of(request), run_id)
    except PautaError as exc:
        return _after_action(request, run_id, None, str(exc))
    done = "run cancelled" if run.state in FLOW_TERMINAL else "cancel requested"
    return _after_action(request, run.id, done, None)


@router.post("/runs/{run_id}/resume")
async def resume(request: Request, run_id: str, session: Session) -> Response:
    await check_form(request, session, "operator")
    try:
        run = queue_resume(store_of(request), run_id)
    except PautaError as exc:
        return _after_action(request, run_id, None, str(exc))
    return _after_action(request, run.id, "run queued to resume", None)


@router.post("/runs/{run_id}/tasks/{key:path}/retry")
async def retry(request: Request, run_id: str, key: str, session: Session) -> Response:
    await check_form(request, session, "operator")
    try:
        run = retry_task(store_of(request), run_id, key)
    except PautaError as exc:
        return _after_action(request, run_id, None, str(exc))
    return _after_action(request, run.id, f"{key} reopened: the run is queued again", None)


@router.post("/runs/{run_id}/tasks/{key:path}/mark-success")
async def mark_task_success(request: Request, run_id: str, key: str, session: Session) -> Response:
    await check_form(request, session, "operator")
    try:
        run = mark_success(store_of(request), run_id, key, user=session.user.username)
    except PautaError as exc:
        return _after_action(request, run_id, None, str(exc))
    return _after_action(request, run.id, f"{key} marked SUCCEEDED: the run is queued again", None)


@router.post("/runs/{run_id}/tasks/{key:path}/clear")
async def clear(request: Request, run_id: str, key: str, session: Session) -> Response:
    await check_form(request, session, "operator")
    try:
        run = clear_task(store_of(request), run_id, key)
    except PautaError as exc:
        return _after_action(request, run_id, None, str(exc))
    done = f"{key} and its downstream calls cleared: the run is queued again"
    return _after_action(request, run.id, done, None)
