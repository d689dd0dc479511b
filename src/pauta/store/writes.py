"""What a write may do, and the rows a group commit becomes: the rules of the store, no SQL.

Flow runs move one step of ``FLOW_TRANSITIONS`` at a time. Task writes are group-committed, so
one write may coalesce several steps (QUEUED → RUNNING → SUCCEEDED between two commits): a task
write is allowed when the new state is *reachable* from the expected one through
``TASK_TRANSITIONS``. ``pauta.store.transitions`` writes them with SQLAlchemy; the light store of
``pauta run`` (``pauta.store.lite``) with Python's sqlite3; both build their rows here.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from pauta.core.errors import StaleWriteError, StoreError
from pauta.core.states import (
    FLOW_TERMINAL,
    FLOW_TRANSITIONS,
    TASK_TERMINAL,
    TASK_TRANSITIONS,
    FlowRunState,
    State,
)
from pauta.store.records import AttemptRecord, TaskRunRecord, WriteBatch
from pauta.store.results import StoredResult

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


class Conflict(NamedTuple):
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
        "marked_by": rec.marked_by,
        "marked_at": rec.marked_at,
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


@dataclass(slots=True)
class BatchRows:
    """A batch as parameter lists, one per statement, plus what each write expected."""

    task_new: list[dict[str, Any]] = field(default_factory=list)
    task_cas: list[dict[str, Any]] = field(default_factory=list)
    attempt_new: list[dict[str, Any]] = field(default_factory=list)
    attempt_cas: list[dict[str, Any]] = field(default_factory=list)
    checks: list[WriteCheck] = field(default_factory=list)

    @classmethod
    def of(cls, batch: WriteBatch, now: datetime) -> BatchRows:
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


class Stale(Exception):
    """A compare-and-set changed fewer rows than it had writes."""


class FenceFailed(Exception):
    """A fenced run no longer holds the lease epoch the batch was written with."""


def batch_extras(
    batch: WriteBatch, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The metric, artifact and asset-event rows of a group commit."""
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
    return metric_rows, artifact_rows, event_rows


def flow_transition_values(
    new: FlowRunState,
    *,
    epoch: int | None,
    now: datetime,
    started_at: datetime | None,
    ended_at: datetime | None,
    result: StoredResult | None,
    error: dict[str, Any] | None,
) -> tuple[dict[str, Any], bool]:
    """The columns a flow run's move to ``new`` sets, and whether ``started_at`` is to become
    ``now`` unless the run has one (its first RUNNING). A fenced write also refreshes
    ``heartbeat_at``; ``ended_at`` defaults to ``now`` in a terminal state and is cleared in an
    active one; ``error`` is cleared in an active state unless given; ``result`` is written
    when given."""
    values: dict[str, Any] = {}
    if epoch is not None:
        values["heartbeat_at"] = now
    if started_at is not None:
        values["started_at"] = started_at
    if new in FLOW_TERMINAL:
        values["ended_at"] = ended_at or now
    else:
        values.update(ended_at=None, error=None, cancel_requested_at=None)
    if error is not None:
        values["error"] = error
    if result is not None:
        values.update(result_values(result))
    return values, started_at is None and new == FlowRunState.RUNNING
