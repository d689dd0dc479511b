"""A user steering a finished run: calls marked SUCCEEDED or cleared to run again, and the run
queued for a replay, all in one transaction.

Nobody drives a finished run, so these rows have no other writer while the change is made; the
compare-and-set on the run (and on each call's state) makes a concurrent resume, retry or a
second click lose cleanly instead of mixing with this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from pauta.core.errors import StoreError
from pauta.core.states import FLOW_TERMINAL, MARKABLE, FlowRunState, State, task_transition_allowed
from pauta.store import transitions
from pauta.store.base import StoreBase
from pauta.store.results import StoredResult
from pauta.store.tables import task_runs


@dataclass(frozen=True, slots=True)
class CallChange:
    """One call of the run: from ``expected`` to PENDING (run it again) or to SUCCEEDED (marked
    by ``marked_by``, with ``result``)."""

    key: str
    expected: State
    new: State
    result: StoredResult | None = None
    marked_by: str | None = None


class _Lost(Exception):
    """A row was not in the state the change expected: roll everything back."""


def _check(run_id: str, change: CallChange) -> None:
    if change.new == State.SUCCEEDED:
        allowed = change.expected in MARKABLE and change.marked_by is not None
    else:
        allowed = change.new == State.PENDING and task_transition_allowed(
            change.expected, State.PENDING
        )
    if not allowed:
        raise StoreError(
            f"task {change.key!r} of run {run_id} cannot be steered from {change.expected} to "
            f"{change.new}"
        )


class SteeringStore(StoreBase):
    """Marking and clearing the calls of a finished run."""

    def steer_calls(
        self,
        run_id: str,
        changes: Sequence[CallChange],
        *,
        expected: FlowRunState,
        now: datetime,
    ) -> bool:
        """Apply ``changes`` and queue the run (``expected`` → QUEUED) for a worker to replay.

        All or nothing: False (and nothing written) when the run or any call no longer holds
        the state expected. StoreError for a change the state tables do not allow.
        """
        states = (FlowRunState(expected),)
        if states[0] not in FLOW_TERMINAL:
            raise StoreError(f"run {run_id} is {expected}: only a finished run can be steered")
        transitions.check_flow_transition(run_id, states, FlowRunState.QUEUED)
        for change in changes:
            _check(run_id, change)
        reopened = {"ended_at": None, "error": None, "cancel_requested_at": None}
        try:
            with self._writer.begin() as conn:
                if not transitions.cas_flow_run(
                    conn, run_id, FlowRunState.QUEUED, states, epoch=None, values=reopened
                ):
                    raise _Lost
                for change in changes:
                    marked = change.new == State.SUCCEEDED
                    stmt = (
                        sa.update(task_runs)
                        .where(
                            task_runs.c.flow_run_id == run_id,
                            task_runs.c.key == change.key,
                            task_runs.c.state == str(change.expected),
                        )
                        .values(
                            state=str(change.new),
                            started_at=None,
                            ended_at=now if marked else None,
                            error=None,
                            marked_by=change.marked_by if marked else None,
                            marked_at=now if marked else None,
                            **transitions.result_values(change.result if marked else None),
                        )
                    )
                    if conn.execute(stmt).rowcount != 1:
                        raise _Lost
        except _Lost:
            return False
        return True
