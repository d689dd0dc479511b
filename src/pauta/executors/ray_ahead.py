"""Submit-ahead on a Ray cluster: which of our submitted attempts run, which wait in Ray's queue.

Why submit ahead: an attempt submitted only once a slot is free leaves that slot idle for a
round trip to the driver (the outcome travels back, the engine picks the next call, it travels
out). Plain Ray queues everything at once and never idles. pauta keeps deciding the order, so
it lets Ray queue only a bounded amount more than the cluster can start: ``ahead_of`` the
cluster's capacity, by default one more attempt's worth per slot. The next attempt then waits
on the node while the current one runs, and a slot that frees starts it at once.

Why only that much: what was submitted ahead can no longer be overtaken inside Ray. A
high-priority call that arrives later waits for at most one attempt per slot, not for a deep
queue; and the submitted-ahead attempts count against the cluster's capacity in the engine's
view (they are reserved as running), so pools, per-run limits and priorities still hold for
everything behind them. A submitted-ahead attempt stays cancellable (``ray.cancel`` of a
queued task removes it).

``StartOrder`` is the executor's own account, pure: it cannot see inside Ray's queue, so it
deems an attempt started when it fits what the cluster has for us next to the attempts deemed
running, and otherwise queued until an earlier one ends (first fit, in submission order, as
Ray's scheduler starts any queued task that fits). Timeouts count from that start, and only
the attempts deemed running count as what we hold when reading what other work holds.
"""

from __future__ import annotations

import os
from collections.abc import Hashable

from pauta.core.errors import PautaError
from pauta.core.resources import Resources

_NOTHING = Resources(cpus=0)
DEFAULT_AHEAD = 1


def ahead_setting() -> int:
    """Attempts per slot submitted beyond what the cluster can start: ``PAUTA_RAY_AHEAD``
    (0 turns submit-ahead off), default 1."""
    text = os.environ.get("PAUTA_RAY_AHEAD", "").strip()
    if not text:
        return DEFAULT_AHEAD
    if not text.isdigit():
        raise PautaError(f"PAUTA_RAY_AHEAD={text!r} must be a whole number >= 0 (default 1)")
    return int(text)


def ahead_of(total: Resources, per_slot: int) -> Resources:
    """How much may wait in Ray's queue beyond ``total``: ``per_slot`` times the cluster."""
    out = _NOTHING
    for _ in range(per_slot):
        out = out.plus(total)
    return out


class StartOrder:
    """Attempts submitted to the cluster, each deemed running or still waiting in Ray's queue."""

    def __init__(self) -> None:
        self._running: dict[Hashable, Resources] = {}
        self._waiting: dict[Hashable, Resources] = {}  # in submission order
        self._held = _NOTHING

    def held(self) -> Resources:
        """What the attempts deemed running hold."""
        return self._held

    def waiting(self) -> list[Hashable]:
        return list(self._waiting)

    def is_running(self, key: Hashable) -> bool:
        return key in self._running

    def submitted(self, key: Hashable, request: Resources, capacity: Resources) -> bool:
        """``key`` was submitted; True when it starts now (``capacity``: what the cluster has
        for our attempts), False when it waits behind others in Ray's queue."""
        if not self._waiting and request.fits_in(capacity.minus(self._held)):
            self._start(key, request)
            return True
        self._waiting[key] = request
        return False

    def ended(self, key: Hashable, capacity: Resources) -> list[Hashable]:
        """``key`` ended (or was cancelled); the waiting attempts that start in its place."""
        request = self._running.pop(key, None)
        if request is not None:
            self._held = self._held.minus(request)
        else:
            self._waiting.pop(key, None)
        return self.promote(capacity)

    def promote(self, capacity: Resources) -> list[Hashable]:
        """The waiting attempts that fit now, first fit in submission order, deemed started."""
        started = []
        for key, request in list(self._waiting.items()):
            if request.fits_in(capacity.minus(self._held)):
                del self._waiting[key]
                self._start(key, request)
                started.append(key)
        return started

    def _start(self, key: Hashable, request: Resources) -> None:
        self._running[key] = request
        self._held = self._held.plus(request)
