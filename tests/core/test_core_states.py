"""The closed state enums, their named sets, and the transition tables beside them."""

from __future__ import annotations

from enum import StrEnum

import pytest

from pauta.core.states import (
    CLEARABLE,
    FLOW_ACTIVE,
    FLOW_TERMINAL,
    FLOW_TRANSITIONS,
    FOLDED_ORDER,
    MARKABLE,
    TASK_ACTIVE,
    TASK_NOT_OK,
    TASK_OK,
    TASK_TERMINAL,
    TASK_TRANSITIONS,
    FlowRunState,
    State,
    flow_transition_allowed,
    folded_state,
    task_transition_allowed,
)

S = State
F = FlowRunState


def test_task_terminal_and_active_partition_every_task_state() -> None:
    assert set(State) == TASK_TERMINAL | TASK_ACTIVE
    assert not TASK_TERMINAL & TASK_ACTIVE


def test_task_ok_and_not_ok_partition_the_terminal_states() -> None:
    assert {S.SUCCEEDED, S.CACHED} == TASK_OK
    assert {S.FAILED, S.UPSTREAM_FAILED, S.CANCELLED, S.SKIPPED} == TASK_NOT_OK
    assert TASK_OK | TASK_NOT_OK == TASK_TERMINAL
    assert not TASK_OK & TASK_NOT_OK


def test_task_sets_hold_the_documented_states() -> None:
    assert {
        S.SUCCEEDED,
        S.FAILED,
        S.UPSTREAM_FAILED,
        S.CANCELLED,
        S.CACHED,
        S.SKIPPED,
    } == TASK_TERMINAL
    assert {S.PENDING, S.QUEUED, S.RUNNING, S.RETRYING, S.WAITING} == TASK_ACTIVE


def test_flow_terminal_and_active_partition_every_flow_state() -> None:
    assert {F.SUCCEEDED, F.FAILED, F.CANCELLED} == FLOW_TERMINAL
    assert {F.SCHEDULED, F.QUEUED, F.RUNNING} == FLOW_ACTIVE
    assert set(FlowRunState) == FLOW_TERMINAL | FLOW_ACTIVE
    assert not FLOW_TERMINAL & FLOW_ACTIVE


@pytest.mark.parametrize("member", [*State, *FlowRunState], ids=lambda m: f"{type(m).__name__}.{m}")
def test_members_equal_their_names(member: StrEnum) -> None:
    # states read back from the database or JSON are plain strings
    assert member == member.name
    assert str(member) == member.name
    assert type(member)(member.name) is member


def test_every_state_has_a_transition_entry() -> None:
    assert set(TASK_TRANSITIONS) == set(State)
    assert set(FLOW_TRANSITIONS) == set(FlowRunState)
    for targets in TASK_TRANSITIONS.values():
        assert targets <= set(State)
    for flow_targets in FLOW_TRANSITIONS.values():
        assert flow_targets <= set(FlowRunState)


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        # the happy path
        (S.PENDING, S.QUEUED, True),
        (S.QUEUED, S.RUNNING, True),
        (S.RUNNING, S.SUCCEEDED, True),
        (S.RUNNING, S.FAILED, True),
        (S.PENDING, S.CACHED, True),
        (S.PENDING, S.UPSTREAM_FAILED, True),
        # retries and sensors
        (S.RUNNING, S.RETRYING, True),
        (S.RETRYING, S.QUEUED, True),
        (S.RUNNING, S.WAITING, True),
        (S.WAITING, S.QUEUED, True),
        # an attempt cut off by a dead driver is queued again on resume
        (S.RUNNING, S.QUEUED, True),
        # reopening: the one way out of a terminal state
        (S.FAILED, S.PENDING, True),
        (S.UPSTREAM_FAILED, S.PENDING, True),
        (S.CANCELLED, S.PENDING, True),
        # a resume with --allow-changes re-runs calls from the first difference on
        (S.SUCCEEDED, S.PENDING, True),
        (S.CACHED, S.PENDING, True),
        # refused
        (S.SUCCEEDED, S.RUNNING, False),
        (S.SUCCEEDED, S.QUEUED, False),
        (S.SUCCEEDED, S.FAILED, False),
        (S.FAILED, S.RUNNING, False),
        (S.FAILED, S.SUCCEEDED, False),
        (S.CANCELLED, S.SUCCEEDED, False),
        (S.PENDING, S.RUNNING, False),
        (S.PENDING, S.SUCCEEDED, False),
        (S.QUEUED, S.SUCCEEDED, False),
        (S.RETRYING, S.RUNNING, False),
        (S.RUNNING, S.PENDING, False),
        (S.RUNNING, S.RUNNING, False),
        (S.PENDING, S.PENDING, False),
    ],
    ids=lambda v: str(v),
)
def test_task_transitions(old: State, new: State, allowed: bool) -> None:
    assert task_transition_allowed(old, new) is allowed


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        (F.SCHEDULED, F.QUEUED, True),
        (F.SCHEDULED, F.CANCELLED, True),
        (F.QUEUED, F.RUNNING, True),
        (F.RUNNING, F.SUCCEEDED, True),
        (F.RUNNING, F.FAILED, True),
        (F.RUNNING, F.CANCELLED, True),
        # the driver died: the run waits to be replayed
        (F.RUNNING, F.QUEUED, True),
        # reopening a failed or cancelled run replays it
        (F.FAILED, F.QUEUED, True),
        (F.FAILED, F.RUNNING, True),
        (F.CANCELLED, F.QUEUED, True),
        (F.CANCELLED, F.RUNNING, True),
        # clearing a call of a succeeded run queues it for a replay
        (F.SUCCEEDED, F.QUEUED, True),
        # refused
        (F.SUCCEEDED, F.RUNNING, False),
        (F.SUCCEEDED, F.FAILED, False),
        (F.SCHEDULED, F.RUNNING, False),
        (F.SCHEDULED, F.SUCCEEDED, False),
        (F.QUEUED, F.SUCCEEDED, False),
        (F.FAILED, F.SUCCEEDED, False),
        (F.RUNNING, F.SCHEDULED, False),
        (F.RUNNING, F.RUNNING, False),
    ],
    ids=lambda v: str(v),
)
def test_flow_transitions(old: FlowRunState, new: FlowRunState, allowed: bool) -> None:
    assert flow_transition_allowed(old, new) is allowed


def test_a_succeeded_flow_run_only_reopens_to_the_queue() -> None:
    # only a user's clear (or mark success) takes it there; nothing drives it directly
    assert FLOW_TRANSITIONS[F.SUCCEEDED] == frozenset({F.QUEUED})


def test_marked_and_cleared_states() -> None:
    assert {S.FAILED, S.UPSTREAM_FAILED, S.CANCELLED, S.SKIPPED} == MARKABLE
    assert not MARKABLE & TASK_OK
    assert CLEARABLE == TASK_TERMINAL
    # a mark is not a transition the engine may write
    assert all(not task_transition_allowed(state, S.SUCCEEDED) for state in MARKABLE)


@pytest.mark.parametrize("state", sorted(TASK_TERMINAL), ids=str)
def test_a_terminal_task_state_only_leaves_by_reopening(state: State) -> None:
    assert TASK_TRANSITIONS[state] == {S.PENDING}


def test_the_folded_order_ranks_every_task_state_once() -> None:
    assert sorted(FOLDED_ORDER) == sorted(State)


@pytest.mark.parametrize(
    ("counts", "shown"),
    [
        ({"SUCCEEDED": 4990, "FAILED": 10, "RUNNING": 3}, "FAILED"),
        ({"SUCCEEDED": 10, "RUNNING": 1, "QUEUED": 40}, "RUNNING"),
        ({"QUEUED": 3, "PENDING": 40}, "QUEUED"),
        ({"SUCCEEDED": 3, "UPSTREAM_FAILED": 1}, "UPSTREAM_FAILED"),
        ({"SUCCEEDED": 3, "CACHED": 2}, "SUCCEEDED"),
        ({"CACHED": 2}, "CACHED"),
        ({"SUCCEEDED": 0, "CACHED": 2}, "CACHED"),
        ({"SKIPPED": 2, "SUCCEEDED": 1}, "SUCCEEDED"),
        ({"SKIPPED": 2}, "SKIPPED"),
        ({}, "PENDING"),
    ],
)
def test_calls_folded_together_show_one_state(counts: dict[str, int], shown: str) -> None:
    assert folded_state(counts) == shown
