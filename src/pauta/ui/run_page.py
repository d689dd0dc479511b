"""What the run page shows, read so that a run of 10,000 calls stays a small, fast page.

The graph and the timeline fold each ``.map`` into one node and one row (the database counts
its calls by state); the task table is one page of calls (100), optionally of one state or of
one map's items; metrics are charts. The live fragment, polled every second while the run is
active, reads the same, for the same page of the table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from pauta.app.logs import read_flow_log
from pauta.app.metrics import RunMetric, run_metrics
from pauta.app.runs import listed_params, mlflow_link, run_view, task_view
from pauta.core.states import FLOW_TERMINAL, State, folded_state
from pauta.store.repository import Store
from pauta.ui.charts import gantt, graph_data, map_title, state_counts
from pauta.ui.svg import Chart, Colors, bar_chart, curve_chart
from pauta.ui.taskgroups import group_links, group_states, parse_opened

TASKS_PER_PAGE = 100
MAX_TASK_PAGE = 100_000
SHOWN_VALUES = 200
"""Rows of the metric values table and of the artifacts table (the API has them all)."""
# the flow log is part of the run page, sent again on every poll while the run is live
FLOW_LOG_TAIL_LINES = 200
FLOW_LOG_TAIL_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """Which calls the task table shows: of one state, of one map (its stem), which page."""

    state: str = ""
    map: str = ""
    page: int = 1
    groups: str = ""
    """The task groups open in the graph (``taskgroups.parse_opened``)."""

    @classmethod
    def of(cls, state: str | None, map_stem: str | None, page: int, groups: str = "") -> TaskQuery:
        state = (state or "").upper()
        return cls(state if state in State.__members__ else "", map_stem or "", page, groups)

    def link(self, **changes: Any) -> str:
        """The query string of the run page for this selection with ``changes``."""
        values = {
            "task_state": self.state,
            "map": self.map,
            "task_page": self.page,
            "groups": self.groups,
        }
        values.update({f"task_{k}" if k in ("state", "page") else k: v for k, v in changes.items()})
        kept = {k: v for k, v in values.items() if v and not (k == "task_page" and v == 1)}
        return urlencode(kept)


def metric_charts(metrics: list[RunMetric]) -> list[Chart]:
    """A bar chart per metric logged as values, a line chart per metric logged with steps."""
    colors = Colors()
    charts = []
    for metric in metrics:
        if metric.values:
            charts.append(bar_chart(metric.name, metric.values, colors))
        if metric.curves:
            charts.append(curve_chart(metric.name, metric.curves, colors))
    return charts


def _task_table(store: Store, run_id: str, query: TaskQuery) -> dict[str, Any]:
    stem = query.map or None
    counts = store.count_task_states(run_id, stem=stem)
    matching = counts.get(query.state, 0) if query.state else sum(counts.values())
    pages = max(1, math.ceil(matching / TASKS_PER_PAGE))
    page = min(query.page, pages)
    records = store.task_page(
        run_id,
        state=query.state or None,
        stem=stem,
        limit=TASKS_PER_PAGE,
        offset=(page - 1) * TASKS_PER_PAGE,
    )
    attempts: dict[str, list[Any]] = {}
    for attempt in store.attempts_of(run_id, [r.key for r in records]):
        attempts.setdefault(attempt.key, []).append(attempt)
    return {
        "tasks": [task_view(r, [], attempts.get(r.key, [])) for r in records],
        "counts": dict(sorted(counts.items())),
        "matching": matching,
        "page": page,
        "pages": pages,
        "first": (page - 1) * TASKS_PER_PAGE + 1,
        "query": TaskQuery(query.state, query.map, page, query.groups),
    }


def run_context(store: Store, logs_dir: Path, run_id: str, query: TaskQuery) -> dict[str, Any]:
    """Everything the run page (or its live fragment) shows."""
    run = store.get_flow_run(run_id)
    view = run_view(run)
    view["children"] = [c.id for c in store.list_flow_runs(parent_run_id=run.id, limit=0)]
    groups = store.call_groups(run.id)
    maps = [g for g in groups if g.mapped]
    map_filter = next((g for g in maps if g.key == query.map), None)
    opened = parse_opened(query.groups)
    base = f"/runs/{quote(run.id, safe='')}"
    in_groups = group_states((g.group, g.states) for g in groups)
    metrics = run_metrics(store, run.id)
    artifacts = store.list_artifacts(run.id)[:SHOWN_VALUES]
    labels = store.labels_of(run.id, [a.key for a in artifacts])
    flow_log = read_flow_log(
        store, logs_dir, run.id, tail=FLOW_LOG_TAIL_LINES, limit=FLOW_LOG_TAIL_BYTES
    )
    # the live part is polled every second: it carries a summary of large parameters
    params, params_cut = listed_params(run.id, run.params)
    values = [(m.name, v) for m in metrics for v in m.values]
    return {
        "run": view,
        "mlflow_url": mlflow_link(store, run.id),
        "flow_log": flow_log,
        "params": params,
        "params_cut": params_cut,
        "graph": graph_data(groups, opened=opened, base=base),
        "task_groups": group_links(in_groups, opened, base, "#graph"),
        "maps": [(g, map_title(g), state_counts(g.states), folded_state(g.states)) for g in maps],
        "map_filter": (map_filter, map_title(map_filter)) if map_filter else None,
        "gantt": gantt(
            store.unmapped_attempts(run.id),
            store.clock.now(),
            maps=maps,
            labels={g.key: g.label for g in groups if g.label},
        ),
        "live": run.state not in FLOW_TERMINAL,
        "charts": metric_charts(metrics),
        "metric_values": values[:SHOWN_VALUES],
        "metric_values_total": len(values),
        "artifacts": [(labels.get(a.key) or a.key, a) for a in artifacts],
        **_task_table(store, run.id, query),
    }
