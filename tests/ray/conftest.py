"""A real two-node Ray cluster on this machine, started once for the session.

Head: 1 cpu. Node B: 1 cpu, 1 (declared) GPU and the custom resource ``node_b``. Token
authentication is on, as Ray 2.60 has it by default: every node and this process share one
``RAY_AUTH_TOKEN``. Each node is a ``ray start --block`` in its own process group, with every
port given and its own temp folder, so the teardown ends exactly these processes (``ray stop``
would end every Ray on the machine) and nothing is left running. Short health checks make a
killed node dead in about two seconds. The tests skip only where Ray cannot be imported.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Ray reads its authentication mode once, when it is imported: the environment comes first.
TOKEN = secrets.token_hex(32)
RAY_ENV = {
    "RAY_AUTH_MODE": "token",
    "RAY_AUTH_TOKEN": TOKEN,
    "RAY_USAGE_STATS_ENABLED": "0",
    # a killed node is declared dead within about two seconds
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "3",
    "RAY_health_check_initial_delay_ms": "0",
}
os.environ.update(RAY_ENV)

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'pauta[ray]'")

from ray_support import Cluster, Node, free_port  # noqa: E402


def _start() -> Cluster:
    # A short path: Ray's unix sockets live under it, and a socket path has ~107 characters.
    temp = Path(tempfile.mkdtemp(prefix="pray-", dir="/tmp"))
    made = Cluster(free_port(), temp, {**os.environ, **RAY_ENV})
    try:
        made.start_node("head", "--num-cpus=1", "--num-gpus=0", head=True)
        made.start_node("b", "--num-cpus=1", "--num-gpus=1", '--resources={"node_b": 1}')
    except BaseException:
        _stop(made)
        raise
    return made


def _stop(made: Cluster) -> None:
    if ray.is_initialized():
        ray.shutdown()
    for node in reversed(made.nodes):
        node.stop()
    shutil.rmtree(made.temp, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The session's two-node cluster; this process is connected to it (token auth on)."""
    try:
        made = _start()
    except RuntimeError:
        # a port taken between choosing it and Ray binding it: once more, with other ports
        made = _start()
    try:
        yield made
    finally:
        _stop(made)


@pytest.fixture
def add_node(cluster: Cluster) -> Iterator[Callable[..., Node]]:
    """Start an extra node for one test; it is stopped (or already killed) afterwards."""
    added: list[Node] = []

    def add(name: str, *args: str) -> Node:
        node = cluster.start_node(name, *args)
        added.append(node)
        return node

    yield add
    for node in added:
        node.stop()
        cluster.nodes.remove(node)
