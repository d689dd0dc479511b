"""``/api/v1/flows``: the flows of the flows folder; pausing them; their metrics over runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from pauta.api.deps import CatalogDep, FlowName, Operator, StoreDep, Viewer, fast_json
from pauta.api.schemas import Flow, FlowMetrics
from pauta.app.metrics import DEFAULT_RUNS, MAX_RUNS, flow_metrics

router = APIRouter(tags=["flows"])


@router.get("/flows", response_model=list[Flow])
def list_flows(user: Viewer, flows: CatalogDep) -> list[dict[str, Any]]:
    """Every flow (name, schedule, next run, paused, parameters), then each file that failed
    to load (with `error` set)."""
    return flows.views()


@router.get("/flows/{flow}", response_model=Flow)
def show_flow(flow: FlowName, user: Viewer, flows: CatalogDep) -> dict[str, Any]:
    """One flow, with its parameters and their JSON schema, its schedule and next run."""
    return flows.view(flow)


@router.post("/flows/{flow}/pause", response_model=Flow)
def pause_flow(flow: FlowName, user: Operator, flows: CatalogDep) -> dict[str, Any]:
    """Pause the flow's schedule: no scheduled runs until it is unpaused."""
    return flows.set_paused(flow, True)


@router.post("/flows/{flow}/unpause", response_model=Flow)
def unpause_flow(flow: FlowName, user: Operator, flows: CatalogDep) -> dict[str, Any]:
    """Unpause the flow: its schedule creates runs again."""
    return flows.set_paused(flow, False)


Runs = Annotated[
    int, Query(ge=1, le=MAX_RUNS, description="How many of the flow's latest runs to cover.")
]


@router.get("/flows/{flow}/metrics", response_model=FlowMetrics)
def metrics_over_runs(
    flow: FlowName, user: Viewer, store: StoreDep, runs: Runs = DEFAULT_RUNS
) -> Any:
    """Each metric the flow's last `runs` runs logged: one series per task call name (its
    label, or its key), with a point per run: that call's last value of the metric in the
    run. The flow page charts the same series. 404 when no flow or run of that name is known
    (a flow whose file is gone still has its runs' series)."""
    return fast_json(flow_metrics(store, flow, runs))
