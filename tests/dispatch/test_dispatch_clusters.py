"""Cluster queues: what waits for a cluster executor, what starts on its free capacity."""

from __future__ import annotations

from pauta.core.clusters import ClusterView
from pauta.core.resources import Resources
from pauta.dispatch.clusters import Clusters
from pauta.dispatch.queue import ReadyTask, RunningCounts

NONE = Resources(cpus=0)
ONE = Resources(cpus=1)
TWO_NODES = ClusterView(
    total=Resources(cpus=2, gpus=1, custom={"node_b": 1}),
    busy=NONE,
    nodes=(Resources(cpus=1), Resources(cpus=1, gpus=1, custom={"node_b": 1})),
)


def _clusters() -> Clusters:
    return Clusters(lambda name: "nodes" if name == "ray" else "slots", {})


def _task(name: str, resources: Resources = ONE, **limits: object) -> ReadyTask:
    return ReadyTask(("run", name), resources, enqueued_at=0.0, **limits)  # type: ignore[arg-type]


def test_only_executors_counting_nodes_get_a_queue_of_their_own() -> None:
    clusters = _clusters()
    assert clusters.of("local") is None
    ray = clusters.of("ray")
    assert ray is not None
    assert clusters.of("ray") is ray
    assert [c.name for c in clusters] == ["ray"]


def test_nothing_starts_before_the_cluster_was_seen_and_then_what_fits() -> None:
    clusters = _clusters()
    ray = clusters.of("ray")
    assert ray is not None
    for name in "abc":
        ray.queue.push(_task(name))
    counts = RunningCounts()
    assert clusters.pick([], running=counts, pools={}, now=1.0) == []
    assert clusters.see("ray", TWO_NODES) == []
    picked = clusters.pick([], running=counts, pools={}, now=1.0)
    assert [t.id for t in picked] == [("run", "a"), ("run", "b")]
    for task in picked:
        ray.reserve(task.resources)
    assert ray.free().cpus == 0
    ray.release(ONE)
    assert ray.free().cpus == 1
    assert ray.demand() == [ONE, ONE]  # one running, one waiting


def test_other_work_on_the_cluster_leaves_less_free() -> None:
    clusters = _clusters()
    ray = clusters.of("ray")
    assert ray is not None
    clusters.see("ray", ClusterView(Resources(cpus=4), Resources(cpus=3), (Resources(cpus=4),)))
    assert ray.free().cpus == 1


def test_a_pool_counts_what_this_machine_picked_in_the_same_pick() -> None:
    clusters = _clusters()
    ray = clusters.of("ray")
    assert ray is not None
    clusters.see("ray", TWO_NODES)
    ray.queue.push(_task("on_ray", pool="db"))
    local_pick = [_task("local", pool="db")]
    picked = clusters.pick(local_pick, running=RunningCounts(), pools={"db": 1}, now=0.0)
    assert picked == [], "the pool's one slot went to the local pick"
    assert clusters.pick([], running=RunningCounts(), pools={"db": 1}, now=0.0)


def test_a_request_that_fits_no_node_is_refused_unless_the_cluster_autoscales() -> None:
    clusters = _clusters()
    ray = clusters.of("ray")
    assert ray is not None
    assert ray.refusal(Resources(cpus=2)) is None, "not seen yet: it waits"
    too_big = _task("big", Resources(cpus=1, gpus=1, custom={"a100": 1}))
    ray.queue.push(too_big)
    [(task, error)] = clusters.see("ray", TWO_NODES)
    assert task is too_big
    assert error["kind"] == "resources"
    assert "a100=1" in error["message"]
    assert "does not autoscale" in error["message"]
    # two cpus in all, but no node has two
    assert ray.refusal(Resources(cpus=2)) is not None
    assert ray.refusal(Resources(cpus=1, gpus=1)) is None
    clusters.see("ray", ClusterView(TWO_NODES.total, NONE, TWO_NODES.nodes, autoscaling=True))
    assert ray.refusal(Resources(cpus=64, gpus=8)) is None


def test_an_unusable_cluster_refuses_everything_with_its_reason() -> None:
    clusters = _clusters()
    ray = clusters.of("ray")
    assert ray is not None
    ray.queue.push(_task("a"))
    broken = ClusterView(NONE, NONE, (), error="cannot reach a Ray cluster at x:1")
    [(_, error)] = clusters.see("ray", broken)
    assert error == {
        "type": "ClusterUnavailable",
        "message": "cannot reach a Ray cluster at x:1",
        "kind": "environment",
    }


def test_a_view_with_the_same_nodes_refuses_nothing_anew() -> None:
    clusters = _clusters()
    ray = clusters.of("ray")
    assert ray is not None
    clusters.see("ray", TWO_NODES)
    ray.queue.push(_task("a"))
    busier = ClusterView(TWO_NODES.total, ONE, TWO_NODES.nodes)
    assert clusters.see("ray", busier) == []
    assert clusters.remove(("run", "a"))
    assert not clusters.remove(("run", "a"))


def test_what_may_wait_in_the_clusters_queue_is_picked_by_priority_and_counts_as_started() -> None:
    clusters = _clusters()
    ray = clusters.of("ray")
    assert ray is not None
    one_ahead = ClusterView(Resources(cpus=2), NONE, (ONE, ONE), ahead=Resources(cpus=2))
    clusters.see("ray", one_ahead)
    for name in "abcdef":
        ray.queue.push(_task(name))
    counts = RunningCounts()
    picked = clusters.pick([], running=counts, pools={}, now=1.0)
    # two slots: two that start, and one more per slot that waits in Ray's queue
    assert [t.id[1] for t in picked] == ["a", "b", "c", "d"]
    for task in picked:
        ray.reserve(task.resources)
    assert ray.free().cpus == 0
    # a call of higher priority queued now goes ahead of the lows not yet submitted
    ray.queue.push(ReadyTask(("run", "urgent"), ONE, enqueued_at=2.0, priority=10))
    ray.release(ONE)
    [next_one] = clusters.pick([], running=counts, pools={}, now=3.0)
    assert next_one.id == ("run", "urgent")
