"""The one chokepoint for state changes: which transitions are allowed, and how they are written.

Components propose a new state; this module checks it against the tables in
``pauta.core.states`` and writes it with compare-and-set SQL
(``UPDATE ... WHERE ... AND state = :expected``, row count checked), so two processes can never
both win and a zombie's late write cannot overwrite the state that replaced it.

Flow runs move one step of ``FLOW_TRANSITIONS`` at a time. Task writes are group-committed, so
one write may coalesce several steps (QUEUED → RUNNING → SUCCEEDED between two commits): a task
write is allowed when the new state is *reachable* from the expected one through
``TASK_TRANSITIONS``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pauta.core.errors import LeaseLostError, StoreError
from pauta.core.states import FlowRunState, State
from pauta.store import outbox
from pauta.store.db import BulkStatement, DirectWriter
from pauta.store.records import WriteBatch
from pauta.store.tables import (
    artifacts,
    events,
    flow_runs,
    metrics,
    task_attempts,
    task_runs,
)
from pauta.store.writes import (  # the rules, re-exported: this module is where writes go
    RESULT_COLUMNS,
    TASK_REACHABLE,
    BatchRows,
    Conflict,
    FenceFailed,
    Stale,
    WriteCheck,
    batch_extras,
    check_flow_transition,
    check_task_write,
    expected_flow_states,
    reachable_states,
    result_values,
    stale_write_error,
    task_write_allowed,
)


def cas_flow_run(
    conn: Connection,
    run_id: str,
    new: FlowRunState,
    expected: Sequence[FlowRunState],
    *,
    epoch: int | None,
    values: Mapping[str, Any],
) -> bool:
    """Set a flow run's state (and ``values``) if it still holds one of ``expected``.

    With ``epoch``, the write also requires the run's lease epoch to be unchanged. Returns
    whether the row was updated. The transition must have been checked already.
    """
    stmt = (
        sa.update(flow_runs)
        .where(flow_runs.c.id == run_id, flow_runs.c.state.in_([str(s) for s in expected]))
        .values(state=str(new), **values)
    )
    if epoch is not None:
        stmt = stmt.where(flow_runs.c.lease_epoch == epoch)
    return conn.execute(stmt).rowcount == 1


def _cas_statement(table: sa.Table, keys: Sequence[str], skip: Sequence[str] = ()) -> sa.Update:
    # Where-clause parameters carry a "w_" prefix: SQLAlchemy refuses bind names that clash
    # with the column names used in SET.
    where = [table.c[k] == sa.bindparam(f"w_{k}") for k in keys]
    where.append(table.c.state == sa.bindparam("w_expected"))
    sets = {c.name: sa.bindparam(c.name) for c in table.c if c.name not in (*keys, *skip)}
    return sa.update(table).where(*where).values(sets)


def _columns(table: sa.Table, skip: Sequence[str] = ()) -> list[str]:
    return [c.name for c in table.c if c.name not in skip]


# created_at is set once, when the row is inserted.
TASK_CAS = BulkStatement(_cas_statement(task_runs, ("flow_run_id", "key"), skip=("created_at",)))
ATTEMPT_CAS = BulkStatement(_cas_statement(task_attempts, ("flow_run_id", "key", "attempt")))
TASK_INSERT = BulkStatement(sa.insert(task_runs), _columns(task_runs))
ATTEMPT_INSERT = BulkStatement(sa.insert(task_attempts), _columns(task_attempts))
METRIC_INSERT = BulkStatement(sa.insert(metrics), _columns(metrics, skip=("id",)))
ARTIFACT_INSERT = BulkStatement(sa.insert(artifacts), _columns(artifacts, skip=("id",)))
EVENT_INSERT = BulkStatement(sa.insert(events), _columns(events, skip=("id",)))


def find_conflicts(conn: Connection, checks: Sequence[WriteCheck]) -> list[Conflict]:
    """Compare each write's expected state with what the store holds now."""
    task_keys = {(run, key) for run, key, attempt, _ in checks if attempt is None}
    attempt_keys = {(run, key, attempt) for run, key, attempt, _ in checks if attempt is not None}
    actual: dict[tuple[str, str, int | None], State] = {}
    chunk = 400  # stay well below SQLite's bound-parameter limit
    task_list, attempt_list = sorted(task_keys), sorted(attempt_keys)
    for i in range(0, len(task_list), chunk):
        part = task_list[i : i + chunk]
        cols = sa.tuple_(task_runs.c.flow_run_id, task_runs.c.key)
        query = sa.select(task_runs.c.flow_run_id, task_runs.c.key, task_runs.c.state)
        for run, key, state in conn.execute(query.where(cols.in_(part))):
            actual[(run, key, None)] = State(state)
    for i in range(0, len(attempt_list), chunk):
        apart = attempt_list[i : i + chunk]
        t = task_attempts.c
        cols = sa.tuple_(t.flow_run_id, t.key, t.attempt)
        query = sa.select(t.flow_run_id, t.key, t.attempt, t.state).where(cols.in_(apart))
        for run, key, attempt, state in conn.execute(query):
            actual[(run, key, attempt)] = State(state)
    # A row written twice in one batch is judged by its first write: the later ones expected
    # what the earlier ones wrote.
    first: dict[tuple[str, str, int | None], State | None] = {}
    for run, key, attempt, expected in checks:
        first.setdefault((run, key, attempt), expected)
    return [
        Conflict(run, key, attempt, expected, actual.get((run, key, attempt)))
        for (run, key, attempt), expected in first.items()
        if actual.get((run, key, attempt)) != expected
    ]


_FENCE = BulkStatement(
    sa.update(flow_runs)
    .where(
        flow_runs.c.id == sa.bindparam("w_id"),
        flow_runs.c.lease_epoch == sa.bindparam("w_epoch"),
    )
    .values(heartbeat_at=sa.bindparam("now"))
)


def write_batch(
    writer: Engine,
    batch: WriteBatch,
    now: datetime,
    direct: DirectWriter | None = None,
    *,
    mirror: bool = False,
) -> None:
    """Write one group commit in one write transaction; see ``Store.write``.

    With ``direct`` the transaction runs on its kept driver connection (the hot path);
    ``writer`` is then only used to explain a refused batch. With ``mirror`` the batch's
    MLflow items go to the outbox in the same transaction.
    """
    if not batch and not batch.fences:
        return
    # Validate and build every row before taking the write lock, to keep the lock short.
    rows = BatchRows.of(batch, now)
    fences = [{"w_id": run, "w_epoch": epoch, "now": now} for run, epoch in batch.fences.items()]
    metric_rows, artifact_rows, event_rows = batch_extras(batch, now)
    outbox_rows = outbox.batch_rows(batch, now) if mirror else []
    if direct is not None:
        try:
            with direct.begin() as tx:
                if _FENCE.execute_direct(tx, fences) != len(fences):
                    raise FenceFailed
                TASK_INSERT.execute_direct(tx, rows.task_new)
                if TASK_CAS.execute_direct(tx, rows.task_cas) != len(rows.task_cas):
                    raise Stale
                ATTEMPT_INSERT.execute_direct(tx, rows.attempt_new)
                if ATTEMPT_CAS.execute_direct(tx, rows.attempt_cas) != len(rows.attempt_cas):
                    raise Stale
                METRIC_INSERT.execute_direct(tx, metric_rows)
                ARTIFACT_INSERT.execute_direct(tx, artifact_rows)
                EVENT_INSERT.execute_direct(tx, event_rows)
                outbox.OUTBOX_INSERT.execute_direct(tx, outbox_rows)
            return
        except FenceFailed:
            with writer.connect() as conn:
                raise _lease_lost(conn, batch.fences) from None
        except Exception as exc:
            if not isinstance(exc, (Stale, direct.integrity_error)):
                raise
            cause = exc
        # Rolled back. Read what the store holds now, to name the rows another process changed.
        with writer.connect() as conn:
            conflicts = find_conflicts(conn, rows.checks)
            conn.rollback()
    else:
        with writer.connect() as conn:
            try:
                with conn.begin():
                    if _FENCE.execute(conn, fences) != len(fences):
                        raise _lease_lost(conn, batch.fences)
                    TASK_INSERT.execute(conn, rows.task_new)
                    if TASK_CAS.execute(conn, rows.task_cas) != len(rows.task_cas):
                        raise Stale
                    ATTEMPT_INSERT.execute(conn, rows.attempt_new)
                    if ATTEMPT_CAS.execute(conn, rows.attempt_cas) != len(rows.attempt_cas):
                        raise Stale
                    METRIC_INSERT.execute(conn, metric_rows)
                    ARTIFACT_INSERT.execute(conn, artifact_rows)
                    EVENT_INSERT.execute(conn, event_rows)
                    outbox.OUTBOX_INSERT.execute(conn, outbox_rows)
                return
            except (Stale, sa.exc.IntegrityError) as exc:
                cause = exc
            conflicts = find_conflicts(conn, rows.checks)
            conn.rollback()
    if not conflicts and not isinstance(cause, Stale):
        orig = getattr(cause, "orig", cause)
        raise StoreError(
            f"the database refused the batch ({orig}); does every run it writes to exist?"
        ) from cause
    raise stale_write_error(conflicts) from None


def _lease_lost(conn: Connection, fences: Mapping[str, int]) -> LeaseLostError:
    query = sa.select(flow_runs.c.id, flow_runs.c.lease_epoch).where(
        flow_runs.c.id.in_(list(fences))
    )
    held = dict(conn.execute(query).all())
    lost = [run for run, epoch in fences.items() if held.get(run) != epoch]
    text = ", ".join(
        f"{run} (this driver has lease epoch {fences[run]}, the store {held.get(run, 'no run')})"
        for run in lost
    )
    return LeaseLostError(
        f"another driver took over run {text}; nothing of the batch was written and this "
        "process must stop driving the run"
    )


__all__ = [
    "RESULT_COLUMNS",
    "TASK_REACHABLE",
    "Conflict",
    "WriteCheck",
    "cas_flow_run",
    "check_flow_transition",
    "check_task_write",
    "expected_flow_states",
    "find_conflicts",
    "reachable_states",
    "result_values",
    "stale_write_error",
    "task_write_allowed",
    "write_batch",
]
