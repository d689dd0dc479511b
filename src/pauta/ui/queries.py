"""The reads behind the pages, shaped for them: only the columns a page shows, bounded rows.

``Store.list_flow_runs`` returns whole records (parameters, inline results up to 64 KiB each):
right for one run, wasteful for a page of 50. These queries select the few columns the lists
show and use the ``(flow, created_at)`` and ``(state, created_at)`` indexes, so the pages stay
fast with tens of thousands of runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from pauta.core.states import FlowRunState, folded_state
from pauta.store.folded import map_stem
from pauta.store.repository import Store
from pauta.store.tables import flow_runs, task_runs
from pauta.ui.charts import state_counts
from pauta.ui.taskgroups import GROUP_PREFIX, fold_point

RECENT_PER_FLOW = 10


@dataclass(frozen=True, slots=True)
class RunRow:
    """A run as the lists show it."""

    id: str
    flow: str
    state: str
    trigger: str
    logical_date: datetime
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return max((self.ended_at - self.started_at).total_seconds(), 0.0)


_COLUMNS = (
    flow_runs.c.id,
    flow_runs.c.flow,
    flow_runs.c.state,
    flow_runs.c.trigger,
    flow_runs.c.logical_date,
    flow_runs.c.created_at,
    flow_runs.c.started_at,
    flow_runs.c.ended_at,
)
_NEWEST_FIRST = (flow_runs.c.created_at.desc(), flow_runs.c.id.desc())


def _rows(store: Store, query: sa.Select[tuple[object, ...]]) -> list[RunRow]:
    with store.engine.connect() as conn:
        return [RunRow(*row) for row in conn.execute(query)]


def recent_runs_by_flow(
    store: Store, flows: list[str], per_flow: int = RECENT_PER_FLOW
) -> dict[str, list[RunRow]]:
    """The latest ``per_flow`` top-level runs of each flow, newest first, in one query.

    One ``LIMIT`` per flow joined with UNION ALL: each part is a short walk down the
    ``(flow, created_at)`` index, so the cost grows with the number of flows shown, not with
    the number of runs stored (a window function over all runs reads every row).
    """
    found: dict[str, list[RunRow]] = {name: [] for name in flows}
    if not flows:
        return found
    parts = [
        sa.select(*_COLUMNS)
        .where(flow_runs.c.flow == name, flow_runs.c.parent_run_id.is_(None))
        .order_by(*_NEWEST_FIRST)
        .limit(per_flow)
        .subquery()
        .select()
        for name in flows
    ]
    query = parts[0] if len(parts) == 1 else sa.union_all(*parts)
    with store.engine.connect() as conn:
        for row in conn.execute(query):
            found[row.flow].append(RunRow(*row))
    for rows in found.values():
        rows.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    return found


def list_runs(
    store: Store,
    *,
    flow: str | None = None,
    state: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[RunRow], bool]:
    """One page of runs, newest first, and whether there are more after it.

    Reads one row past the page instead of counting every matching run.
    """
    query = sa.select(*_COLUMNS).order_by(*_NEWEST_FIRST).limit(limit + 1).offset(offset)
    if flow:
        query = query.where(flow_runs.c.flow == flow)
    if state:
        query = query.where(flow_runs.c.state == str(FlowRunState(state)))
    rows = _rows(store, query)
    return rows[:limit], len(rows) > limit


@dataclass(frozen=True, slots=True)
class RunGrid:
    """Recent runs of a flow (rows) by the task calls they made (columns), with states.

    The calls of a ``.map`` are one column (``mapped`` holds its stem, e.g. ``process-0``):
    its cell shows their folded state, and ``counts`` their number by state."""

    runs: list[RunRow]
    keys: list[str]
    states: dict[tuple[str, str], str]
    truncated: bool
    mapped: frozenset[str] = frozenset()
    counts: dict[tuple[str, str], str] = field(default_factory=dict)
    folded: frozenset[str] = frozenset()
    """Columns that are a folded task group (``group:train``): every call inside it."""
    group_cells: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    """(group path, its calls by state) for the newest run's grouped calls."""


def run_grid(
    store: Store,
    flow: str,
    *,
    runs: int = 15,
    max_keys: int = 60,
    opened: frozenset[str] = frozenset(),
) -> RunGrid:
    """The grid of the flow page: the last ``runs`` runs and their task calls' states.

    The calls of a task group that is not in ``opened`` are one column (``folded``), with the
    state folded over every call inside it (``taskgroups``).

    Columns are task keys (a map's stem for its calls) in the order the newest runs created
    them; a flow that makes thousands of separate calls shows the first ``max_keys``
    (``truncated`` says so). The database folds each map's calls, counting them by state.
    """
    rows = _rows(
        store,
        sa.select(*_COLUMNS)
        .where(flow_runs.c.flow == flow, flow_runs.c.parent_run_id.is_(None))
        .order_by(*_NEWEST_FIRST)
        .limit(runs),
    )
    if not rows:
        return RunGrid([], [], {}, False)
    t = task_runs.c
    column = sa.case((t.map_index.is_(None), t.key), else_=map_stem()).label("column")
    mapped = sa.case((t.map_index.is_(None), 0), else_=1).label("mapped")
    query = (
        sa.select(
            t.flow_run_id,
            column,
            mapped,
            t.state,
            sa.func.count(),
            sa.func.min(t.created_at),
            t.task_group,
        )
        .where(t.flow_run_id.in_([r.id for r in rows]))
        .group_by(t.flow_run_id, column, mapped, t.state, t.task_group)
    )
    counted: dict[tuple[str, str], dict[str, int]] = {}
    first_seen: dict[str, tuple[int, datetime]] = {}
    maps: set[str] = set()
    folded: set[str] = set()
    newest: list[tuple[str, dict[str, int]]] = []
    order = {r.id: i for i, r in enumerate(rows)}
    with store.engine.connect() as conn:
        for run_id, key, is_map, state, count, created_at, group in conn.execute(query):
            if group and run_id == rows[0].id:
                newest.append((group, {state: count}))
            point = fold_point(group, opened)
            if point is not None:
                key = GROUP_PREFIX + point
                folded.add(key)
            elif is_map:
                maps.add(key)
            cell = counted.setdefault((run_id, key), {})
            cell[state] = cell.get(state, 0) + count
            rank = (order[run_id], created_at)
            # keys of newer runs first, each in its own creation order
            if key not in first_seen or rank < first_seen[key]:
                first_seen[key] = rank
    keys = sorted(first_seen, key=lambda k: (first_seen[k], k))
    states = {cell: folded_state(found) for cell, found in counted.items()}
    counts = {
        (run_id, key): f"{sum(found.values()):,} calls: {state_counts(found)}"
        for (run_id, key), found in counted.items()
        if key in maps or key in folded
    }
    return RunGrid(
        rows, keys[:max_keys], states, len(keys) > max_keys, frozenset(maps), counts,
        frozenset(folded), newest,
    )  # fmt: skip


def flow_names(store: Store) -> list[str]:
    """The names of the flows in the store (for the runs filter)."""
    return [row["name"] for row in store.list_flows()]
