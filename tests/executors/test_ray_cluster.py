"""Resources between pauta and Ray, and when a result store cannot serve a cluster."""

from __future__ import annotations

import socket

import pytest

from pauta.core.resources import Resources
from pauta.executors import ray_cluster

HERE = socket.gethostname()


def test_a_request_becomes_rays_resources() -> None:
    request = Resources(cpus=4, gpus=1, memory="16GiB", custom={"a100": 1, "zero": 0})
    assert ray_cluster.task_options(request) == {
        "num_cpus": 4.0,
        "num_gpus": 1,
        "memory": 16 * 1024**3,
        "resources": {"a100": 1.0},
    }
    assert ray_cluster.to_ray(request) == {
        "CPU": 4.0,
        "GPU": 1.0,
        "memory": float(16 * 1024**3),
        "a100": 1.0,
    }
    assert ray_cluster.task_options(Resources()) == {"num_cpus": 1.0, "num_gpus": 0}


def test_rays_resources_become_a_capacity() -> None:
    found = ray_cluster.from_ray(
        {"CPU": 2.0, "GPU": 1.0, "memory": 1e9, "object_store_memory": 1e8, "node_b": 1.0}
    )
    assert found == Resources(cpus=2, gpus=1, memory=10**9, custom={"node_b": 1.0})


def _node(host: str, address: str) -> dict[str, object]:
    return {"NodeManagerHostname": host, "NodeManagerAddress": address, "Alive": True}


def test_a_local_folder_serves_nodes_of_this_machine_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PAUTA_RESULTS_SHARED", raising=False)
    here = [_node(HERE, "192.0.2.2"), _node(HERE, "127.0.0.1")]
    assert ray_cluster.store_problem("/srv/pauta/results", here) is None
    away = [*here, _node("gpu-7", "10.0.0.7")]
    problem = ray_cluster.store_problem("/srv/pauta/results", away)
    assert problem is not None
    assert "/srv/pauta/results" in problem
    assert "gpu-7" in problem
    assert "PAUTA_RESULTS_URL" in problem
    assert ray_cluster.store_problem("file:///srv/pauta/results", away) == problem
    assert ray_cluster.store_problem("s3://bucket/pauta", away) is None
    monkeypatch.setenv("PAUTA_RESULTS_SHARED", "1")
    assert ray_cluster.store_problem("/srv/pauta/results", away) is None


@pytest.mark.parametrize(("setting", "expected"), [("1", True), ("yes", True), ("0", False)])
def test_autoscaling_can_be_declared(
    monkeypatch: pytest.MonkeyPatch, setting: str, expected: bool
) -> None:
    monkeypatch.setenv("PAUTA_RAY_AUTOSCALING", setting)
    assert ray_cluster.autoscaling() is expected


def test_an_address_where_nothing_listens_fails_at_once() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        ray_cluster._probe(f"127.0.0.1:{port}")
    ray_cluster._probe("auto")  # resolved by Ray itself
