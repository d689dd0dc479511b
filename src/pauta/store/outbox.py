"""The MLflow outbox: what a write queues for the mirror, and what the sender reads back.

Rows are built here and inserted by the writes they mirror, in the same transaction, so a run
that is in the store is also in the outbox (or already in MLflow). The sender reads them in
``id`` order and deletes each once MLflow has it; ``mlflow_runs`` remembers which MLflow run
a flow run (key ``""``) or a task call went to, so a resent item never creates a second one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pauta.core.states import TASK_TERMINAL, FlowRunState
from pauta.store.base import StoreBase
from pauta.store.db import BulkStatement
from pauta.store.records import FlowRunRecord, WriteBatch
from pauta.store.tables import mlflow_outbox, mlflow_runs, task_runs

OUTBOX_INSERT = BulkStatement(
    sa.insert(mlflow_outbox), ["flow_run_id", "kind", "payload", "created_at"]
)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One thing to send to MLflow. ``payload`` depends on ``kind``; see ``batch_rows``."""

    id: int
    flow_run_id: str
    kind: str
    payload: dict[str, Any]


def _millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _row(run_id: str, kind: str, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"flow_run_id": run_id, "kind": kind, "payload": payload, "created_at": now}


def run_row(rec: FlowRunRecord, now: datetime) -> dict[str, Any]:
    """The item of a new flow run: its MLflow run's name, tags and params."""
    return _row(
        rec.id,
        "run",
        {
            "flow": rec.flow,
            "trigger": rec.trigger,
            "logical_date": rec.logical_date.isoformat(),
            "params": rec.params,
            "state": str(rec.state),
            "at": _millis(rec.created_at),
        },
        now,
    )


def run_state_row(run_id: str, state: FlowRunState, now: datetime) -> dict[str, Any]:
    return _row(run_id, "run_state", {"state": str(state), "at": _millis(now)}, now)


def batch_rows(batch: WriteBatch, now: datetime) -> list[dict[str, Any]]:
    """The items of a group commit: metrics, params, artifacts and the calls that ended."""
    rows = [
        _row(
            m.flow_run_id,
            "metric",
            {
                "key": m.key,
                "name": m.name,
                "value": m.value,
                "step": m.step,
                "at": _millis(m.logged_at),
            },
            now,
        )
        for m in batch.metrics
    ]
    rows.extend(
        _row(p.flow_run_id, "param", {"key": p.key, "name": p.name, "value": p.value}, now)
        for p in batch.params
    )
    rows.extend(
        _row(
            a.flow_run_id,
            "artifact",
            {
                "key": a.key,
                "name": a.name,
                "uri": a.stored.uri,
                "serializer": a.stored.serializer,
            },
            now,
        )
        for a in batch.artifacts
        if a.stored.uri is not None
    )
    for tw in batch.tasks:
        rec = tw.record
        if rec.state in TASK_TERMINAL and tw.expected != rec.state:
            at = rec.ended_at or now
            payload = {"key": rec.key, "state": str(rec.state), "at": _millis(at)}
            rows.append(_row(rec.flow_run_id, "task_state", payload, now))
    return rows


class OutboxStore(StoreBase):
    """Reading and clearing the outbox, and the MLflow runs already created."""

    def outbox_items(self, limit: int = 500) -> list[OutboxItem]:
        """The oldest items still to be sent, in the order they were written."""
        o = mlflow_outbox.c
        query = sa.select(o.id, o.flow_run_id, o.kind, o.payload).order_by(o.id).limit(limit)
        with self.engine.connect() as conn:
            return [OutboxItem(*row) for row in conn.execute(query)]

    def outbox_size(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(mlflow_outbox)).scalar())

    def delete_outbox(self, ids: Iterable[int]) -> None:
        """Forget items MLflow has (or refused for good)."""
        wanted = list(ids)
        if not wanted:
            return
        with self._writer.begin() as conn:
            conn.execute(sa.delete(mlflow_outbox).where(mlflow_outbox.c.id.in_(wanted)))

    def mlflow_runs(self, run_id: str) -> dict[str, tuple[str, str]]:
        """The MLflow runs of a flow run: key ("" for the run itself) → (run id, experiment)."""
        m = mlflow_runs.c
        query = sa.select(m.key, m.mlflow_run_id, m.experiment_id).where(m.flow_run_id == run_id)
        with self.engine.connect() as conn:
            return {key: (mlflow_id, exp) for key, mlflow_id, exp in conn.execute(query)}

    def remember_mlflow_run(
        self, run_id: str, key: str, mlflow_run_id: str, experiment_id: str
    ) -> None:
        """Keep the MLflow run a flow run (key "") or task call was mirrored to."""
        row = {
            "flow_run_id": run_id,
            "key": key,
            "mlflow_run_id": mlflow_run_id,
            "experiment_id": experiment_id,
        }
        with self._writer.begin() as conn:
            exists = conn.execute(
                sa.select(mlflow_runs.c.mlflow_run_id).where(
                    mlflow_runs.c.flow_run_id == run_id, mlflow_runs.c.key == key
                )
            ).first()
            if exists is None:
                conn.execute(sa.insert(mlflow_runs).values(row))

    def call_labels(self, run_id: str) -> dict[str, tuple[str, str | None]]:
        """A run's task calls: key → (task name, label), to name their MLflow runs."""
        t = task_runs.c
        query = sa.select(t.key, t.name, t.label).where(t.flow_run_id == run_id)
        with self.engine.connect() as conn:
            return {key: (name, label) for key, name, label in conn.execute(query)}
