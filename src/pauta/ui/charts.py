"""The run graph and the Gantt chart, computed from records (pure: no I/O, time passed in).

The calls of a ``.map`` are folded into one node of the graph and one row of the timeline, and
the calls of a task group into one node until the group is opened."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pauta.core.states import folded_state
from pauta.store.records import AttemptRecord
from pauta.store.reports import CallGroup
from pauta.ui.taskgroups import GROUP_PREFIX, fold_point, toggle_href

TIMES = "\u00d7"
MAX_GRAPH_NODES = 300
"""Larger runs show their first calls: a graph of thousands of nodes helps no one (the calls
of a ``.map`` are one node however many they are)."""


def state_counts(states: Mapping[str, int]) -> str:
    """``4,990 succeeded · 10 failed``: the states of folded calls, most common first."""
    ordered = sorted(states.items(), key=lambda item: (-item[1], item[0]))
    return " · ".join(f"{count:,} {state.lower()}" for state, count in ordered if count)


def map_title(group: CallGroup) -> str:
    """How a map's folded calls are named: its stem, a multiplication sign and their number."""
    return f"{group.key} {TIMES}{group.total:,}"


def graph_data(
    groups: Iterable[CallGroup],
    *,
    limit: int = MAX_GRAPH_NODES,
    opened: frozenset[str] | None = None,
    base: str = "",
) -> dict[str, Any]:
    """Cytoscape's input: a node per task call (coloured by state), one node per ``.map``
    (its calls counted by state, coloured by ``folded_state``), and edges from ``upstream``.

    With ``opened``, the calls of each task group that is not open are one node too (its
    ``href`` opens it: ``base`` with the group added to ``?groups=``); see ``taskgroups``.
    ``groups`` are in creation order (``Store.call_groups``); a call's node shows its label, or
    its key."""
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, str]] = []
    shown: set[str] = set()
    total = 0
    pending_edges: list[tuple[str, str]] = []
    hidden = 0
    folds: dict[str, dict[str, Any]] = {}
    alias: dict[str, str] = {}  # a folded call's key -> its group's node
    for group in groups:
        total += group.total
        point = fold_point(group.group, opened) if opened is not None else None
        if point is not None:
            node_id = GROUP_PREFIX + point
            alias[group.key] = node_id
            fold = folds.get(node_id)
            if fold is None:
                if len(nodes) >= limit:
                    hidden += 1
                    continue
                href = toggle_href(base, opened or frozenset(), point, "#graph")
                fold = {"id": node_id, "path": point, "states": {}, "fold": True, "href": href}
                folds[node_id] = fold
                nodes.append(fold)
                shown.add(node_id)
            for state, count in group.states.items():
                fold["states"][state] = fold["states"].get(state, 0) + count
            pending_edges.extend((up, node_id) for up in group.upstream)
            continue
        if len(nodes) >= limit:
            hidden += 1
            continue
        shown.add(group.key)
        if group.mapped:
            node = {
                "id": group.key,
                "label": f"{map_title(group)}\n{state_counts(group.states)}",
                "state": folded_state(group.states),
                "map": True,
            }
        else:
            node = {
                "id": group.key,
                "label": group.label or group.key,
                "state": folded_state(group.states),
            }
        nodes.append(node)
        pending_edges.extend((up, group.key) for up in group.upstream)
    for fold in folds.values():
        states = fold.pop("states")
        calls = sum(states.values())
        fold["label"] = f"\u25b8 {fold.pop('path')} ({calls:,} calls)\n{state_counts(states)}"
        fold["state"] = folded_state(states)
    seen: set[tuple[str, str]] = set()
    for source, target in pending_edges:
        source = alias.get(source, source)
        if source in shown and source != target and (source, target) not in seen:
            seen.add((source, target))
            edges.append({"source": source, "target": target})
    return {"nodes": nodes, "edges": edges, "total": total, "hidden": hidden}


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
    label: str = ""  # what the row is called (the key, or a map's ``map_title``)


@dataclass(frozen=True, slots=True)
class Gantt:
    rows: list[GanttRow]
    span: float  # seconds from the first queued time to the last end (or now)
    ticks: list[str]


@dataclass(frozen=True, slots=True)
class _Span:
    """An attempt, or all attempts of a map's calls as one, on the time axis."""

    key: str
    attempt: int
    state: str
    queued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    head: str


def _seconds(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def gantt(
    attempts: list[AttemptRecord],
    now: datetime,
    *,
    maps: Iterable[CallGroup] = (),
    labels: Mapping[str, str] | None = None,
    limit: int = 200,
) -> Gantt:
    """Bars for each attempt, by task call in order of first start; running attempts end now.
    A row is named by the call's label in ``labels``, else by its key.

    Each of ``maps`` (a map's calls folded into one group) is one row with one bar, from its
    first call's start to its last call's end, coloured by ``folded_state``."""
    named: dict[str, str] = dict(labels or {})
    spans = [
        _Span(a.key, a.attempt, str(a.state), a.queued_at, a.started_at, a.ended_at,
              f"{named.get(a.key, a.key)} attempt {a.attempt}")
        for a in attempts
    ]  # fmt: skip
    for group in maps:
        named[group.key] = map_title(group)
        spans.append(
            _Span(
                group.key, 1, folded_state(group.states), group.started_at, group.started_at,
                group.ended_at,
                f"{map_title(group)} ({group.attempts:,} attempts, first start to last end)",
            )
        )  # fmt: skip
    starts = [a.queued_at or a.started_at for a in spans]
    known = [s for s in starts if s is not None]
    if not known:
        return Gantt([], 0.0, [])
    origin = min(known)
    ends = [a.ended_at or (now if a.started_at or a.queued_at else None) for a in spans]
    last = max([e for e in ends if e is not None] + known)
    span = max(_seconds(origin, last), 0.001)

    by_key: dict[str, list[_Span]] = {}
    for one in spans:
        by_key.setdefault(one.key, []).append(one)

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
                    state=a.state,
                    wait_left=wait_left,
                    wait_width=max(left - wait_left, 0.0),
                    left=left,
                    width=width if a.started_at else 0.0,
                    title=f"{a.head}: {a.state}, ran {ran:.2f}s, "
                    f"waited {max(_seconds(queued, started), 0.0):.2f}s",
                )
            )
        total = sum(_seconds(a.started_at, a.ended_at or now) for a in by_key[key] if a.started_at)
        rows.append(GanttRow(key, bars, total if bars else None, named.get(key, key)))
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
