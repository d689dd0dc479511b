"""The run graph and the Gantt chart, computed from records (pure: no I/O, time passed in)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pauta.store.records import AttemptRecord, TaskRunRecord

MAX_GRAPH_NODES = 300
"""Larger runs (a wide map) show their first calls: a graph of thousands of nodes helps no one."""


def task_shapes(records: Iterable[TaskRunRecord]) -> list[dict[str, Any]]:
    """What the graph needs of task records."""
    return [
        {"key": r.key, "label": r.label, "state": str(r.state), "upstream": r.upstream}
        for r in records
    ]


def graph_data(
    tasks: Iterable[Mapping[str, Any]], *, limit: int = MAX_GRAPH_NODES
) -> dict[str, Any]:
    """Cytoscape's input: one node per task call (coloured by state), edges from ``upstream``.

    ``tasks`` are task views (``key``, ``label``, ``state``, ``upstream``), in creation order;
    a node shows its call's label, or its key."""
    nodes: list[dict[str, str]] = []
    edges: list[dict[str, str]] = []
    shown: set[str] = set()
    total = 0
    pending_edges: list[tuple[str, str]] = []
    for task in tasks:
        total += 1
        if len(nodes) >= limit:
            continue
        key = task["key"]
        shown.add(key)
        label = task.get("label") or key
        nodes.append({"id": key, "label": label, "state": str(task["state"])})
        pending_edges.extend((up, key) for up in task["upstream"])
    for source, target in pending_edges:
        if source in shown:
            edges.append({"source": source, "target": target})
    return {"nodes": nodes, "edges": edges, "total": total}


@dataclass(frozen=True, slots=True)
class Bar:
    """One attempt on the time axis, in percent of the chart's width."""

    attempt: int
    state: str
    wait_left: float  # from queued to started: waiting for a slot
    wait_width: float
    left: float
    width: float
    title: str


@dataclass(frozen=True, slots=True)
class GanttRow:
    key: str
    bars: list[Bar]
    duration: float | None


@dataclass(frozen=True, slots=True)
class Gantt:
    rows: list[GanttRow]
    span: float  # seconds from the first queued time to the last end (or now)
    ticks: list[str]


def _seconds(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def gantt(attempts: list[AttemptRecord], now: datetime, *, limit: int = 200) -> Gantt:
    """Bars for each attempt, by task call in order of first start; running attempts end now."""
    starts = [a.queued_at or a.started_at for a in attempts]
    known = [s for s in starts if s is not None]
    if not known:
        return Gantt([], 0.0, [])
    origin = min(known)
    ends = [a.ended_at or (now if a.started_at or a.queued_at else None) for a in attempts]
    last = max([e for e in ends if e is not None] + known)
    span = max(_seconds(origin, last), 0.001)

    by_key: dict[str, list[AttemptRecord]] = {}
    for attempt in attempts:
        by_key.setdefault(attempt.key, []).append(attempt)

    def first_time(key: str) -> datetime:
        times = [a.queued_at or a.started_at for a in by_key[key]]
        return min((t for t in times if t is not None), default=last)

    rows = []
    for key in sorted(by_key, key=lambda k: (first_time(k), k))[:limit]:
        bars = []
        for a in sorted(by_key[key], key=lambda a: a.attempt):
            queued = a.queued_at or a.started_at
            if queued is None:
                continue
            started = a.started_at or now
            ended = a.ended_at or now
            wait_left = _seconds(origin, queued) / span * 100
            left = _seconds(origin, started) / span * 100
            width = max(_seconds(started, ended), 0.0) / span * 100
            ran = _seconds(started, ended) if a.started_at else 0.0
            bars.append(
                Bar(
                    attempt=a.attempt,
                    state=str(a.state),
                    wait_left=wait_left,
                    wait_width=max(left - wait_left, 0.0),
                    left=left,
                    width=width if a.started_at else 0.0,
                    title=f"{key} attempt {a.attempt}: {a.state}, ran {ran:.2f}s, "
                    f"waited {max(_seconds(queued, started), 0.0):.2f}s",
                )
            )
        total = sum(_seconds(a.started_at, a.ended_at or now) for a in by_key[key] if a.started_at)
        rows.append(GanttRow(key, bars, total if bars else None))
    ticks = [format_seconds(span * i / 4) for i in range(5)]
    return Gantt(rows, span, ticks)


def format_seconds(value: float | None) -> str:
    """``0.35s``, ``12.1s``, ``4m 05s``, ``2h 03m``."""
    if value is None:
        return ""
    if value < 10:
        return f"{value:.2f}s"
    if value < 60:
        return f"{value:.1f}s"
    minutes, seconds = divmod(int(value), 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"
