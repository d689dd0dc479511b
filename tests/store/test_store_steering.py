"""Marking and clearing calls of a finished run: one transaction, compare-and-set on the run
and on every call, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pauta.core.errors import StoreError
from pauta.core.states import FlowRunState, State
from pauta.store.records import FlowRunRecord, TaskRunRecord, TaskWrite, WriteBatch
from pauta.store.repository import Store
from pauta.store.results import StoredResult
from pauta.store.steering import CallChange

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 2, tzinfo=UTC)


def _failed_run(store: Store, run_id: str) -> None:
    store.create_flow_run(
        FlowRunRecord(
            id=run_id, flow="f", state=FlowRunState.FAILED, params={}, logical_date=T0,
            interval_start=T0, interval_end=T0, trigger="manual", created_at=T0,
        )
    )  # fmt: skip
    rows = [
        TaskRunRecord(run_id, "a-0", "a", State.SUCCEEDED, attempts=1, created_at=T0),
        TaskRunRecord(run_id, "b-0", "b", State.FAILED, attempts=1, upstream=["a-0"],
                      error={"type": "RuntimeError"}, created_at=T0),
        TaskRunRecord(run_id, "c-0", "c", State.UPSTREAM_FAILED, upstream=["b-0"], created_at=T0),
    ]  # fmt: skip
    store.write(WriteBatch(tasks=[TaskWrite(r, None) for r in rows]), T0)


def test_mark_and_reset_in_one_transaction(store: Store) -> None:
    _failed_run(store, "r1")
    result = StoredResult(None, b"\x80\x05N.", 4, "pickle", "None")
    changes = [
        CallChange("b-0", State.FAILED, State.SUCCEEDED, result=result, marked_by="ana"),
        CallChange("c-0", State.UPSTREAM_FAILED, State.PENDING),
    ]
    assert store.steer_calls("r1", changes, expected=FlowRunState.FAILED, now=T1)
    assert store.get_flow_run("r1").state == FlowRunState.QUEUED
    tasks = store.task_runs_by_key("r1")
    assert tasks["b-0"].state == State.SUCCEEDED
    assert (tasks["b-0"].marked_by, tasks["b-0"].marked_at) == ("ana", T1)
    assert tasks["b-0"].error is None
    assert tasks["b-0"].result is not None
    assert tasks["b-0"].result.preview == "None"
    assert tasks["b-0"].attempts == 1
    assert tasks["c-0"].state == State.PENDING


def test_a_lost_compare_and_set_writes_nothing(store: Store) -> None:
    _failed_run(store, "r2")
    # c is UPSTREAM_FAILED, not FAILED: the whole change is refused, the run stays FAILED
    changes = [
        CallChange("b-0", State.FAILED, State.PENDING),
        CallChange("c-0", State.FAILED, State.PENDING),
    ]
    assert not store.steer_calls("r2", changes, expected=FlowRunState.FAILED, now=T1)
    assert store.get_flow_run("r2").state == FlowRunState.FAILED
    assert store.task_runs_by_key("r2")["b-0"].state == State.FAILED
    # and a run no longer in the expected state
    assert not store.steer_calls("r2", changes[:1], expected=FlowRunState.CANCELLED, now=T1)


def test_only_allowed_steps(store: Store) -> None:
    _failed_run(store, "r3")
    with pytest.raises(StoreError, match="cannot be steered from SUCCEEDED to SUCCEEDED"):
        store.steer_calls(
            "r3",
            [CallChange("a-0", State.SUCCEEDED, State.SUCCEEDED, marked_by="ana")],
            expected=FlowRunState.FAILED,
            now=T1,
        )
    with pytest.raises(StoreError, match="cannot be steered"):
        # a mark names who made it
        store.steer_calls(
            "r3",
            [CallChange("b-0", State.FAILED, State.SUCCEEDED)],
            expected=FlowRunState.FAILED,
            now=T1,
        )
    with pytest.raises(StoreError, match="run r3 is RUNNING: only a finished run"):
        store.steer_calls("r3", [], expected=FlowRunState.RUNNING, now=T1)
