"""Task calls: group-commit writes, and reads of calls, attempts, metrics and artifacts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from pauta.core.states import State
from pauta.store import transitions
from pauta.store.base import StoreBase
from pauta.store.records import AttemptRecord, TaskRunRecord, WriteBatch
from pauta.store.reports import ArtifactRecord, MetricRecord
from pauta.store.results import StoredResult
from pauta.store.tables import (
    artifacts,
    metrics,
    task_attempts,
    task_runs,
)

if TYPE_CHECKING:
    pass
from pauta.store.recordrows import task_run_record
from pauta.store.rows import TASK_COLUMNS


class TaskCallsStore(StoreBase):
    """The task calls of runs: written in group commits, read back for pages and resumes."""

    def write(self, batch: WriteBatch, now: datetime) -> None:
        """Write a group commit in one transaction: all of it, or nothing.

        Fenced runs must still hold their lease epoch (else LeaseLostError, naming the runs);
        each task and attempt row must still hold its expected state, or not exist when none is
        expected (else StaleWriteError naming the rows; its ``conflicts`` attribute lists them).
        Metrics are appended. ``now`` refreshes the fenced runs' heartbeats.
        """
        transitions.write_batch(self._writer, batch, now, self._direct, mirror=self.mirror)

    def list_task_runs(self, run_id: str) -> list[TaskRunRecord]:
        """A run's task calls, in the order they were created."""
        query = (
            sa.select(*TASK_COLUMNS)
            .where(task_runs.c.flow_run_id == run_id)
            .order_by(task_runs.c.created_at, task_runs.c.key)
        )
        with self.engine.connect() as conn:
            return [task_run_record(row) for row in conn.execute(query)]

    def find_cached(
        self, name: str, cache_key: str, *, not_before: datetime | None = None
    ) -> TaskRunRecord | None:
        """The latest successful call of task ``name`` with ``cache_key`` (ended at or after
        ``not_before`` when given), whose result a new call may reuse."""
        t = task_runs.c
        query = (
            sa.select(*TASK_COLUMNS)
            .where(
                t.name == name,
                t.cache_key == cache_key,
                t.state.in_([str(State.SUCCEEDED), str(State.CACHED)]),
            )
            .order_by(t.ended_at.desc())
            .limit(1)
        )
        if not_before is not None:
            query = query.where(t.ended_at >= not_before)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return task_run_record(row) if row is not None else None

    def task_runs_by_key(self, run_id: str) -> dict[str, TaskRunRecord]:
        """A run's task calls by key."""
        return {rec.key: rec for rec in self.list_task_runs(run_id)}

    def list_attempts(self, run_id: str, key: str | None = None) -> list[AttemptRecord]:
        """A run's attempts (or one task call's), by key and attempt number."""
        t = task_attempts.c
        query = sa.select(task_attempts).where(t.flow_run_id == run_id).order_by(t.key, t.attempt)
        if key is not None:
            query = query.where(t.key == key)
        with self.engine.connect() as conn:
            return [
                AttemptRecord(**{**row._mapping, "state": State(row.state)})
                for row in conn.execute(query)
            ]

    def list_metrics(self, run_id: str, key: str | None = None) -> list[MetricRecord]:
        """A run's metrics (or one task call's), in the order they were logged."""
        query = sa.select(metrics).where(metrics.c.flow_run_id == run_id).order_by(metrics.c.id)
        if key is not None:
            query = query.where(metrics.c.key == key)
        with self.engine.connect() as conn:
            return [
                MetricRecord(**{k: v for k, v in row._mapping.items() if k != "id"})
                for row in conn.execute(query)
            ]

    def list_artifacts(self, run_id: str, key: str | None = None) -> list[ArtifactRecord]:
        """A run's artifacts (or one task call's), in the order they were kept."""
        a = artifacts.c
        query = sa.select(artifacts).where(a.flow_run_id == run_id).order_by(a.id)
        if key is not None:
            query = query.where(a.key == key)
        with self.engine.connect() as conn:
            return [
                ArtifactRecord(
                    row.flow_run_id,
                    row.key,
                    row.attempt,
                    row.name,
                    StoredResult(row.uri, None, row.size, row.serializer, row.preview),
                    row.logged_at,
                )
                for row in conn.execute(query)
            ]
