"""Starting runs by hand: validate a flow's parameters and queue a run for a worker.

`pauta trigger`, ``POST /api/v1/flows/{flow}/runs`` and the UI's trigger form all come here.
A bad parameter raises ``ParameterError`` (its ``errors`` name each bad parameter) before
anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pauta.app.catalog import catalog
from pauta.app.flows import resolve_flow
from pauta.app.params import check_params_size
from pauta.core.settings import DEFAULT_MAX_PARAMS_BYTES
from pauta.definitions.flow import Flow
from pauta.engine.runs import new_run_record
from pauta.store.records import FlowRunRecord
from pauta.store.repository import Store

TRIGGERS = frozenset({"manual", "api", "schedule", "backfill", "file", "asset", "flow"})


def validate_params(
    flow: Flow[Any, Any],
    params: Mapping[str, Any],
    strings: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Python values of a flow's parameters (``ParameterSchema.validate_input``)."""
    return flow.parameters.validate_input(params, strings)


def queue_run(
    store: Store,
    flow: Flow[Any, Any],
    values: Mapping[str, Any],
    *,
    trigger: str = "manual",
    max_params_bytes: int = DEFAULT_MAX_PARAMS_BYTES,
) -> FlowRunRecord:
    """Create a QUEUED run of ``flow`` with validated ``values`` for a worker to claim;
    ParameterError when they are over ``max_params_bytes`` of JSON."""
    params_json = flow.parameters.to_json(values)
    check_params_size(flow.name, params_json, max_params_bytes)
    record = new_run_record(flow, params_json, now=store.clock.now(), trigger=trigger, queued=True)
    return store.create_flow_run(record)


def trigger_run(
    store: Store,
    flows_dir: Path | None,
    flow_name: str,
    params: Mapping[str, Any],
    trigger: str = "api",
    max_params_bytes: int = DEFAULT_MAX_PARAMS_BYTES,
) -> FlowRunRecord:
    """Queue a run of the flow named ``flow_name`` in the flows folder.

    UnknownFlowError when the folder has no such flow; FlowLoadError when its file no longer
    imports; ParameterError naming each bad parameter, or when they are too large.
    """
    info = catalog(store, flows_dir).info(flow_name)
    flow = resolve_flow(f"{info.file}:{info.name}")
    values = validate_params(flow, params)
    return queue_run(store, flow, values, trigger=trigger, max_params_bytes=max_params_bytes)
