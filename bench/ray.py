"""pauta on Ray: 1,000 CPU-bound tasks of ~50 ms on the local executor, on Ray with one node and
with two nodes (1 cpu each), and pauta's cost per task against plain ``ray.remote`` calls of the
same function in the same run.

    .venv/bin/python bench/ray.py                      # 1,000 tasks, one repeat
    .venv/bin/python bench/ray.py --n 200 --repeat 3   # quicker, medians of three
    .venv/bin/python bench/ray.py --ahead 0            # without submit-ahead (PAUTA_RAY_AHEAD)

Starts its own cluster on this machine (as the tests do, token authentication on) and stops it
at the end. Prints markdown tables of medians: run seconds and tasks per second for each setup,
then the overhead per task of pauta-on-Ray over plain Ray for the same 1,000 tasks (CPU-bound,
and no-op, where the overhead is all there is).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# This file is named ray.py: its folder must not shadow the ray package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
# Ray reads its authentication mode when it is imported: the cluster's token comes first.
os.environ.update(
    {
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": os.environ.get("PAUTA_BENCH_RAY_TOKEN") or secrets.token_hex(32),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
)

import ray  # noqa: E402

sys.path.append(str(HERE.parent / "tests" / "ray"))  # the tests' cluster helpers
from ray_support import Cluster, free_port  # noqa: E402

from pauta.core.loading import load_file  # noqa: E402
from pauta.core.resources import Resources  # noqa: E402
from pauta.core.settings import Settings  # noqa: E402
from pauta.engine.runner import Runner  # noqa: E402

burn = load_file(HERE / "ray_flows" / "burn.py")


def _spin(ms: float) -> int:
    """The tasks' function, for plain Ray (sent by value, as Ray sends a script's functions)."""
    end = time.thread_time() + ms / 1000
    n = 0
    while time.thread_time() < end:
        n += 1
    return n


def _noop(i: int) -> int:
    return i


def run_pauta(runner: Runner, flow: object, params: dict[str, object]) -> float:
    started = time.perf_counter()
    run = runner.run(flow, params)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    assert run.state == "SUCCEEDED", run.error
    return elapsed


def run_plain(function: object, args: list[tuple[object, ...]]) -> float:
    remote = ray.remote(num_cpus=1, max_retries=0)(function)
    ray.get(remote.remote(*args[0]))  # its worker warm, as pauta's are after the first run
    started = time.perf_counter()
    ray.get([remote.remote(*a) for a in args])
    return time.perf_counter() - started


class _Warm:
    """An actor: one process per node keeping what it imported, called for each item."""

    def call(self, i: int) -> int:
        return i


def run_actors(nodes: int, n: int) -> float:
    """The other way to keep workers warm: ``nodes`` actors of 1 cpu, called round-robin."""
    actor = ray.remote(num_cpus=1)(_Warm)
    pool = [actor.remote() for _ in range(nodes)]
    ray.get([a.call.remote(0) for a in pool])
    started = time.perf_counter()
    ray.get([pool[i % nodes].call.remote(i) for i in range(n)])
    elapsed = time.perf_counter() - started
    for a in pool:
        ray.kill(a)
    return elapsed


def measure(n: int, ms: float, repeat: int, root: Path) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        times.setdefault(name, []).append(value)

    # local: two warm worker processes on this machine's two cores
    runner = Runner(Settings.from_env(root / "local"), capacity=Resources(cpus=2), workers=2)
    run_pauta(runner, burn.burn_fan_out, {"n": 2, "ms": ms})  # warm
    for _ in range(repeat):
        add("local", run_pauta(runner, burn.burn_fan_out, {"n": n, "ms": ms}))
    runner.close()

    temp = Path(tempfile.mkdtemp(prefix="pbench-", dir="/tmp"))
    cluster = Cluster(free_port(), temp, dict(os.environ))
    try:
        cluster.start_node("head", "--num-cpus=1", "--num-gpus=0", head=True)
        for nodes in (1, 2):
            if nodes == 2:
                cluster.start_node("b", "--num-cpus=1", "--num-gpus=0")
                time.sleep(2)  # the new node in pauta's view (read every second)
            settings = dataclasses.replace(
                Settings.from_env(root / f"ray{nodes}"), ray_address=cluster.address
            )
            runner = Runner(settings, capacity=Resources(cpus=2), default_executor="ray")
            started = time.perf_counter()
            run_pauta(runner, burn.noop_fan_out, {"n": 1})
            if nodes == 1:
                add("first attempt on a new connection", time.perf_counter() - started)
            run_pauta(runner, burn.burn_fan_out, {"n": 2 * nodes, "ms": ms})  # warm workers
            for _ in range(repeat):
                add(f"pauta on ray, {nodes} node(s)", run_pauta(
                    runner, burn.burn_fan_out, {"n": n, "ms": ms}
                ))  # fmt: skip
                add(f"plain ray, {nodes} node(s)", run_plain(_spin, [(ms,)] * n))
                add(f"pauta noop, {nodes} node(s)", run_pauta(runner, burn.noop_fan_out, {"n": n}))
                add(f"plain noop, {nodes} node(s)", run_plain(_noop, [(i,) for i in range(n)]))
                add(f"actor noop, {nodes} node(s)", run_actors(nodes, n))
            runner.close()
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for node in reversed(cluster.nodes):
            node.stop()
    return times


def report(times: dict[str, list[float]], n: int, ms: float, repeat: int) -> None:
    med = {name: statistics.median(values) for name, values in times.items()}
    ahead = os.environ.get("PAUTA_RAY_AHEAD") or "1 (default)"
    print(f"\n{n} CPU-bound tasks of ~{ms:g} ms, median of {repeat}; 2 cores, 1 cpu per node")
    print(f"submit-ahead: {ahead} attempt(s) per slot\n")
    print("| setup | run s | tasks/s |")
    print("|---|---:|---:|")
    for name in ("local", "pauta on ray, 1 node(s)", "pauta on ray, 2 node(s)"):
        print(f"| {name} | {med[name]:.2f} | {n / med[name]:.1f} |")
    for name in ("plain ray, 1 node(s)", "plain ray, 2 node(s)"):
        print(f"| {name} | {med[name]:.2f} | {n / med[name]:.1f} |")
    print("\npauta-on-Ray against plain `ray.remote` of the same function, same cluster\n")
    print("| tasks | nodes | plain ray ms/task | pauta ms/task | overhead ms/task | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind, pauta, plain in (
        ("~50 ms", "pauta on ray", "plain ray"),
        ("no-op", "pauta noop", "plain noop"),
    ):
        for nodes in (1, 2):
            a, b = med[f"{pauta}, {nodes} node(s)"], med[f"{plain}, {nodes} node(s)"]
            print(
                f"| {kind} | {nodes} | {1000 * b / n:.2f} | {1000 * a / n:.2f} | "
                f"{1000 * (a - b) / n:.2f} | {a / b:.2f}x |"
            )
    print("\nKeeping workers warm, no-op calls: Ray tasks (reused worker processes) or actors\n")
    print("| nodes | plain ray tasks ms/call | plain ray actors ms/call |")
    print("|---:|---:|---:|")
    for nodes in (1, 2):
        task_ms = 1000 * med[f"plain noop, {nodes} node(s)"] / n
        actor_ms = 1000 * med[f"actor noop, {nodes} node(s)"] / n
        print(f"| {nodes} | {task_ms:.2f} | {actor_ms:.2f} |")
    print(f"\nfirst attempt on a new cluster connection (code upload, worker start): "
          f"{med['first attempt on a new connection']:.2f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--ms", type=float, default=50.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--ahead", type=int, default=None, help="attempts per slot submitted ahead (default 1)"
    )
    args = parser.parse_args()
    if args.ahead is not None:
        os.environ["PAUTA_RAY_AHEAD"] = str(args.ahead)
    # a benchmark stopped by SIGTERM still stops the cluster it started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as root:
        times = measure(args.n, args.ms, args.repeat, Path(root))
    report(times, args.n, args.ms, args.repeat)
    print(f"\nload average (1, 5, 15 min) before: {load_before}, after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
