"""``/metrics``: the store's numbers in Prometheus' text format.

A custom collector reads the store at each scrape (``pauta.store.stats``), so every server on
one database reports the same numbers and nothing is kept in memory between scrapes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from pauta.services import control
from pauta.store import stats
from pauta.store.repository import Store
from pauta.store.services import ServicesStore

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
        yield from _services(self.store)


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


def _services(store: Store) -> Iterator[Metric]:
    """The supervisor's own counters of each service (as it last wrote them to the store)."""
    views = control.list_views(store)
    statuses = ServicesStore(store).statuses()
    up = GaugeMetricFamily(
        "pauta_service_up", "1 while a service's revision serves requests.", labels=["service"]
    )
    requests = CounterMetricFamily(
        "pauta_service_requests",
        "Requests the service's stable address answered, by status class (since the supervisor "
        "started).",
        labels=["service", "code"],
    )
    rate = GaugeMetricFamily(
        "pauta_service_requests_per_second",
        "Requests per second over the last 10 seconds.",
        labels=["service"],
    )
    latency = GaugeMetricFamily(
        "pauta_service_latency_seconds",
        "Latency percentiles over the last minute, as the proxy measured them.",
        labels=["service", "quantile"],
    )
    replicas = GaugeMetricFamily(
        "pauta_service_replicas", "Replicas of a service, by state.", labels=["service", "state"]
    )
    restarts = CounterMetricFamily(
        "pauta_service_restarts",
        "Restarts of the serving revision's replicas.",
        labels=["service"],
    )
    durations = HistogramMetricFamily(
        "pauta_service_request_duration_seconds",
        "How long the service's requests took through its stable address.",
        labels=["service"],
    )
    for view in views:
        name = view["name"]
        up.add_metric([name], 1.0 if view["state"] == "serving" else 0.0)
        traffic = view["traffic"]
        for code, count in sorted((traffic.get("by_class") or {}).items()):
            requests.add_metric([name, code], float(count))
        rate.add_metric([name], float(traffic.get("rps") or 0.0))
        for quantile, key in (("0.5", "p50_ms"), ("0.9", "p90_ms"), ("0.99", "p99_ms")):
            if traffic.get(key) is not None:
                latency.add_metric([name, quantile], float(traffic[key]) / 1000)
        counts: dict[str, int] = {}
        for replica in view["replicas"]:
            counts[replica["state"]] = counts.get(replica["state"], 0) + 1
        for state, count in sorted(counts.items()):
            replicas.add_metric([name, state], float(count))
        restarts.add_metric([name], float(view["restarts"]))
        found = statuses.get(name)
        histogram = (found.status.get("traffic") or {}).get("histogram") if found else None
        if histogram:
            bounds = [*histogram["bounds"], float("inf")]
            cumulative, buckets = 0, []
            for bound, count in zip(bounds, histogram["counts"], strict=True):
                cumulative += count
                buckets.append((_label(bound), cumulative))
            durations.add_metric([name], buckets=buckets, sum_value=histogram["sum"])
    yield from (up, requests, rate, latency, replicas, restarts, durations)


def _label(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def render(store: Store) -> bytes:
    """The metrics page."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return generate_latest(registry)
