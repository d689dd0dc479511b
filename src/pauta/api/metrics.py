"""``/metrics``: the store's numbers in Prometheus' text format.

A custom collector reads the store at each scrape (``pauta.store.stats``), so every server on
one database reports the same numbers and nothing is kept in memory between scrapes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from pauta.store import stats
from pauta.store.repository import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, float("inf"))


class StoreCollector(Collector):
    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        found = stats.collect(self.store, self.store.clock.now())
        runs = GaugeMetricFamily(
            "pauta_flow_runs", "Flow runs in the store, by state.", labels=["state"]
        )
        for state, count in found.runs_by_state.items():
            runs.add_metric([state], count)
        yield runs
        yield GaugeMetricFamily(
            "pauta_queued_runs", "Flow runs waiting for a worker.", value=found.queued_runs
        )
        yield GaugeMetricFamily(
            "pauta_queued_tasks",
            "Task calls of running flow runs that wait to start (pending or queued).",
            value=found.queued_tasks,
        )
        yield GaugeMetricFamily(
            "pauta_oldest_queued_run_age_seconds",
            "How long the oldest queued flow run has waited for a worker (0 when none).",
            value=found.oldest_queued_age or 0.0,
        )
        yield GaugeMetricFamily(
            "pauta_scheduler_lag_seconds",
            "How late the scheduler queued its latest tick: from when it fell due to a running "
            "scheduler (a tick that passed before it started is due at its start) to its run.",
            value=found.scheduler_lag or 0.0,
        )
        flows = GaugeMetricFamily("pauta_flows", "Known flows, by paused.", labels=["paused"])
        flows.add_metric(["false"], found.flows - found.paused_flows)
        flows.add_metric(["true"], found.paused_flows)
        yield flows
        yield _durations(found.task_durations)


def _durations(durations: list[tuple[str, float]]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "pauta_task_duration_seconds",
        f"Durations of the task calls that ended in the last "
        f"{int(stats.DURATION_WINDOW.total_seconds() // 60)} minutes, by task.",
        labels=["task"],
    )
    by_task: dict[str, list[float]] = defaultdict(list)
    for name, seconds in durations:
        by_task[name].append(seconds)
    for name in sorted(by_task):
        values = by_task[name]
        counts = [sum(v <= bound for v in values) for bound in BUCKETS]
        family.add_metric(
            [name],
            buckets=[(_label(b), c) for b, c in zip(BUCKETS, counts, strict=True)],
            sum_value=sum(values),
        )
    return family


def _label(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def render(store: Store) -> bytes:
    """The metrics page."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return generate_latest(registry)
