"""The flows page, a flow's page, and what can be done to a flow: trigger it, pause it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from pauta.app.catalog import FlowCatalog, UnknownFlowError, catalog
from pauta.app.metrics import DEFAULT_RUNS, MAX_RUNS, flow_metrics
from pauta.app.triggering import trigger_run
from pauta.core.errors import FlowNotFoundError, ParameterError, PautaError
from pauta.core.states import FLOW_ACTIVE
from pauta.ui import queries
from pauta.ui.charts import graph_data
from pauta.ui.form_values import errors_by_field, params_from_form
from pauta.ui.forms import form_fields
from pauta.ui.render import fragment, page
from pauta.ui.session import Session, back, check_form, flash, store_of
from pauta.ui.svg import Colors, runs_chart
from pauta.ui.taskgroups import GROUP_PREFIX, group_links, group_states, parse_opened

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


RUN_CHOICES = (10, 20, 50, 100)
"""How many runs back the flow page's metric charts may go (the API allows up to 200)."""
Runs = Annotated[int, Query(ge=1, le=MAX_RUNS)]
Groups = Annotated[str, Query(max_length=4096)]
"""The task groups open in the graph and the grid (``taskgroups.parse_opened``)."""


def metrics_context(request: Request, name: str, runs: int) -> dict[str, Any]:
    """The flow page's metric charts: each metric over the flow's last ``runs`` runs.

    FlowNotFoundError when the store knows neither the flow nor a run of it."""
    series = flow_metrics(store_of(request), name, runs)
    colors = Colors()
    charts = [runs_chart(m["name"], m["series"], series["runs"], colors) for m in series["metrics"]]
    active = {str(s) for s in FLOW_ACTIVE}
    return {
        "flow_name": name,
        "metric_runs": runs,
        "run_choices": RUN_CHOICES,
        "flow_charts": charts,
        "series_runs": len(series["runs"]),
        # while one of these runs is going on, its metrics arrive: the panel polls
        "metrics_live": any(r["state"] in active for r in series["runs"]),
    }


def _flow_context(
    request: Request, name: str, runs: int = DEFAULT_RUNS, groups: str = ""
) -> dict[str, Any]:
    store = store_of(request)
    view = flows_of(request).view(name)
    opened = parse_opened(groups)
    grid = queries.run_grid(store, name, opened=opened)
    latest = grid.runs[0] if grid.runs else None
    base = f"/flows/{quote(name, safe='')}"
    calls = store.call_groups(latest.id) if latest else []
    graph = graph_data(calls, opened=opened, base=base) if latest else None
    task_groups = group_links(group_states(grid.group_cells), opened, base)
    context = {"flow": view, "grid": grid, "latest": latest, "graph": graph, "nav": "flows",
               "task_groups": task_groups,
               "fold_links": {GROUP_PREFIX + g.path: g.href for g in task_groups}}  # fmt: skip
    try:
        charts = metrics_context(request, name, runs)
    except FlowNotFoundError:  # in the flows folder, not yet in the store: nothing ran
        charts = {"flow_name": name, "metric_runs": runs, "run_choices": RUN_CHOICES,
                  "flow_charts": [], "series_runs": 0, "metrics_live": False}  # fmt: skip
    return {**context, **charts}


@router.get("/flows/{name}", response_class=HTMLResponse)
def flow_page(
    request: Request, name: str, session: Session, runs: Runs = DEFAULT_RUNS, groups: Groups = ""
) -> Response:
    try:
        context = _flow_context(request, name, runs, groups)
    except UnknownFlowError as exc:
        return page(request, "error.html", session, {"message": str(exc)}, status=404)
    view = context["flow"]
    context["fields"] = form_fields(view["parameters_schema"], zone=_zone(view))
    return page(request, "flow.html", session, context)


def _zone(view: dict[str, Any]) -> str:
    """The time zone the form's datetimes are read in: the flow's own, else UTC."""
    return str(view.get("timezone") or "UTC")


@router.get("/flows/{name}/metrics", response_class=HTMLResponse)
def flow_metrics_panel(
    request: Request, name: str, session: Session, runs: Runs = DEFAULT_RUNS
) -> Response:
    """The flow page's metric charts (polled by htmx while one of their runs is active); a
    name the store does not know is a 404 in plain text (it quotes the name from the URL)."""
    try:
        context = metrics_context(request, name, runs)
    except FlowNotFoundError as exc:
        return PlainTextResponse(str(exc), status_code=404)
    return fragment(request, "flow_metrics.html", context)


@router.post("/flows/{name}/trigger")
async def trigger(request: Request, name: str, session: Session) -> Response:
    await check_form(request, session, "operator")
    # a name may come more than once: a list's rows, a checkbox after its hidden "false"
    posted: dict[str, list[str]] = {}
    for key, value in (await request.form()).multi_items():
        if isinstance(value, str) and key != "csrf_token":
            posted.setdefault(key, []).append(value)
    try:
        context = _flow_context(request, name)
    except UnknownFlowError as exc:
        return page(request, "error.html", session, {"message": str(exc)}, status=404)
    schema, zone = context["flow"]["parameters_schema"], _zone(context["flow"])
    fields = form_fields(schema, zone=zone)
    read = params_from_form(fields, posted)
    if read.errors:
        context.update(
            fields=form_fields(schema, posted, read.errors, zone),
            form_error="Some fields could not be read; nothing was queued: "
            + "; ".join(f"{field}: {message}" for field, message in read.errors.items()),
        )
        return page(request, "flow.html", session, context, status=422)
    folder = getattr(request.app.state, "flows_dir", None)
    try:
        limit = request.app.state.settings.max_params_bytes
        store = store_of(request)
        run = trigger_run(
            store, folder, name, read.params, trigger="manual", max_params_bytes=limit
        )
    except ParameterError as exc:
        errors = errors_by_field(fields, exc.errors)
        context.update(fields=form_fields(schema, posted, errors, zone), form_error=str(exc))
        return page(request, "flow.html", session, context, status=422)
    except PautaError as exc:
        context.update(fields=form_fields(schema, posted, zone=zone), form_error=str(exc))
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
