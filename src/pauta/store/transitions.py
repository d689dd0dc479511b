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

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pauta.core.errors import LeaseLostError, StaleWriteError, StoreError
from pauta.core.states import (
    FLOW_TRANSITIONS,
    TASK_TERMINAL,
    TASK_TRANSITIONS,
    FlowRunState,
    State,
)
from pauta.store.db import BulkStatement, DirectWriter
from pauta.store.records import AttemptRecord, TaskRunRecord, WriteBatch
from pauta.store.results import StoredResult
from pauta.store.tables import (
    artifacts,
    events,
    flow_runs,
    metrics,
    task_attempts,
    task_runs,
)

S = TypeVar("S", bound=Hashable)


def reachable_states(
    table: Mapping[S, frozenset[S]], *, stops: frozenset[S] = frozenset()
) -> dict[S, frozenset[S]]:
    """For each state of a transition table, every state reachable in one or more steps.

    A path may end in a state of ``stops`` but never pass through one.
    """
    reach: dict[S, frozenset[S]] = {}
    for start in table:
        seen: set[S] = set()
        todo = list(table[start])
        while todo:
            state = todo.pop()
            if state not in seen:
                seen.add(state)
                if state not in stops:
                    todo.extend(table[state])
        reach[start] = frozenset(seen)
    return reach


TASK_REACHABLE: dict[State, frozenset[State]] = reachable_states(
    TASK_TRANSITIONS, stops=TASK_TERMINAL
)
"""States a task write may move to from each expected state (one or more steps).

Terminal states may only start or end a coalesced write: a call that ended must be written in
that end state before it is reopened, so ``RUNNING → PENDING`` (through a success nobody
recorded) is refused.
"""


def task_write_allowed(expected: State, new: State) -> bool:
    """Whether a task row holding ``expected`` may be written with state ``new``."""
    return new in TASK_REACHABLE[expected]


def check_task_write(run_id: str, key: str, expected: State | None, new: State) -> None:
    """Raise StoreError when no path of ``TASK_TRANSITIONS`` leads from ``expected`` to ``new``.

    ``expected`` None means the row is new: any state may be inserted.
    """
    if expected is not None and not task_write_allowed(expected, new):
        raise StoreError(
            f"task {key!r} of run {run_id} cannot move from {expected} to {new}: no sequence of "
            "allowed transitions leads there (see TASK_TRANSITIONS in pauta.core.states)"
        )


def expected_flow_states(
    expected: FlowRunState | str | Iterable[FlowRunState | str],
) -> tuple[FlowRunState, ...]:
    """One state or several, as a tuple of ``FlowRunState``."""
    if isinstance(expected, str):
        return (FlowRunState(expected),)
    states = tuple(FlowRunState(state) for state in expected)
    if not states:
        raise StoreError("a flow run transition needs at least one expected state")
    return states


def check_flow_transition(run_id: str, expected: Sequence[FlowRunState], new: FlowRunState) -> None:
    """Raise StoreError unless ``FLOW_TRANSITIONS`` allows ``new`` from every expected state.

    Every expected state must allow it, or the compare-and-set could perform a forbidden move.
    """
    forbidden = [state for state in expected if new not in FLOW_TRANSITIONS[state]]
    if forbidden:
        names = ", ".join(str(s) for s in forbidden)
        raise StoreError(
            f"flow run {run_id} cannot move from {names} to {new}: the transition is not "
            "allowed (see FLOW_TRANSITIONS in pauta.core.states)"
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


@dataclass(frozen=True, slots=True)
class Conflict:
    """A row a compare-and-set write did not find in the state it expected."""

    run_id: str
    key: str
    attempt: int | None
    expected: State | None
    actual: State | None

    def describe(self) -> str:
        what = f"task {self.key!r}"
        if self.attempt is not None:
            what += f" attempt {self.attempt}"
        want = "no row (a new call)" if self.expected is None else str(self.expected)
        have = "no row" if self.actual is None else str(self.actual)
        return f"{what} of run {self.run_id}: expected {want}, the store holds {have}"


# (run id, key, attempt or None, expected state or None)
WriteCheck = tuple[str, str, int | None, State | None]


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


def stale_write_error(conflicts: Sequence[Conflict], shown: int = 5) -> StaleWriteError:
    """A StaleWriteError naming the conflicting rows; ``.conflicts`` holds them all."""
    if conflicts:
        text = "; ".join(c.describe() for c in conflicts[:shown])
        if len(conflicts) > shown:
            text += f"; and {len(conflicts) - shown} more"
    else:
        text = "a row changed while the batch was written, and changed back before it was read"
    err = StaleWriteError(
        f"stale write refused, nothing of the batch was written: {text}. Another process "
        "changed these task runs; reload them before writing again."
    )
    err.conflicts = list(conflicts)  # type: ignore[attr-defined]
    return err


# Group commits -------------------------------------------------------------------------------


RESULT_COLUMNS = (
    "result_uri",
    "result_inline",
    "result_size",
    "result_serializer",
    "result_preview",
)


def result_values(result: StoredResult | None) -> dict[str, Any]:
    """The result columns of a row (all None without a result)."""
    if result is None:
        return dict.fromkeys(RESULT_COLUMNS)
    return {
        "result_uri": result.uri,
        "result_inline": result.inline,
        "result_size": result.size,
        "result_serializer": result.serializer,
        "result_preview": result.preview,
    }


def _task_row(rec: TaskRunRecord, now: datetime) -> dict[str, Any]:
    return {
        "flow_run_id": rec.flow_run_id,
        "key": rec.key,
        "name": rec.name,
        "state": str(rec.state),
        "attempts": rec.attempts,
        "map_index": rec.map_index,
        "fingerprint": rec.fingerprint,
        "upstream": rec.upstream,
        "priority": rec.priority,
        "resources": rec.resources,
        "kind": rec.kind,
        "child_run_id": rec.child_run_id,
        "created_at": rec.created_at or now,
        "started_at": rec.started_at,
        "ended_at": rec.ended_at,
        **result_values(rec.result),
        "error": rec.error,
        "cache_key": rec.cache_key,
        "cached_from": rec.cached_from,
        "label": rec.label,
        "task_group": rec.group,
        "teardown": rec.teardown,
    }


def _attempt_row(rec: AttemptRecord) -> dict[str, Any]:
    return {
        "flow_run_id": rec.flow_run_id,
        "key": rec.key,
        "attempt": rec.attempt,
        "state": str(rec.state),
        "queued_at": rec.queued_at,
        "started_at": rec.started_at,
        "ended_at": rec.ended_at,
        "error": rec.error,
        "worker": rec.worker,
        "log_path": rec.log_path,
        "node": rec.node,
        "executor": rec.executor,
    }


_FENCE = BulkStatement(
    sa.update(flow_runs)
    .where(
        flow_runs.c.id == sa.bindparam("w_id"),
        flow_runs.c.lease_epoch == sa.bindparam("w_epoch"),
    )
    .values(heartbeat_at=sa.bindparam("now"))
)


@dataclass(slots=True)
class _Rows:
    """A batch as parameter lists, one per statement, plus what each write expected."""

    task_new: list[dict[str, Any]] = field(default_factory=list)
    task_cas: list[dict[str, Any]] = field(default_factory=list)
    attempt_new: list[dict[str, Any]] = field(default_factory=list)
    attempt_cas: list[dict[str, Any]] = field(default_factory=list)
    checks: list[WriteCheck] = field(default_factory=list)

    @classmethod
    def of(cls, batch: WriteBatch, now: datetime) -> _Rows:
        rows = cls()
        for tw in batch.tasks:
            rec = tw.record
            check_task_write(rec.flow_run_id, rec.key, tw.expected, rec.state)
            row = _task_row(rec, now)
            rows.checks.append((rec.flow_run_id, rec.key, None, tw.expected))
            if tw.expected is None:
                rows.task_new.append(row)
            else:
                del row["created_at"]
                row.update(
                    w_flow_run_id=rec.flow_run_id, w_key=rec.key, w_expected=str(tw.expected)
                )
                rows.task_cas.append(row)
            att = tw.attempt
            if att is None:
                continue
            check_task_write(att.flow_run_id, att.key, tw.attempt_expected, att.state)
            arow = _attempt_row(att)
            rows.checks.append((att.flow_run_id, att.key, att.attempt, tw.attempt_expected))
            if tw.attempt_expected is None:
                rows.attempt_new.append(arow)
            else:
                arow.update(
                    w_flow_run_id=att.flow_run_id,
                    w_key=att.key,
                    w_attempt=att.attempt,
                    w_expected=str(tw.attempt_expected),
                )
                rows.attempt_cas.append(arow)
        return rows


class _Stale(Exception):
    """A compare-and-set changed fewer rows than it had writes."""


class _FenceFailed(Exception):
    """A fenced run no longer holds the lease epoch the batch was written with."""


def write_batch(
    writer: Engine, batch: WriteBatch, now: datetime, direct: DirectWriter | None = None
) -> None:
    """Write one group commit in one write transaction; see ``Store.write``.

    With ``direct`` the transaction runs on its kept driver connection (the hot path);
    ``writer`` is then only used to explain a refused batch.
    """
    if not batch and not batch.fences:
        return
    # Validate and build every row before taking the write lock, to keep the lock short.
    rows = _Rows.of(batch, now)
    fences = [{"w_id": run, "w_epoch": epoch, "now": now} for run, epoch in batch.fences.items()]
    metric_rows = [
        {
            "flow_run_id": m.flow_run_id,
            "key": m.key,
            "attempt": m.attempt,
            "name": m.name,
            "value": m.value,
            "step": m.step,
            "logged_at": m.logged_at,
        }
        for m in batch.metrics
    ]
    artifact_rows = [
        {
            "flow_run_id": a.flow_run_id,
            "key": a.key,
            "attempt": a.attempt,
            "name": a.name,
            "uri": a.stored.uri,
            "size": a.stored.size,
            "serializer": a.stored.serializer,
            "preview": a.stored.preview,
            "logged_at": a.logged_at,
        }
        for a in batch.artifacts
    ]
    event_rows = [
        {
            "kind": "asset",
            "name": asset,
            "flow_run_id": tw.record.flow_run_id,
            "task_key": tw.record.key,
            "state": str(tw.record.state),
            "created_at": now,
        }
        for tw in batch.tasks
        for asset in tw.assets
    ]
    if direct is not None:
        try:
            with direct.begin() as tx:
                if _FENCE.execute_direct(tx, fences) != len(fences):
                    raise _FenceFailed
                TASK_INSERT.execute_direct(tx, rows.task_new)
                if TASK_CAS.execute_direct(tx, rows.task_cas) != len(rows.task_cas):
                    raise _Stale
                ATTEMPT_INSERT.execute_direct(tx, rows.attempt_new)
                if ATTEMPT_CAS.execute_direct(tx, rows.attempt_cas) != len(rows.attempt_cas):
                    raise _Stale
                METRIC_INSERT.execute_direct(tx, metric_rows)
                ARTIFACT_INSERT.execute_direct(tx, artifact_rows)
                EVENT_INSERT.execute_direct(tx, event_rows)
            return
        except _FenceFailed:
            with writer.connect() as conn:
                raise _lease_lost(conn, batch.fences) from None
        except Exception as exc:
            if not isinstance(exc, (_Stale, direct.integrity_error)):
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
                        raise _Stale
                    ATTEMPT_INSERT.execute(conn, rows.attempt_new)
                    if ATTEMPT_CAS.execute(conn, rows.attempt_cas) != len(rows.attempt_cas):
                        raise _Stale
                    METRIC_INSERT.execute(conn, metric_rows)
                    ARTIFACT_INSERT.execute(conn, artifact_rows)
                    EVENT_INSERT.execute(conn, event_rows)
                return
            except (_Stale, sa.exc.IntegrityError) as exc:
                cause = exc
            conflicts = find_conflicts(conn, rows.checks)
            conn.rollback()
    if not conflicts and not isinstance(cause, _Stale):
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
