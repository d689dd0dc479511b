"""The transition chokepoint: which moves are allowed, checked pair by pair, and enforced."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from pauta.core.errors import StoreError
from pauta.core.states import TASK_TERMINAL, TASK_TRANSITIONS, FlowRunState, State
from pauta.store import transitions
from pauta.store.records import FlowRunRecord, TaskRunRecord, TaskWrite, WriteBatch
from pauta.store.repository import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
F = FlowRunState

# DESIGN.md §2: SCHEDULED → QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED, a run whose
# driver died goes back to QUEUED, and a finished run may be reopened (retry, clear, mark).
FLOW_ALLOWED = {
    (F.SCHEDULED, F.QUEUED),
    (F.SCHEDULED, F.CANCELLED),
    (F.QUEUED, F.RUNNING),
    (F.QUEUED, F.CANCELLED),
    (F.RUNNING, F.SUCCEEDED),
    (F.RUNNING, F.FAILED),
    (F.RUNNING, F.CANCELLED),
    (F.RUNNING, F.QUEUED),
    (F.FAILED, F.QUEUED),
    (F.FAILED, F.RUNNING),
    (F.CANCELLED, F.QUEUED),
    (F.CANCELLED, F.RUNNING),
    # clearing a call of a succeeded run (or marking a skipped one) queues it for a replay
    (F.SUCCEEDED, F.QUEUED),
}
FLOW_PAIRS = list(itertools.product(FlowRunState, FlowRunState))
TASK_PAIRS = list(itertools.product(State, State))


def _paths(table: dict[State, frozenset[State]]) -> set[tuple[State, State]]:
    """Pairs joined by a path of one or more steps that passes through no terminal state
    (Warshall's algorithm, independent of the breadth-first search under test)."""
    pairs = {(a, b) for a, targets in table.items() for b in targets}
    for k in (state for state in table if state not in TASK_TERMINAL):
        pairs |= {(a, b) for (a, x) in pairs if x == k for (y, b) in pairs if y == k}
    return pairs


TASK_ALLOWED = _paths(TASK_TRANSITIONS)


@pytest.mark.parametrize(("old", "new"), FLOW_PAIRS)
def test_flow_transition_table(old: FlowRunState, new: FlowRunState) -> None:
    allowed = (old, new) in FLOW_ALLOWED
    if allowed:
        transitions.check_flow_transition("r1", [old], new)
    else:
        with pytest.raises(StoreError, match=f"r1 cannot move from {old} to {new}"):
            transitions.check_flow_transition("r1", [old], new)


@pytest.mark.parametrize(("old", "new"), TASK_PAIRS)
def test_task_write_table(old: State, new: State) -> None:
    allowed = (old, new) in TASK_ALLOWED
    assert transitions.task_write_allowed(old, new) is allowed
    if allowed:
        transitions.check_task_write("r1", "t#1", old, new)
    else:
        with pytest.raises(StoreError, match=f"'t#1' of run r1 cannot move from {old} to {new}"):
            transitions.check_task_write("r1", "t#1", old, new)


def test_new_rows_may_start_in_any_state() -> None:
    for state in State:
        transitions.check_task_write("r1", "t#1", None, state)


def test_reachability_follows_chains_but_not_backwards() -> None:
    table = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset(), "d": frozenset({"d"})}
    assert transitions.reachable_states(table) == {
        "a": frozenset({"b", "c"}),
        "b": frozenset({"c"}),
        "c": frozenset(),
        "d": frozenset({"d"}),
    }


def test_coalesced_steps_of_a_normal_run_are_allowed() -> None:
    assert transitions.task_write_allowed(State.PENDING, State.SUCCEEDED)
    assert transitions.task_write_allowed(State.QUEUED, State.SUCCEEDED)
    assert transitions.task_write_allowed(State.RUNNING, State.QUEUED)  # retried
    assert transitions.task_write_allowed(State.FAILED, State.QUEUED)  # reopened
    assert transitions.task_write_allowed(State.FAILED, State.SUCCEEDED)  # reopened, then ran


def test_a_write_never_passes_through_an_unrecorded_end_state() -> None:
    # RUNNING → SUCCEEDED → PENDING would hide a success nobody recorded
    assert not transitions.task_write_allowed(State.RUNNING, State.PENDING)
    assert not transitions.task_write_allowed(State.QUEUED, State.PENDING)


def test_every_expected_state_must_allow_the_move() -> None:
    transitions.check_flow_transition("r1", [F.SCHEDULED, F.QUEUED, F.RUNNING], F.CANCELLED)
    with pytest.raises(StoreError, match="from SCHEDULED to RUNNING"):
        transitions.check_flow_transition("r1", [F.SCHEDULED, F.QUEUED], F.RUNNING)
    assert transitions.expected_flow_states("QUEUED") == (F.QUEUED,)
    with pytest.raises(StoreError, match="at least one"):
        transitions.expected_flow_states([])


def _run(run_id: str, state: FlowRunState) -> FlowRunRecord:
    return FlowRunRecord(
        id=run_id,
        flow="f",
        state=state,
        params={},
        logical_date=T0,
        interval_start=T0,
        interval_end=T0,
        trigger="manual",
        created_at=T0,
    )


def test_the_store_enforces_the_flow_table(store: Store) -> None:
    for i, (old, new) in enumerate(FLOW_PAIRS):
        run_id = f"pair{i:012d}"
        store.create_flow_run(_run(run_id, old))
        if (old, new) in FLOW_ALLOWED:
            assert store.transition_flow_run(run_id, new, expected=old, now=T0)
            assert store.get_flow_run(run_id).state == new
        else:
            with pytest.raises(StoreError, match=f"from {old} to {new}"):
                store.transition_flow_run(run_id, new, expected=old, now=T0)
            assert store.get_flow_run(run_id).state == old


def test_the_store_enforces_the_task_table(store: Store) -> None:
    store.create_flow_run(_run("pairs00000000000", FlowRunState.RUNNING))
    rows = {
        (old, new): TaskRunRecord("pairs00000000000", f"t#{old}-{new}", "t", old)
        for old, new in TASK_PAIRS
    }
    store.write(WriteBatch(tasks=[TaskWrite(rec, None) for rec in rows.values()]), T0)
    for (old, new), rec in rows.items():
        moved = TaskRunRecord(rec.flow_run_id, rec.key, rec.name, new)
        if (old, new) in TASK_ALLOWED:
            store.write(WriteBatch(tasks=[TaskWrite(moved, old)]), T0)
        else:
            with pytest.raises(StoreError, match=f"from {old} to {new}"):
                store.write(WriteBatch(tasks=[TaskWrite(moved, old)]), T0)
    states = {rec.key: rec.state for rec in store.list_task_runs("pairs00000000000")}
    for (old, new), rec in rows.items():
        assert states[rec.key] == (new if (old, new) in TASK_ALLOWED else old)
