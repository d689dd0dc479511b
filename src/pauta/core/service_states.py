"""The states of a service's revisions and replicas, with their named sets beside them.

A revision is one deployed version of a service (its app or command, config and replicas).
Its state says where it is in its life: recorded by ``services.deploy`` (PENDING), being
started by the supervisor (STARTING), receiving the service's traffic (SERVING), then replaced
(RETIRED), stopped with the service (STOPPED), never ready and rolled back (FAILED), or replaced
by a newer revision before it started (SUPERSEDED). A replica's state is the supervisor's view
of one of its processes; it is reported, never stored as a transition.
"""

from __future__ import annotations

from enum import StrEnum


class RevisionState(StrEnum):
    """The state of one revision of a service."""

    PENDING = "PENDING"
    STARTING = "STARTING"
    SERVING = "SERVING"
    RETIRED = "RETIRED"
    STOPPED = "STOPPED"
    FAILED = "FAILED"
    SUPERSEDED = "SUPERSEDED"


REVISION_ACTIVE: frozenset[RevisionState] = frozenset(
    {RevisionState.PENDING, RevisionState.STARTING, RevisionState.SERVING}
)
"""The supervisor still has work to do for a revision in one of these states."""

REVISION_TERMINAL: frozenset[RevisionState] = frozenset(
    {
        RevisionState.RETIRED,
        RevisionState.STOPPED,
        RevisionState.FAILED,
        RevisionState.SUPERSEDED,
    }
)
"""A revision in one of these states never changes again."""

REVISION_TRANSITIONS: dict[RevisionState, frozenset[RevisionState]] = {
    RevisionState.PENDING: frozenset({RevisionState.STARTING, RevisionState.SUPERSEDED}),
    RevisionState.STARTING: frozenset(
        # superseded: the service was stopped while the revision started
        {RevisionState.SERVING, RevisionState.FAILED, RevisionState.SUPERSEDED}
    ),
    RevisionState.SERVING: frozenset({RevisionState.RETIRED, RevisionState.STOPPED}),
    RevisionState.RETIRED: frozenset(),
    RevisionState.STOPPED: frozenset(),
    RevisionState.FAILED: frozenset(),
    RevisionState.SUPERSEDED: frozenset(),
}


def revision_transition_allowed(old: RevisionState, new: RevisionState) -> bool:
    """Whether a revision may move from ``old`` to ``new``."""
    return new in REVISION_TRANSITIONS[old]


class ReplicaState(StrEnum):
    """What the supervisor sees of one replica process."""

    STARTING = "STARTING"
    """Started; its health check has not answered yet."""
    READY = "READY"
    """Answers its health check: it gets requests."""
    UNHEALTHY = "UNHEALTHY"
    """Was ready, then failed a health check: no requests until it answers again."""
    BACKOFF = "BACKOFF"
    """Exited or was killed; waits before it is started again."""
    DRAINING = "DRAINING"
    """Its revision was replaced: finishes the requests it has, then stops."""
    STOPPED = "STOPPED"
    """Ended by the supervisor."""


REPLICA_ROUTABLE: frozenset[ReplicaState] = frozenset({ReplicaState.READY})
"""Replicas in these states are sent new requests (when their revision has the traffic)."""

REPLICA_DOWN: frozenset[ReplicaState] = frozenset(
    {ReplicaState.BACKOFF, ReplicaState.STOPPED, ReplicaState.STARTING, ReplicaState.UNHEALTHY}
)
"""Replicas in these states answer no requests."""
