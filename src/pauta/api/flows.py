"""``/api/v1/flows``: the flows of the flows folder; pausing them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from pauta.api.deps import CatalogDep, FlowName, Operator, Viewer
from pauta.api.schemas import Flow

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
