"""The runs list, a run's page with its live fragment and logs, and the run actions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from pauta.app.logs import read_flow_log, read_logs
from pauta.app.runs import cancel_run, listed_params, queue_resume, show_run
from pauta.app.tasks import retry_task
from pauta.core.errors import PautaError, RunNotFoundError
from pauta.core.states import FLOW_TERMINAL, TASK_ACTIVE, FlowRunState
from pauta.ui import queries
from pauta.ui.charts import gantt, graph_data
from pauta.ui.render import fragment, page
from pauta.ui.session import Session, check_form, flash, store_of

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MAX_PAGE = 200_000
"""The runs list's last page number: 10 million runs back, as far as the API's ``offset``."""
LOG_TAIL_LINES = 500
LOG_TAIL_BYTES = 256 * 1024
# the flow log is part of the run page, sent again on every poll while the run is live
FLOW_LOG_TAIL_LINES = 200
FLOW_LOG_TAIL_BYTES = 64 * 1024


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


def run_context(request: Request, run_id: str) -> dict[str, Any]:
    """Everything the run page shows, read in a handful of queries."""
    store = store_of(request)
    view = show_run(store, run_id)
    attempts = store.list_attempts(view["id"])
    logs_dir = request.app.state.settings.logs_dir
    flow_log = read_flow_log(
        store, logs_dir, view["id"], tail=FLOW_LOG_TAIL_LINES, limit=FLOW_LOG_TAIL_BYTES
    )
    # the live part is polled every second: it carries a summary of large parameters
    params, params_cut = listed_params(view["id"], view["params"])
    return {
        "run": view,
        "flow_log": flow_log,
        "params": params,
        "params_cut": params_cut,
        "graph": graph_data(view["tasks"]),
        "gantt": gantt(attempts, store.clock.now()),
        "live": view["state"] not in FLOW_TERMINAL,
        "metrics": [(t["label"] or t["key"], m) for t in view["tasks"] for m in t["metrics"]],
        "artifacts": [(t["label"] or t["key"], a) for t in view["tasks"] for a in t["artifacts"]],
    }


def _not_found(request: Request, session: Session | None, exc: Exception) -> Response:
    """A 404 page, or for a fragment (``session`` None) the message as plain text: it quotes
    the id from the URL, so as HTML a crafted link would run its script in the page."""
    if session is None:
        return PlainTextResponse(str(exc), status_code=404)
    return page(request, "error.html", session, {"message": str(exc)}, status=404)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str, session: Session) -> Response:
    try:
        context = run_context(request, run_id)
    except RunNotFoundError as exc:
        return _not_found(request, session, exc)
    context["nav"] = "runs"
    return page(request, "run.html", session, context)


@router.get("/runs/{run_id}/live", response_class=HTMLResponse)
def run_live(request: Request, run_id: str, session: Session) -> Response:
    """The part of the run page that changes while the run is in progress (polled by htmx)."""
    try:
        context = run_context(request, run_id)
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
