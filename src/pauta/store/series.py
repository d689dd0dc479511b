"""Reads of logged metrics shaped for charts: each call's last value of each metric (with the
call's label), and the curves of metrics logged with steps, thinned to a bounded number of
points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from pauta.store.base import StoreBase
from pauta.store.reports import MetricRecord, MetricValue
from pauta.store.tables import metrics, task_runs


class MetricSeriesStore(StoreBase):
    """Metrics read per call and per curve, for the run and flow pages and the API."""

    def metric_values(self, run_ids: Sequence[str]) -> list[MetricValue]:
        """For each call of these runs and each metric it logged: the last value it logged
        (the highest id: its latest attempt's last), in the order they were logged."""
        if not run_ids:
            return []
        m, t = metrics.c, task_runs.c
        runs = m.flow_run_id.in_(list(run_ids))
        # Values without a step are mostly one a call: read as they are, the last kept here
        # (grouping them in SQL sorted every row first, twice the time). Curves can have many
        # points: their last one is found by the database.
        plain = (
            sa.select(m.id, m.flow_run_id, m.key, m.name, m.value, m.step, m.attempt)
            .where(runs, m.step.is_(None))
            .order_by(m.id)
        )
        last_steps = (
            sa.select(sa.func.max(m.id))
            .where(runs, m.step.isnot(None))
            .group_by(m.flow_run_id, m.key, m.name)
        )
        stepped = sa.select(m.id, m.flow_run_id, m.key, m.name, m.value, m.step, m.attempt).where(
            m.id.in_(last_steps)
        )
        # labels apart, not joined: on tables just filled, PostgreSQL's planner (no statistics
        # yet) looked each call up through the state index, ~1 ms a row
        labels = sa.select(t.flow_run_id, t.key, t.label).where(
            t.flow_run_id.in_(list(run_ids)), t.label.isnot(None)
        )
        last: dict[tuple[str, str, str], tuple[Any, ...]] = {}
        curves: set[tuple[str, str, str]] = set()
        with self.engine.connect() as conn:
            plain_rows = [tuple(row) for row in conn.execute(plain)]
            stepped_rows = [tuple(row) for row in conn.execute(stepped)]
            named = {(run, key): label for run, key, label in conn.execute(labels)}
        for row in plain_rows:
            last[row[1:4]] = row
        for row in stepped_rows:
            ident = row[1:4]
            curves.add(ident)
            if ident not in last or last[ident][0] < row[0]:
                last[ident] = row
        return [
            MetricValue(run, key, named.get((run, key)), name, value, step, attempt,
                        (run, key, name) in curves)
            for _, run, key, name, value, step, attempt in sorted(last.values())
        ]  # fmt: skip

    def metric_steps(self, run_id: str, *, points: int = 200) -> list[MetricRecord]:
        """The run's metrics logged with a step, in the order they were logged, each curve
        thinned to about ``points`` points: when the steps span more, only every n-th step
        is read (n the same for every curve), plus each curve's last point."""
        m = metrics.c
        stepped = [m.flow_run_id == run_id, m.step.isnot(None)]
        span = sa.select(sa.func.min(m.step), sa.func.max(m.step)).where(*stepped)
        with self.engine.connect() as conn:
            low, high = conn.execute(span).one()
            if low is None:
                return []
            stride = max(1, math.ceil((high - low + 1) / points))
            query = sa.select(metrics).where(*stepped).order_by(m.id)
            if stride > 1:
                last = (
                    sa.select(sa.func.max(m.id)).where(*stepped).group_by(m.key, m.name, m.attempt)
                )
                query = query.where(sa.or_((m.step - low) % stride == 0, m.id.in_(last)))
            rows = conn.execute(query).all()
        return [
            MetricRecord(
                row.flow_run_id, row.key, row.attempt, row.name, row.value, row.step, row.logged_at
            )
            for row in rows
        ]
