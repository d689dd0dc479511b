"""The flows page, a flow's page, and what can be done to a flow: trigger it, pause it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pauta.app.catalog import FlowCatalog, UnknownFlowError, catalog
from pauta.app.triggering import trigger_run
from pauta.core.errors import ParameterError, PautaError
from pauta.ui import queries
from pauta.ui.charts import graph_data, task_shapes
from pauta.ui.forms import form_fields, params_from_form
from pauta.ui.render import page
from pauta.ui.session import Session, back, check_form, flash, store_of

router = APIRouter(include_in_schema=False)


def flows_of(request: Request) -> FlowCatalog:
    folder: Path | None = getattr(request.app.state, "flows_dir", None)
    return catalog(store_of(request), folder)


@router.get("/", response_class=HTMLResponse)
def flows_page(request: Request, session: Session) -> Response:
    views = flows_of(request).views()
    flows = [v for v in views if v["error"] is None]
    errors = [v for v in views if v["error"] is not None]
    recent = queries.recent_runs_by_flow(store_of(request), [f["name"] for f in flows])
    context = {"flows": flows, "errors": errors, "recent": recent, "nav": "flows"}
    return page(request, "flows.html", session, context)


def _flow_context(request: Request, name: str) -> dict[str, Any]:
    store = store_of(request)
    view = flows_of(request).view(name)
    grid = queries.run_grid(store, name)
    latest = grid.runs[0] if grid.runs else None
    graph = graph_data(task_shapes(store.list_task_runs(latest.id))) if latest else None
    return {"flow": view, "grid": grid, "latest": latest, "graph": graph, "nav": "flows"}


@router.get("/flows/{name}", response_class=HTMLResponse)
def flow_page(request: Request, name: str, session: Session) -> Response:
    try:
        context = _flow_context(request, name)
    except UnknownFlowError as exc:
        return page(request, "error.html", session, {"message": str(exc)}, status=404)
    context["fields"] = form_fields(context["flow"]["parameters_schema"])
    return page(request, "flow.html", session, context)


@router.post("/flows/{name}/trigger")
async def trigger(request: Request, name: str, session: Session) -> Response:
    await check_form(request, session, "operator")
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        context = _flow_context(request, name)
    except UnknownFlowError as exc:
        return page(request, "error.html", session, {"message": str(exc)}, status=404)
    schema = context["flow"]["parameters_schema"]
    params = params_from_form(schema, form)
    folder = getattr(request.app.state, "flows_dir", None)
    try:
        limit = request.app.state.settings.max_params_bytes
        store = store_of(request)
        run = trigger_run(store, folder, name, params, trigger="manual", max_params_bytes=limit)
    except ParameterError as exc:
        errors = {str(e.get("param")): str(e.get("error")) for e in exc.errors}
        context.update(fields=form_fields(schema, form, errors), form_error=str(exc))
        return page(request, "flow.html", session, context, status=422)
    except PautaError as exc:
        context.update(fields=form_fields(schema, form), form_error=str(exc))
        return page(request, "flow.html", session, context, status=400)
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


@router.post("/flows/{name}/pause")
async def pause(request: Request, name: str, session: Session) -> Response:
    await check_form(request, session, "operator")
    paused = (await request.form()).get("paused") == "true"
    response = RedirectResponse(back(request), status_code=303)
    try:
        flows_of(request).set_paused(name, paused)
    except PautaError as exc:
        flash(response, str(exc))
    else:
        flash(response, f"{name} {'paused' if paused else 'unpaused'}")
    return response
