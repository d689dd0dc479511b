"""Speaking to a Ray cluster: connecting, reading what it has, telling its autoscaler the demand.

One connection per process (Ray's driver state is process-wide): the first ray executor
connects, later ones reuse it, one for another address replaces it. Token authentication (on
by default since Ray 2.60) is Ray's: ``RAY_AUTH_MODE=token`` and the cluster's
``RAY_AUTH_TOKEN`` (or ``RAY_AUTH_TOKEN_PATH``) in the environment, as on its nodes; pauta
never reads, prints or stores the token.

Resources: pauta's ``cpus``, ``gpus``, ``memory`` and custom resources are Ray's ``CPU``,
``GPU``, ``memory`` and custom resources of the same names.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any

from pauta.core.clusters import ClusterView
from pauta.core.errors import PautaError
from pauta.core.host import hostname
from pauta.core.resources import Resources

_lock = threading.Lock()
_connected: list[str] = []  # the address this process is connected to, once it is
# Ray keeps dead nodes in its node table; the view needs the live ones.
_NOT_CUSTOM = frozenset({"CPU", "GPU", "memory", "object_store_memory"})
_MAX_BUNDLES = 2000
PROBE_TIMEOUT_S = 5.0
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ClusterUnreachable(PautaError):
    """No Ray cluster answers at the address (or it refused this process)."""


def connect(address: str | None) -> None:
    """Connect this process to the cluster at ``address`` (None: Ray's default, which finds
    a cluster started on this machine with ``ray start``)."""
    import ray

    target = address or os.environ.get("RAY_ADDRESS") or "auto"
    with _lock:
        if ray.is_initialized():
            if _connected and _connected[0] == target:
                return
            ray.shutdown()
            _connected.clear()
        try:
            _probe(target)
            ray.init(
                address=target,
                namespace="pauta",
                log_to_driver=False,  # attempts' output goes to pauta's logs instead
                logging_level=logging.ERROR,
            )
        except Exception as exc:
            raise ClusterUnreachable(
                f"cannot reach a Ray cluster at {target}: {_first_line(exc)}. Start one "
                "(ray start --head), give its address (--ray-address or PAUTA_RAY_ADDRESS), "
                "and where it uses token authentication (Ray's default) set RAY_AUTH_MODE=token "
                "and RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) as on its nodes"
            ) from None
        _connected[:] = [target]


def _probe(target: str) -> None:
    """Fail at once where nothing listens at a HOST:PORT address (Ray itself retries for a
    minute before it gives up)."""
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or "://" in target:
        return  # "auto", or a ray:// client address: Ray resolves it
    with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT_S):
        pass


def to_ray(request: Resources) -> dict[str, float]:
    """A pauta request as Ray's resource dictionary (zero amounts left out)."""
    out: dict[str, float] = {}
    if request.cpus:
        out["CPU"] = request.cpus
    if request.gpus:
        out["GPU"] = float(request.gpus)
    if request.memory:
        out["memory"] = float(request.memory)
    for name, amount in request.custom.items():
        if amount:
            out[name] = float(amount)
    return out


def task_options(request: Resources) -> dict[str, Any]:
    """The ``.options(...)`` of a Ray task asking for ``request``."""
    options: dict[str, Any] = {"num_cpus": request.cpus, "num_gpus": request.gpus}
    if request.memory:
        options["memory"] = request.memory
    custom = {name: float(amount) for name, amount in request.custom.items() if amount}
    if custom:
        options["resources"] = custom
    return options


def from_ray(resources: Mapping[str, float]) -> Resources:
    """Ray's resource dictionary as pauta's ``Resources``."""
    custom = {k: float(v) for k, v in resources.items() if k not in _NOT_CUSTOM}
    return Resources(
        cpus=float(resources.get("CPU", 0.0)),
        memory=int(resources.get("memory", 0)),
        gpus=int(resources.get("GPU", 0)),
        custom=custom,
    )


def read_view(results_url: str, ours: Resources) -> ClusterView:
    """What the cluster has now. ``ours`` is what this executor's attempts hold; the rest of
    what is in use is other work's (``busy``)."""
    import ray

    nodes = [node for node in ray.nodes() if node.get("Alive")]
    shapes = tuple(from_ray(node.get("Resources") or {}) for node in nodes)
    total = Resources(cpus=0)
    for shape in shapes:
        total = total.plus(shape)
    available = from_ray(ray.available_resources())
    busy = total.minus(available).minus(ours)
    return ClusterView(
        total=total,
        busy=busy,
        nodes=shapes,
        autoscaling=autoscaling(),
        error=store_problem(results_url, nodes),
    )


def smaller(a: Resources, b: Resources) -> Resources:
    """The smaller amount of each resource of ``a`` and ``b``."""
    custom = {k: min(v, b.custom.get(k, 0.0)) for k, v in a.custom.items()}
    return Resources(
        cpus=min(a.cpus, b.cpus),
        memory=min(a.memory, b.memory),
        gpus=min(a.gpus, b.gpus),
        custom=custom,
    )


def autoscaling() -> bool:
    """Whether the cluster can add nodes: ``PAUTA_RAY_AUTOSCALING`` when set, else whether an
    autoscaler with a node configuration runs (KubeRay, ``ray up``).

    A head started by hand runs Ray's monitor without a configuration: it reports each node as
    its own type (``node_<id>``), and that is read as "no autoscaler".
    """
    setting = os.environ.get("PAUTA_RAY_AUTOSCALING", "").strip().lower()
    if setting in _TRUE:
        return True
    if setting in _FALSE:
        return False
    from ray.experimental import internal_kv

    try:
        if internal_kv._internal_kv_get("__autoscaler_v2_enabled") == b"1":
            return True
        status = internal_kv._internal_kv_get("__autoscaling_status")
    except Exception:
        return False
    if not status:
        return False
    try:
        report = json.loads(status).get("autoscaler_report") or {}
    except ValueError:
        return False
    mapping = report.get("node_type_mapping") or {}
    return any(kind != f"node_{node}" for node, kind in mapping.items()) or bool(
        report.get("pending_launches")
    )


def store_problem(results_url: str, nodes: Sequence[Mapping[str, Any]]) -> str | None:
    """Why the result store cannot serve these nodes (None when it can).

    A folder on this machine serves only nodes on this machine: a node counts as here when it
    reports this host's name or one of its addresses (two ``ray start`` on one machine do).
    ``PAUTA_RESULTS_SHARED=1`` says the folder is a shared file system mounted at the same
    path on every node.
    """
    if "://" in results_url and not results_url.startswith("file://"):
        return None
    if os.environ.get("PAUTA_RESULTS_SHARED", "").strip().lower() in _TRUE:
        return None
    here = _this_host()
    elsewhere = sorted(
        {
            str(node.get("NodeManagerHostname") or node.get("NodeManagerAddress"))
            for node in nodes
            if node.get("NodeManagerHostname") not in here
            and node.get("NodeManagerAddress") not in here
        }
    )
    if not elsewhere:
        return None
    return (
        f"the result store is the folder {results_url.removeprefix('file://')} on this "
        f"machine, which the Ray nodes on other machines ({', '.join(elsewhere)}) cannot read: "
        "set PAUTA_RESULTS_URL to storage every node reaches (s3://bucket/prefix, gs://...), "
        "or, for a shared file system mounted at the same path on every node, "
        "PAUTA_RESULTS_SHARED=1"
    )


def _this_host() -> set[str]:
    name = hostname()
    here = {name, "127.0.0.1", "localhost"}
    with suppress(OSError):
        here.update(socket.gethostbyname_ex(name)[2])
    with suppress(Exception):  # only where Ray is connected
        import ray

        here.add(ray.util.get_node_ip_address())
    return here


def request_capacity(demand: Sequence[Resources]) -> None:
    """Tell the autoscaler the cluster should hold all of ``demand`` (one bundle per attempt;
    an empty demand withdraws the request, so an idle cluster can shrink)."""
    from ray.autoscaler.sdk import request_resources

    bundles = [to_ray(request) for request in demand[:_MAX_BUNDLES]]
    request_resources(bundles=[b for b in bundles if b])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
