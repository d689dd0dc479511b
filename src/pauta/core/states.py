"""The closed state enums of pauta, with their named sets right beside them.

Members are ``StrEnum`` values equal to their names, so ``State.FAILED == "FAILED"`` holds and
states read back from the database or JSON compare equal to the enum.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """The state of one task call (its latest attempt)."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    RETRYING = "RETRYING"
    WAITING = "WAITING"
    UPSTREAM_FAILED = "UPSTREAM_FAILED"
    CANCELLED = "CANCELLED"
    CACHED = "CACHED"
    # not run, by rule: latest_only outside the latest tick, or downstream of such a call
    SKIPPED = "SKIPPED"


class FlowRunState(StrEnum):
    """The state of one flow run."""

    SCHEDULED = "SCHEDULED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


# Task states -------------------------------------------------------------------------------
TASK_TERMINAL: frozenset[State] = frozenset(
    {
        State.SUCCEEDED,
        State.FAILED,
        State.UPSTREAM_FAILED,
        State.CANCELLED,
        State.CACHED,
        State.SKIPPED,
    }
)
"""A task call in one of these states will not change again unless the run is reopened."""

TASK_OK: frozenset[State] = frozenset({State.SUCCEEDED, State.CACHED})
"""Terminal states that carry a usable result."""

TASK_NOT_OK: frozenset[State] = TASK_TERMINAL - TASK_OK
"""Terminal states without a result: dependents of such a call cannot run."""

TASK_ACTIVE: frozenset[State] = frozenset(
    {State.PENDING, State.QUEUED, State.RUNNING, State.RETRYING, State.WAITING}
)
"""Not finished yet."""

FOLDED_ORDER: tuple[State, ...] = (
    State.FAILED,
    State.RUNNING,
    State.RETRYING,
    State.WAITING,
    State.QUEUED,
    State.PENDING,
    State.UPSTREAM_FAILED,
    State.CANCELLED,
    State.SUCCEEDED,
    State.CACHED,
    State.SKIPPED,
)
"""The state many calls folded together show (the calls of one ``.map``): the first of these
that any of them is in. A failure shows first; then work still going on, most advanced first;
then how the rest ended. All CACHED shows CACHED; CACHED among SUCCEEDED shows SUCCEEDED."""


def folded_state(counts: dict[str, int]) -> str:
    """The state shown for calls counted by state (``{"SUCCEEDED": 4990, "FAILED": 10}``);
    a state not in ``FOLDED_ORDER`` comes after those that are."""
    present = [state for state, count in counts.items() if count > 0]
    if not present:
        return str(State.PENDING)
    rank = {str(state): i for i, state in enumerate(FOLDED_ORDER)}
    return min(present, key=lambda state: (rank.get(state, len(rank)), state))


MARKABLE: frozenset[State] = frozenset(
    {State.FAILED, State.UPSTREAM_FAILED, State.CANCELLED, State.SKIPPED}
)
"""Task states a user may mark SUCCEEDED (``pauta runs mark-success``). Not a transition of
``TASK_TRANSITIONS``: the engine never moves a call into SUCCEEDED without running it, only a
user's explicit mark does (``pauta.store.steering``)."""

CLEARABLE: frozenset[State] = TASK_TERMINAL
"""Task states a user may clear (reset to PENDING, with their descendants, to run again)."""

# Flow run states ---------------------------------------------------------------------------
FLOW_TERMINAL: frozenset[FlowRunState] = frozenset(
    {FlowRunState.SUCCEEDED, FlowRunState.FAILED, FlowRunState.CANCELLED}
)
FLOW_ACTIVE: frozenset[FlowRunState] = frozenset(
    {FlowRunState.SCHEDULED, FlowRunState.QUEUED, FlowRunState.RUNNING}
)

# Allowed transitions: the one table both the engine and the store consult ----------------------
TASK_TRANSITIONS: dict[State, frozenset[State]] = {
    State.PENDING: frozenset(
        {
            State.QUEUED,
            State.UPSTREAM_FAILED,
            State.CANCELLED,
            State.CACHED,
            State.FAILED,
            State.SKIPPED,
        }
    ),
    State.QUEUED: frozenset({State.RUNNING, State.CANCELLED, State.FAILED, State.UPSTREAM_FAILED}),
    State.RUNNING: frozenset(
        {
            State.SUCCEEDED,
            State.FAILED,
            State.RETRYING,
            State.WAITING,
            State.CANCELLED,
            # an attempt cut off because its driver died is queued again on resume
            State.QUEUED,
        }
    ),
    State.RETRYING: frozenset({State.QUEUED, State.CANCELLED}),
    State.WAITING: frozenset(
        {State.QUEUED, State.SUCCEEDED, State.FAILED, State.CANCELLED, State.RETRYING}
    ),
    # reopening: the one allowed way out of a terminal state
    State.FAILED: frozenset({State.PENDING}),
    State.UPSTREAM_FAILED: frozenset({State.PENDING}),
    State.CANCELLED: frozenset({State.PENDING}),
    # a resume with --allow-changes re-runs calls from the first difference on
    State.SUCCEEDED: frozenset({State.PENDING}),
    State.CACHED: frozenset({State.PENDING}),
    State.SKIPPED: frozenset({State.PENDING}),
}

FLOW_TRANSITIONS: dict[FlowRunState, frozenset[FlowRunState]] = {
    FlowRunState.SCHEDULED: frozenset({FlowRunState.QUEUED, FlowRunState.CANCELLED}),
    FlowRunState.QUEUED: frozenset({FlowRunState.RUNNING, FlowRunState.CANCELLED}),
    FlowRunState.RUNNING: frozenset(
        {
            FlowRunState.SUCCEEDED,
            FlowRunState.FAILED,
            FlowRunState.CANCELLED,
            # the driver died: the run waits for a worker (or `runs resume`) to replay it
            FlowRunState.QUEUED,
        }
    ),
    # reopening a failed or cancelled run replays it
    FlowRunState.FAILED: frozenset({FlowRunState.QUEUED, FlowRunState.RUNNING}),
    FlowRunState.CANCELLED: frozenset({FlowRunState.QUEUED, FlowRunState.RUNNING}),
    # clearing a call of a succeeded run (or marking a skipped one) replays it
    FlowRunState.SUCCEEDED: frozenset({FlowRunState.QUEUED}),
}


def task_transition_allowed(old: State, new: State) -> bool:
    """Whether a task call may move from ``old`` to ``new``."""
    return new in TASK_TRANSITIONS[old]


def flow_transition_allowed(old: FlowRunState, new: FlowRunState) -> bool:
    """Whether a flow run may move from ``old`` to ``new``."""
    return new in FLOW_TRANSITIONS[old]
