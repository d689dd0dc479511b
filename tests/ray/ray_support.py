"""Starting and stopping the nodes of a real Ray cluster on this machine (see conftest.py).

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
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import ray
from pauta.executors import ray_cluster

RAY = str(Path(sys.executable).with_name("ray"))
HOST = ""  # ports are probed on every address: Ray listens on the node's own
START_TIMEOUT_S = 90
_PORTS_PER_NODE = 8


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _free_range(size: int) -> int:
    """The first port of ``size`` consecutive ports that are free now."""
    for _ in range(200):
        start = 20000 + secrets.randbelow(30000)
        if all(_is_free(p) for p in range(start, start + size)):
            return start
    raise RuntimeError("no free range of ports")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` now, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


@dataclass
class Node:
    """One ``ray start`` process group."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    node_id: str = ""

    def kill(self) -> None:
        """SIGKILL the node as a lost machine would go: its process group (raylet, agents)
        and every process it started, Ray's workers included (they run in groups of their
        own and would otherwise finish their task and report it)."""
        doomed = [self.proc.pid, *_descendants(self.proc.pid)]
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in doomed:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()
        with suppress(
            ProcessLookupError, PermissionError
        ):  # anything of the group that outlived its leader
            os.killpg(self.proc.pid, signal.SIGKILL)


@dataclass
class Cluster:
    port: int
    temp: Path
    env: dict[str, str]
    nodes: list[Node] = field(default_factory=list)
    address: str = ""  # known once the head is up

    @property
    def head(self) -> Node:
        return self.nodes[0]

    @property
    def node_b(self) -> Node:
        return self.nodes[1]

    def start_node(self, name: str, *args: str, head: bool = False) -> Node:
        """Start a node and wait until the cluster lists it alive."""
        folder = self.temp / name
        folder.mkdir()
        ports = [free_port() for _ in range(_PORTS_PER_NODE)]
        workers = _free_range(40)
        command = [RAY, "start", "--block", "--disable-usage-stats"]
        if head:
            command += ["--head", f"--port={self.port}"]
            command += ["--include-dashboard=false", f"--ray-client-server-port={ports[6]}"]
        else:
            command += [f"--address={self.address}"]
        command += [
            f"--node-manager-port={ports[0]}",
            f"--object-manager-port={ports[1]}",
            f"--dashboard-agent-grpc-port={ports[2]}",
            f"--dashboard-agent-listen-port={ports[3]}",
            f"--metrics-export-port={ports[4]}",
            f"--runtime-env-agent-port={ports[5]}",
            f"--min-worker-port={workers}",
            f"--max-worker-port={workers + 39}",
            # each node its own, as on separate machines (they would share unpacked code)
            f"--temp-dir={folder}",
            "--object-store-memory=100000000",
            *args,
        ]
        log = self.temp / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                command, stdout=out, stderr=out, env=self.env, start_new_session=True
            )
        node = Node(name, proc, log)
        self.nodes.append(node)
        before = {n["NodeID"] for n in _alive()} if not head else set()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"ray start of {name} ended: {log.read_text()[-3000:]}")
            if head and not ray.is_initialized():
                # the head writes the address it serves on (the node's own IP) when it is up
                found = folder / "ray_current_cluster"
                if not found.exists():
                    time.sleep(0.3)
                    continue
                self.address = found.read_text().strip()
                try:
                    ray_cluster.connect(self.address)
                except ray_cluster.ClusterUnreachable:
                    time.sleep(0.5)
                    continue
            new = [n for n in _alive() if n["NodeID"] not in before]
            if new:
                node.node_id = new[0]["NodeID"]
                return node
            time.sleep(0.3)
        raise RuntimeError(f"node {name} did not join in {START_TIMEOUT_S} s: {log.read_text()}")

    def wait_dead(self, node: Node, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if node.node_id not in {n["NodeID"] for n in _alive()}:
                return
            time.sleep(0.2)
        raise AssertionError(f"node {node.name} still alive after {timeout} s")


def _alive() -> list[dict[str, object]]:
    return [n for n in ray.nodes() if n.get("Alive")]
