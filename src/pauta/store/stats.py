"""Aggregates over the metadata store for monitoring: runs by state, queue lengths, recent task
durations, how late the scheduler queued its latest tick.

The scheduler lag runs from the moment a tick fell due to a running scheduler (``due_at``), not
from the tick itself: the tick of last Monday that a first start (or a restart, or an unpause)
queues on Wednesday was never late, and reporting it as 45 hours late until the next Monday
would hide a scheduler that really is behind.

Each query is bounded (an index, or a time window and a row limit), so a scrape stays cheap on
a store with millions of task runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from pauta.core.states import FlowRunState, State
from pauta.store.repository import Store
from pauta.store.tables import flow_runs, flows, task_runs

DURATION_WINDOW = timedelta(hours=1)
DURATION_ROWS = 50_000


@dataclass(frozen=True, slots=True)
class StoreStats:
    runs_by_state: dict[str, int]
    queued_runs: int
    queued_tasks: int
    oldest_queued_age: float | None
    scheduler_lag: float | None
    flows: int
    paused_flows: int
    # (task name, duration in seconds) of task calls that ended in the window
    task_durations: list[tuple[str, float]]


def collect(store: Store, now: datetime) -> StoreStats:
    """One snapshot of the store's numbers."""
    r, t = flow_runs.c, task_runs.c
    queued = str(FlowRunState.QUEUED)
    with store.engine.connect() as conn:
        by_state = dict(conn.execute(sa.select(r.state, sa.func.count()).group_by(r.state)).all())
        oldest = conn.execute(
            sa.select(r.created_at)
            .where(r.state == queued)
            .order_by(r.state, r.created_at)
            .limit(1)
        ).scalar()
        # through the running runs: task_runs is indexed by (flow_run_id, state) only
        running = sa.select(r.id).where(r.state == str(FlowRunState.RUNNING))
        queued_tasks = conn.execute(
            sa.select(sa.func.count()).where(
                t.flow_run_id.in_(running), t.state.in_([str(State.QUEUED), str(State.PENDING)])
            )
        ).scalar()
        latest = conn.execute(
            sa.select(sa.func.coalesce(r.due_at, r.logical_date), r.created_at)
            .where(r.trigger == "schedule")
            .order_by(r.trigger, r.created_at.desc())
            .limit(1)
        ).first()
        flow_rows = conn.execute(sa.select(flows.c.paused)).scalars().all()
        durations = conn.execute(
            sa.select(t.name, t.started_at, t.ended_at)
            .where(
                t.flow_run_id.in_(
                    sa.select(r.id).where(r.created_at >= now - DURATION_WINDOW * 24)
                ),
                t.ended_at >= now - DURATION_WINDOW,
                t.started_at.is_not(None),
            )
            .limit(DURATION_ROWS)
        ).all()
    return StoreStats(
        runs_by_state={str(s): int(by_state.get(str(s), 0)) for s in FlowRunState},
        queued_runs=int(by_state.get(queued, 0)),
        queued_tasks=int(queued_tasks or 0),
        oldest_queued_age=(now - oldest).total_seconds() if oldest is not None else None,
        scheduler_lag=(
            max(0.0, (latest[1] - latest[0]).total_seconds()) if latest is not None else None
        ),
        flows=len(flow_rows),
        paused_flows=sum(bool(p) for p in flow_rows),
        task_durations=[
            (name, max(0.0, (ended - started).total_seconds()))
            for name, started, ended in durations
        ],
    )
