"""Two runs of one flow side by side: their parameters, metrics and durations, and where they
differ (`pauta runs compare A B` and the UI's compare page).

Task calls are matched by name: the label, or the key when there is none; the calls of a
``.map`` are matched as one (their number, their states, and the time from the first start to
the last end). A metric is matched by task name and metric name, with each call's last value.
"""

from __future__ import annotations

from typing import Any

from pauta.app.metrics import shown_name
from pauta.app.runs import duration, run_view
from pauta.core.errors import PautaError
from pauta.core.states import folded_state
from pauta.store.reports import CallGroup, MetricValue
from pauta.store.repository import Store


class RunsNotComparableError(PautaError):
    """The two runs cannot be compared: they belong to different flows, or are one run."""


def _delta(a: Any, b: Any) -> float | None:
    if isinstance(a, bool) or isinstance(b, bool):
        return None
    if isinstance(a, int | float) and isinstance(b, int | float):
        return b - a
    return None


def _pair(a: Any, b: Any) -> dict[str, Any]:
    return {"a": a, "b": b, "delta": _delta(a, b), "differs": a != b}


def _params(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    names = list(a) + [name for name in b if name not in a]
    return [{"name": name, **_pair(a.get(name), b.get(name))} for name in names]


def _named(items: list[tuple[str, str, Any]]) -> dict[str, Any]:
    """Items (label or key, key, value) by the name people read; a label two calls share is
    given with each call's key."""
    uses: dict[str, int] = {}
    for name, _, _ in items:
        uses[name] = uses.get(name, 0) + 1
    return {(name if uses[name] == 1 else f"{name} ({key})"): value for name, key, value in items}


def _call(group: CallGroup) -> dict[str, Any]:
    return {
        "state": folded_state(group.states),
        "calls": group.total,
        "states": dict(sorted(group.states.items())),
        "duration": duration(group.started_at, group.ended_at),
    }


def _tasks(a: list[CallGroup], b: list[CallGroup]) -> list[dict[str, Any]]:
    def by_name(groups: list[CallGroup]) -> dict[str, tuple[CallGroup, dict[str, Any]]]:
        return _named(
            [
                (g.key if g.mapped else shown_name(g.label, g.key), g.key, (g, _call(g)))
                for g in groups
            ]
        )

    first, second = by_name(a), by_name(b)
    names = list(first) + [name for name in second if name not in first]
    rows = []
    for name in names:
        group_a, call_a = first.get(name, (None, None))
        group_b, call_b = second.get(name, (None, None))
        group = group_a or group_b
        assert group is not None
        differs = (
            call_a is None
            or call_b is None
            or ((call_a["states"], call_a["calls"]) != (call_b["states"], call_b["calls"]))
        )
        rows.append(
            {
                "task": name,
                "key": group.key,
                "mapped": group.mapped,
                "a": call_a,
                "b": call_b,
                "differs": differs,
                "duration_delta": _delta(
                    call_a and call_a["duration"], call_b and call_b["duration"]
                ),
            }
        )
    return rows


def _metrics(values: list[MetricValue], a: str, b: str) -> list[dict[str, Any]]:
    def of(run_id: str) -> dict[tuple[str, str], float]:
        by_metric: dict[str, list[MetricValue]] = {}
        for v in values:
            if v.flow_run_id == run_id:
                by_metric.setdefault(v.name, []).append(v)
        found = {}
        for metric, logged in by_metric.items():
            named = _named([(shown_name(v.label, v.key), v.key, v) for v in logged])
            found.update({(task, metric): v.value for task, v in named.items()})
        return found

    first, second = of(a), of(b)
    idents = list(first) + [ident for ident in second if ident not in first]
    order = {ident: i for i, ident in enumerate(idents)}
    return [
        {
            "task": task,
            "metric": metric,
            **_pair(first.get((task, metric)), second.get((task, metric))),
        }
        for task, metric in sorted(idents, key=lambda ident: (ident[1], order[ident]))
    ]


def compare_runs(
    store: Store, first: str, second: str, *, oldest_first: bool = False
) -> dict[str, Any]:
    """Runs ``first`` (a) and ``second`` (b) side by side; ids or unique id prefixes. With
    ``oldest_first`` a is the older of the two, whichever was given first.

    RunNotFoundError for an unknown run; RunsNotComparableError when they belong to different
    flows or are one run. Deltas are b - a."""
    a, b = store.get_flow_run(first), store.get_flow_run(second)
    if a.id == b.id:
        raise RunsNotComparableError(f"{first!r} and {second!r} are both run {a.id}: give two runs")
    if a.flow != b.flow:
        raise RunsNotComparableError(
            f"run {a.id} is a run of flow {a.flow!r} and run {b.id} of flow {b.flow!r}: "
            "only runs of one flow can be compared"
        )
    if oldest_first and (b.created_at, b.id) < (a.created_at, a.id):
        a, b = b, a
    view_a, view_b = run_view(a), run_view(b)
    return {
        "flow": a.flow,
        "a": view_a,
        "b": view_b,
        "duration": _pair(view_a["duration"], view_b["duration"]),
        "params": _params(a.params, b.params),
        "metrics": _metrics(store.metric_values([a.id, b.id]), a.id, b.id),
        "tasks": _tasks(store.call_groups(a.id), store.call_groups(b.id)),
    }
