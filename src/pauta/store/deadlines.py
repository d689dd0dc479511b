"""Deadlines in the store: unfinished runs past their ``deadline_at``, and the misses recorded.

A run's ``deadline_at`` is set when the run is created (``creation.new_flow_run``). A miss is a
row of ``deadline_misses``, inserted by whoever notices it first (the scheduler, or the process
driving the run); its primary key lets exactly one of them win, so a miss is reported once even
with several schedulers, and never again after a restart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from pauta.core.states import FLOW_ACTIVE
from pauta.store.records import FlowRunRecord
from pauta.store.repository import Store, flow_run_from_row
from pauta.store.tables import deadline_misses, flow_runs

SEEN_BY = ("scheduler", "driver")


@dataclass(frozen=True, slots=True)
class DeadlineRecord:
    """How a flow's recent runs kept their deadlines: ``missed`` of the last ``runs`` runs
    that had one (newest first in ``missed_runs``)."""

    missed: int
    runs: int
    missed_runs: tuple[str, ...] = ()

    def describe(self) -> str:
        """``"missed 3 of the last 20"``."""
        return f"missed {self.missed} of the last {self.runs}"


def due_deadlines(store: Store, now: datetime, limit: int = 100) -> list[FlowRunRecord]:
    """Unfinished runs whose deadline has passed at ``now`` and whose miss nobody recorded yet,
    the most overdue first: one indexed query (state, deadline_at)."""
    r, m = flow_runs.c, deadline_misses.c
    query = (
        sa.select(flow_runs)
        .outerjoin(deadline_misses, m.flow_run_id == r.id)
        .where(
            r.state.in_([str(s) for s in FLOW_ACTIVE]),
            r.deadline_at.is_not(None),
            r.deadline_at <= now,
            m.flow_run_id.is_(None),
        )
        .order_by(r.deadline_at)
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [flow_run_from_row(row) for row in conn.execute(query)]


def claim_deadline_miss(store: Store, run: FlowRunRecord, now: datetime, seen_by: str) -> bool:
    """Record that ``run`` missed its deadline; True for the one caller that recorded it (and
    must now report it), False when someone already had."""
    if run.deadline_at is None:
        raise ValueError(f"run {run.id} has no deadline")
    if seen_by not in SEEN_BY:
        raise ValueError(f"seen_by must be one of {SEEN_BY}, not {seen_by!r}")
    stmt = (
        store._insert()(deadline_misses)
        .values(
            flow_run_id=run.id,
            flow=run.flow,
            due_at=run.deadline_at,
            missed_at=now,
            seen_by=seen_by,
        )
        .on_conflict_do_nothing(index_elements=[deadline_misses.c.flow_run_id])
        .returning(deadline_misses.c.flow_run_id)
    )
    with store.writer.begin() as conn:
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT.
        return conn.execute(stmt).first() is not None


def missed_deadlines(store: Store, run_ids: Iterable[str]) -> set[str]:
    """Which of these runs missed their deadline."""
    ids = list(run_ids)
    if not ids:
        return set()
    query = sa.select(deadline_misses.c.flow_run_id).where(deadline_misses.c.flow_run_id.in_(ids))
    with store.engine.connect() as conn:
        return {row[0] for row in conn.execute(query)}


def deadline_record(store: Store, flow: str, last: int = 20) -> DeadlineRecord:
    """How many of the last ``last`` runs of ``flow`` that had a deadline missed it."""
    r, m = flow_runs.c, deadline_misses.c
    query = (
        sa.select(r.id, m.flow_run_id.is_not(None).label("missed"))
        .outerjoin(deadline_misses, m.flow_run_id == r.id)
        .where(r.flow == flow, r.deadline_at.is_not(None))
        .order_by(r.created_at.desc())
        .limit(last)
    )
    with store.engine.connect() as conn:
        rows = list(conn.execute(query))
    missed = tuple(row.id for row in rows if row.missed)
    return DeadlineRecord(len(missed), len(rows), missed)
