"""Ready queues of cluster executors: what waits for a cluster, and what it can start now.

Pure, like the ready queue. An executor whose capacity model is ``nodes`` (a Ray cluster) gets
a ``Cluster`` of its own: its calls wait in their own ``ReadyQueue``, picked in the same
priority order, with the same pools and limits, against the cluster's free capacity instead of
this machine's. That capacity is the executor's ``ClusterView`` (what the live nodes have, less
what other work holds), plus what may wait in the cluster's own queue (``ahead``), less what
was started there (``reserved``, the attempts submitted ahead too); until the executor saw its
cluster once, nothing starts on it. A request that fits no node of a cluster that cannot add
nodes is refused with why, as is everything when the cluster cannot be used at all.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pauta.core.clusters import ClusterView
from pauta.core.resources import Resources
from pauta.dispatch.queue import ReadyQueue, ReadyTask, RunningCounts

_NOTHING = Resources(cpus=0)


@dataclass(slots=True)
class Cluster:
    """The ready queue and capacity of one cluster executor."""

    name: str
    queue: ReadyQueue
    view: ClusterView | None = None
    reserved: Resources = _NOTHING
    running: dict[Resources, int] = field(default_factory=dict)

    def free(self) -> Resources:
        if self.view is None:
            return _NOTHING
        view = self.view
        return view.total.plus(view.ahead).minus(view.busy).minus(self.reserved)

    def reserve(self, request: Resources) -> None:
        """An attempt asking for ``request`` started on the cluster."""
        self.reserved = self.reserved.plus(request)
        self.running[request] = self.running.get(request, 0) + 1

    def release(self, request: Resources) -> None:
        """An attempt started with ``reserve`` ended."""
        self.reserved = self.reserved.minus(request)
        left = self.running[request] - 1
        if left:
            self.running[request] = left
        else:
            del self.running[request]

    def refusal(self, request: Resources) -> dict[str, Any] | None:
        """Why a call asking for ``request`` can never start here (as an error), or None."""
        view = self.view
        if view is None:
            return None
        if view.error is not None:
            return {"type": "ClusterUnavailable", "message": view.error, "kind": "environment"}
        if view.autoscaling or view.fits_a_node(request):
            return None
        message = never_fits_a_node(request, view.nodes, self.name)
        return {"type": "ResourceError", "message": message, "kind": "resources"}

    def demand(self) -> list[Resources]:
        """One request per call running or waiting here."""
        out = [request for request, n in self.running.items() for _ in range(n)]
        out += [request for request, n in self.queue.demand() for _ in range(n)]
        return out


class Clusters:
    """The ``Cluster`` of each cluster executor, made when a call first waits for it.

    ``capacity_model`` answers an executor's capacity model by name (``ExecutorSpec.capacity``);
    ``queue_options`` are the ready queue's (policy, reservation).
    """

    def __init__(
        self, capacity_model: Callable[[str], str], queue_options: Mapping[str, Any]
    ) -> None:
        self._capacity_model = capacity_model
        self._queue_options = dict(queue_options)
        self._models: dict[str, str] = {}
        self._clusters: dict[str, Cluster] = {}

    def __bool__(self) -> bool:
        return bool(self._clusters)

    def __iter__(self) -> Iterator[Cluster]:
        return iter(list(self._clusters.values()))

    def get(self, name: str) -> Cluster | None:
        return self._clusters.get(name)

    def of(self, executor: str) -> Cluster | None:
        """The cluster of ``executor``, or None when it counts capacity on this machine."""
        model = self._models.get(executor)
        if model is None:
            model = self._models[executor] = self._capacity_model(executor)
        if model != "nodes":
            return None
        cluster = self._clusters.get(executor)
        if cluster is None:
            queue = ReadyQueue(None, **self._queue_options)
            cluster = self._clusters[executor] = Cluster(executor, queue)
        return cluster

    def pick(
        self,
        picked: Sequence[ReadyTask],
        *,
        running: RunningCounts,
        pools: Mapping[str, int],
        now: float,
    ) -> list[ReadyTask]:
        """What each cluster starts now, after ``picked`` (this machine's picks): those count
        while the clusters pick, so a pool or a run's limit holds across all of them."""
        counted = list(picked)
        for ready in counted:
            running.started(ready)
        more: list[ReadyTask] = []
        try:
            for cluster in self._clusters.values():
                if not len(cluster.queue) or cluster.view is None:
                    continue
                found = cluster.queue.pick(cluster.free(), running=running, pools=pools, now=now)
                for ready in found:
                    running.started(ready)
                counted += found
                more += found
        finally:
            for ready in counted:
                running.finished(ready)
        return more

    def see(self, name: str, view: ClusterView) -> list[tuple[ReadyTask, dict[str, Any]]]:
        """Cluster ``name`` was seen anew; when its nodes changed, the waiting calls that can
        no longer start there, each with why (still queued: the caller ends them)."""
        cluster = self._clusters.get(name)
        if cluster is None:
            return []
        old, cluster.view = cluster.view, view
        if (
            old is not None
            and old.nodes == view.nodes
            and old.autoscaling == view.autoscaling
            and old.error == view.error
        ):
            return []
        refused = []
        for ready in cluster.queue.tasks():
            error = cluster.refusal(ready.resources)
            if error is not None:
                refused.append((ready, error))
        return refused

    def remove(self, task_id: Hashable) -> bool:
        """Take a waiting call out of whichever cluster queue holds it."""
        return any(cluster.queue.remove(task_id) for cluster in self._clusters.values())


def never_fits_a_node(request: Resources, nodes: Sequence[Resources], executor: str) -> str:
    """Why a request fits no node of a cluster that cannot add nodes, and what to do."""
    if not nodes:
        where = "the cluster has no live node"
    else:
        biggest = max(nodes, key=lambda n: (n.gpus, n.cpus, n.memory))
        where = f"its {len(nodes)} node(s) are too small (the largest has {biggest.describe()})"
    return (
        f"the task asks for {request.describe()}, but no node of the {executor!r} cluster can "
        f"ever run it: {where}, and the cluster does not autoscale. Lower the task's "
        "resources=..., add a node that has them, or turn the cluster's autoscaler on."
    )
