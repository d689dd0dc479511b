"""What a cluster has, as the engine sees it: the value a cluster executor reports."""

from __future__ import annotations

from dataclasses import dataclass

from pauta.core.resources import Resources

_NOTHING = Resources(cpus=0)


@dataclass(frozen=True, slots=True)
class ClusterView:
    """What a cluster executor (capacity model ``nodes``) can run now, as the engine sees it.

    ``total`` is the cluster's capacity summed over its live nodes; ``busy`` what other work on
    the cluster holds (the engine counts its own attempts itself); ``nodes`` each node's own
    capacity, for telling a request that fits no node from one that waits; ``autoscaling``
    says the cluster can add nodes, so such a request waits for one instead of failing.
    ``error`` is set when the cluster cannot be used at all (no cluster at the address, a
    result store its nodes cannot reach): every attempt for it fails with that reason.
    ``ahead`` is how much more than the cluster can start may be submitted to wait in its own
    queue (so a slot that frees starts the next attempt without a round trip to the engine);
    what is submitted ahead counts as started, so the engine's order holds behind it.
    """

    total: Resources
    busy: Resources
    nodes: tuple[Resources, ...]
    autoscaling: bool = False
    error: str | None = None
    ahead: Resources = _NOTHING

    def fits_a_node(self, request: Resources) -> bool:
        """Whether some live node is big enough for ``request`` (once it is idle)."""
        return any(request.fits_in(node) for node in self.nodes)
