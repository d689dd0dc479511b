"""The commands other threads hand the engine loop.

Flow bodies, child flows, lease keepers and callers of ``flush_now`` never touch the loop's
state: they post one of these, and the loop applies it on its own thread, in order.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pauta.core.states import State

if TYPE_CHECKING:
    from pauta.engine.calls import TaskCall
    from pauta.engine.runstate import RunState


@dataclass(frozen=True, slots=True)
class SubmitCall:
    """A flow body called a task: register the call and start it when it is ready."""

    call: TaskCall


@dataclass(frozen=True, slots=True)
class ExternalProgress:
    """A call run outside the executors (a child flow) moved: RUNNING, or its final state
    with the stored result (SUCCEEDED) or the error (otherwise)."""

    call: TaskCall
    state: State
    detail: Any = None


@dataclass(frozen=True, slots=True)
class CancelRun:
    """Cancel every unfinished call of a run."""

    run: RunState


@dataclass(frozen=True, slots=True)
class ForgetRun:
    """A run has ended: drop what the loop keeps for it."""

    run: RunState


@dataclass(frozen=True, slots=True)
class Flush:
    """Write everything recorded so far to the store, then set ``done``."""

    done: threading.Event


@dataclass(frozen=True, slots=True)
class SetPools:
    """The pools' sizes changed in the store."""

    pools: dict[str, int]


Command = SubmitCall | ExternalProgress | CancelRun | ForgetRun | Flush | SetPools
