"""Metrics as series: what the run page, the flow page and ``GET /api/v1/flows/{flow}/metrics``
chart.

A call is named by its label, or its key when it has none. Its value for a metric is the last
value it logged (its latest attempt's last); a metric logged with steps is a curve, of the
latest attempt that logged it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pauta.app.runs import iso
from pauta.core.errors import FlowNotFoundError
from pauta.store.reports import MetricRecord, MetricValue
from pauta.store.repository import Store

DEFAULT_RUNS = 20
MAX_RUNS = 200
CURVE_POINTS = 200
"""A curve of more steps than this is read thinned to about this many points."""


@dataclass(slots=True)  # not frozen: a run's 10,000 mapped calls make as many
class CallValue:
    """One call's value of a metric."""

    label: str
    key: str
    value: float


@dataclass(frozen=True, slots=True)
class Curve:
    """One call's curve of a metric logged with steps: (step, value) in step order."""

    label: str
    key: str
    points: list[tuple[int, float]]


@dataclass(slots=True)
class RunMetric:
    """A metric of one run: the calls that logged it as one value, and those that logged it
    with steps."""

    name: str
    values: list[CallValue] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)


def shown_name(label: str | None, key: str) -> str:
    return label or key


def run_metrics(store: Store, run_id: str) -> list[RunMetric]:
    """The run's metrics, in the order they were first logged."""
    found: dict[str, RunMetric] = {}
    stepped: dict[tuple[str, str], str] = {}
    for value in store.metric_values([run_id]):
        metric = found.setdefault(value.name, RunMetric(value.name))
        name = shown_name(value.label, value.key)
        if value.stepped:
            stepped[(value.key, value.name)] = name
        else:
            metric.values.append(CallValue(name, value.key, value.value))
    if stepped:
        for (key, metric_name), points in _curves(store.metric_steps(run_id, points=CURVE_POINTS)):
            name = stepped.get((key, metric_name))
            if name is not None:
                found[metric_name].curves.append(Curve(name, key, points))
    return list(found.values())


def _curves(
    records: list[MetricRecord],
) -> list[tuple[tuple[str, str], list[tuple[int, float]]]]:
    """The points of each (call, metric), from its latest attempt only, in step order (the
    last value logged for a step wins)."""
    latest: dict[tuple[str, str], int] = {}
    for record in records:
        ident = (record.key, record.name)
        latest[ident] = max(latest.get(ident, 0), record.attempt)
    points: dict[tuple[str, str], dict[int, float]] = {}
    for record in records:
        ident = (record.key, record.name)
        if record.attempt == latest[ident] and record.step is not None:
            points.setdefault(ident, {})[record.step] = record.value
    return [(ident, sorted(steps.items())) for ident, steps in points.items()]


def flow_metrics(store: Store, flow: str, runs: int = DEFAULT_RUNS) -> dict[str, Any]:
    """Each metric of the flow's last ``runs`` runs: one series per call name (label or key)
    with a point per run that logged it. JSON-ready; runs are oldest first.

    FlowNotFoundError when the store knows neither the flow nor any run of it."""
    records = store.list_flow_runs(
        flow=flow, limit=max(1, min(runs, MAX_RUNS)), inline_results=False
    )
    if not records and store.get_flow(flow) is None:
        raise FlowNotFoundError(f"no flow named {flow!r}")
    records.reverse()
    order = {run.id: i for i, run in enumerate(records)}
    values = store.metric_values([run.id for run in records])
    return {
        "flow": flow,
        "runs": [
            {
                "id": run.id,
                "state": str(run.state),
                "logical_date": iso(run.logical_date),
                "created_at": iso(run.created_at),
            }
            for run in records
        ],
        "metrics": _by_metric(values, order),
    }


def _by_metric(values: list[MetricValue], order: dict[str, int]) -> list[dict[str, Any]]:
    # a name two calls of one run share (a label that does not tell them apart) is given with
    # each call's key, so that one run has one point per series
    uses: dict[tuple[str, str, str], int] = {}
    for value in values:
        ident = (value.name, value.flow_run_id, shown_name(value.label, value.key))
        uses[ident] = uses.get(ident, 0) + 1
    metrics: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for value in values:
        name = shown_name(value.label, value.key)
        if uses[(value.name, value.flow_run_id, name)] > 1:
            name = f"{name} ({value.key})"
        series = metrics.setdefault(value.name, {})
        series.setdefault(name, []).append(
            {"run_id": value.flow_run_id, "key": value.key, "value": value.value}
        )
    shaped = []
    for metric, series in metrics.items():
        lines = []
        for label, points in series.items():
            points.sort(key=lambda p: order[p["run_id"]])
            lines.append({"label": label, "points": points})
        shaped.append({"name": metric, "series": lines})
    return shaped
