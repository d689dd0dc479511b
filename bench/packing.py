"""Packing: how busy the dispatch policy keeps a declared capacity of 8 cpus.

    .venv/bin/python bench/packing.py                # 300 tasks, median of 3 per policy
    .venv/bin/python bench/packing.py --tasks 100 --repeat 1

A seeded workload (bench/packing_flows.py: 1-4 cpus, 0.05-0.5 s sleeps, one in five urgent,
ten chains of five) runs on 8 warm workers, once per policy and repetition, alternating
policies. Each task measures its own start and end. Prints the makespan (first task start to
last task end), the utilization (busy cpu-seconds / (8 x makespan)), the lower bound
max(busy cpu-seconds / 8, longest chain) and the ratio of makespan to it, for the priority
policy with backfilling and for plain FIFO.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import packing_flows  # noqa: E402

from pauta.core.resources import Resources  # noqa: E402
from pauta.core.settings import Settings  # noqa: E402
from pauta.dispatch.queue import ReadyQueue, ReadyTask, RunningCounts  # noqa: E402
from pauta.engine.runner import Runner  # noqa: E402

CPUS = 8
POLICIES = {"priority": "priority + backfill", "fifo": "FIFO"}


@dataclass
class Measure:
    makespan: float
    busy: float  # cpu-seconds the tasks measured
    lower_bound: float
    wall: float  # the whole run, as the caller sees it
    start_lag: float  # median seconds from the last end before a start to that start
    lag_cost: float  # cpu-seconds those lags held idle: what the engine's own latency costs
    urgent_start: float  # median start of urgent tasks, from the first start
    other_start: float
    idle_before: float  # idle cpu-seconds up to the last task start (tasks were waiting)
    idle_after: float  # idle cpu-seconds after it (the tail: nothing left to start)

    @property
    def utilization(self) -> float:
        return self.busy / (CPUS * self.makespan)

    @property
    def ratio(self) -> float:
        return self.makespan / self.lower_bound


def measure(
    specs: list[packing_flows.Spec], spans: list[tuple[float, float]], wall: float
) -> Measure:
    first = min(start for start, _ in spans)
    last = max(end for _, end in spans)
    durations = [end - start for start, end in spans]
    busy = sum(spec.cpus * d for spec, d in zip(specs, durations, strict=True))
    chain: list[float] = []  # longest path ending at each task (specs point backwards)
    for spec, d in zip(specs, durations, strict=True):
        chain.append(d + (chain[spec.after] if spec.after is not None else 0.0))
    ends = sorted(end for _, end in spans)
    lags, lag_cost = [], 0.0
    for spec, (start, _) in zip(specs, spans, strict=True):
        i = bisect.bisect_right(ends, start)
        if i:
            lags.append(start - ends[i - 1])
            lag_cost += spec.cpus * lags[-1]
    urgent = [s - first for spec, (s, _) in zip(specs, spans, strict=True) if spec.priority]
    other = [s - first for spec, (s, _) in zip(specs, spans, strict=True) if not spec.priority]
    last_start = max(start for start, _ in spans)
    idle_before = CPUS * (last_start - first) - _busy_between(specs, spans, first, last_start)
    idle_after = CPUS * (last - last_start) - _busy_between(specs, spans, last_start, last)
    return Measure(
        makespan=last - first,
        busy=busy,
        lower_bound=max(busy / CPUS, max(chain)),
        wall=wall,
        start_lag=statistics.median(lags) if lags else 0.0,
        lag_cost=lag_cost,
        urgent_start=statistics.median(urgent) if urgent else 0.0,
        other_start=statistics.median(other) if other else 0.0,
        idle_before=idle_before,
        idle_after=idle_after,
    )


def simulate(
    specs: list[packing_flows.Spec], policy: str, reservation_after: float = 30.0
) -> list[tuple[float, float]]:
    """The same workload through the pure ready queue with the planned durations and no
    engine at all (zero dispatch latency, one pick per task end): what the policy alone
    would achieve."""
    queue = ReadyQueue(Resources(cpus=CPUS), policy=policy, reservation_after=reservation_after)
    running = RunningCounts()
    dependents: dict[int, list[int]] = {}
    for i, spec in enumerate(specs):
        if spec.after is not None:
            dependents.setdefault(spec.after, []).append(i)

    def push(i: int, now: float) -> None:
        spec = specs[i]
        queue.push(ReadyTask(i, Resources(cpus=spec.cpus), priority=spec.priority, enqueued_at=now))

    for i, spec in enumerate(specs):
        if spec.after is None:
            push(i, 0.0)
    spans: dict[int, tuple[float, float]] = {}
    ends: list[tuple[float, int, ReadyTask]] = []
    free, now = Resources(cpus=CPUS), 0.0
    while queue or ends:
        for ready in queue.pick(free, running=running, pools={}, now=now):
            i = int(ready.id)  # type: ignore[call-overload]
            running.started(ready)
            free = free.minus(ready.resources)
            spans[i] = (now, now + specs[i].seconds)
            heapq.heappush(ends, (spans[i][1], i, ready))
        now, i, ready = heapq.heappop(ends)
        running.finished(ready)
        free = free.plus(ready.resources)
        for j in dependents.get(i, []):
            push(j, now)
    return [spans[i] for i in range(len(specs))]


def _med(rows: list[Measure], name: str) -> float:
    return statistics.median(getattr(m, name) for m in rows)


def _busy_between(
    specs: list[packing_flows.Spec], spans: list[tuple[float, float]], lo: float, hi: float
) -> float:
    """Busy cpu-seconds inside [lo, hi]."""
    return sum(
        spec.cpus * max(0.0, min(end, hi) - max(start, lo))
        for spec, (start, end) in zip(specs, spans, strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    specs = packing_flows.workload(args.tasks, args.seed)
    params = {"n": args.tasks, "seed": args.seed}
    console = Console(width=140)
    results: dict[str, list[Measure]] = {policy: [] for policy in POLICIES}
    with tempfile.TemporaryDirectory(prefix="pauta-bench-") as tmp:
        runners = {
            policy: Runner(
                Settings.from_env(Path(tmp) / policy),
                capacity=Resources(cpus=CPUS),
                workers=CPUS,
                policy=policy,
            )
            for policy in POLICIES
        }
        try:
            for runner in runners.values():
                runner.run(packing_flows.warm_up, {"workers": CPUS}).result()
            for rep in range(args.repeat):
                order = list(POLICIES) if rep % 2 == 0 else list(reversed(POLICIES))
                for policy in order:
                    started = time.perf_counter()
                    run = runners[policy].run(packing_flows.packing, params)
                    wall = time.perf_counter() - started
                    spans = [(float(s), float(e)) for s, e in run.result()]
                    results[policy].append(measure(specs, spans, wall))
                    m = results[policy][-1]
                    console.print(
                        f"  run {rep + 1} {policy:>8}: makespan {m.makespan:.2f} s, "
                        f"ratio {m.ratio:.3f}, utilization {m.utilization:.1%}"
                    )
        finally:
            for runner in runners.values():
                runner.close()

    urgent = sum(1 for s in specs if s.priority)
    table = Table(
        title=f"{args.tasks} sleeping tasks ({urgent} urgent, 10 chains of 5) on {CPUS} "
        f"declared cpus, {CPUS} warm workers, {os.cpu_count()} cores, median of {args.repeat}"
    )
    columns = (
        "policy",
        "makespan s",
        "min-max s",
        "utilization",
        "lower bound s",
        "ratio",
        "run wall s",
        "start lag ms",
        "lag cpu-s",
        "idle cpu-s: packing / tail",
        "urgent / other start s",
    )
    for column in columns:
        table.add_column(column, justify="right")
    labelled = [(label, results[policy]) for policy, label in POLICIES.items()]
    labelled += [
        (f"{label}, simulated", [measure(specs, simulate(specs, policy), math.nan)])
        for policy, label in POLICIES.items()
    ]
    for label, rows in labelled:
        table.add_row(
            label,
            f"{_med(rows, 'makespan'):.2f}",
            f"{min(m.makespan for m in rows):.2f}-{max(m.makespan for m in rows):.2f}",
            f"{_med(rows, 'utilization'):.1%}",
            f"{_med(rows, 'lower_bound'):.2f}",
            f"{_med(rows, 'ratio'):.3f}",
            "-" if math.isnan(rows[0].wall) else f"{_med(rows, 'wall'):.2f}",
            f"{1000 * _med(rows, 'start_lag'):.1f}",
            f"{_med(rows, 'lag_cost'):.2f}",
            f"{_med(rows, 'idle_before'):.1f} / {_med(rows, 'idle_after'):.1f}",
            f"{_med(rows, 'urgent_start'):.1f} / {_med(rows, 'other_start'):.1f}",
        )
    console.print(table)
    console.print(sweep(specs))


def sweep(specs: list[packing_flows.Spec]) -> Table:
    """What ``reservation_after`` trades, on the pure queue: packing against how long urgent
    big tasks wait behind small ordinary ones."""
    table = Table(
        title="priority + backfill, simulated (pure queue, planned durations): "
        "reservation_after against packing and waiting"
    )
    columns = ["reservation_after s", "makespan s", "ratio"]
    columns += [f"median start, urgent {c}-cpu s" for c in (1, 2, 3, 4)]
    columns += ["median start, ordinary 1-cpu s"]
    for column in columns:
        table.add_column(column, justify="right")
    for reservation_after in (0.0, 1.0, 5.0, 30.0):
        spans = simulate(specs, "priority", reservation_after)
        m = measure(specs, spans, math.nan)

        def start(urgent: bool, cpus: int, spans: list[tuple[float, float]] = spans) -> str:
            starts = [
                span[0]
                for spec, span in zip(specs, spans, strict=True)
                if bool(spec.priority) == urgent and spec.cpus == cpus and spec.after is None
            ]
            return f"{statistics.median(starts):.1f}" if starts else "-"

        table.add_row(
            f"{reservation_after:g}",
            f"{m.makespan:.2f}",
            f"{m.ratio:.3f}",
            *(start(True, c) for c in (1, 2, 3, 4)),
            start(False, 1),
        )
    return table


if __name__ == "__main__":
    main()
