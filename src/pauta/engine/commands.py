"""The commands other threads hand the engine loop.

Flow bodies, child flows, lease keepers and callers of ``flush_now`` never touch the loop's
state: they post one of these, and the loop applies it on its own thread, in order.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, NamedTuple

from pauta.core.states import State

if TYPE_CHECKING:
    from pauta.engine.calls import TaskCall
    from pauta.engine.runstate import RunState


class SubmitCall(NamedTuple):
    """A flow body called a task: register the call and start it when it is ready."""

    call: TaskCall


class ExternalProgress(NamedTuple):
    """A call run outside the executors (a child flow) moved: RUNNING, or its final state
    with the stored result (SUCCEEDED) or the error (otherwise)."""

    call: TaskCall
    state: State
    detail: Any = None


class CancelRun(NamedTuple):
    """Cancel every unfinished call of a run."""

    run: RunState


class ForgetRun(NamedTuple):
    """A run has ended: drop what the loop keeps for it."""

    run: RunState


class Flush(NamedTuple):
    """Write everything recorded so far to the store, then set ``done``."""

    done: threading.Event


class SetPools(NamedTuple):
    """The pools' sizes changed in the store."""

    pools: dict[str, int]


Command = SubmitCall | ExternalProgress | CancelRun | ForgetRun | Flush | SetPools
