"""Services: what the stable address costs, and what a swap looks like to clients.

    .venv/bin/python bench/services.py                  # 4,000 requests, 16 connections, 3 runs
    .venv/bin/python bench/services.py --requests 10000 --connections 32 --repeat 5

Starts `pauta services run` in a temporary pauta home and deploys a small Starlette app (one
replica), then sends ``--requests`` GETs from ``--connections`` kept-alive connections (an
asyncio load generator in this process, bounded by ``--seconds`` too) straight to the
replica's own port, and through the service's stable address (the supervisor's proxy),
``--repeat`` times each, alternating. The proxy's CPU time per request is read from the
supervisor's /proc entry around each run through it. Then, with two replicas serving, the same
load runs throughout ``--repeat`` redeploys: every request sent while a deploy was in progress
is counted, with its errors and latency.

Prints two markdown tables (medians of the runs). Everything runs on loopback on this machine,
load generator included: on a 2-core machine the proxy is a third process wanting a core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

APP = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


def create_app(config):
    body = {"answer": config.get("answer"), "model": "bench"}

    async def health(request):
        return PlainTextResponse("ok")

    async def predict(request):
        return JSONResponse(body)

    return Starlette(routes=[Route("/health", health), Route("/predict", predict)])
"""


@dataclass
class Load:
    """What the load generator saw: latency of each answered request, and failures."""

    latencies: list[float] = field(default_factory=list)
    stamps: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def quantile(self, q: float, values: list[float] | None = None) -> float:
        found = sorted(self.latencies if values is None else values)
        if not found:
            return float("nan")
        return found[min(len(found) - 1, int(q * len(found)))] * 1000


async def _connection(
    port: int, count: int, load: Load, stop_at: float, stop: threading.Event | None
) -> None:
    request = f"GET /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    sent = 0
    while (stop is not None and not stop.is_set()) or (stop is None and sent < count):
        if time.perf_counter() > stop_at:
            break
        sent += 1
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            if status != 200:
                load.errors.append(f"HTTP {status}")
                continue
            load.latencies.append(time.perf_counter() - started)
            load.stamps.append(started)
        except (OSError, asyncio.IncompleteReadError, StopIteration, ValueError) as exc:
            load.errors.append(type(exc).__name__)
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def generate(
    port: int, total: int, connections: int, seconds: float, stop: threading.Event | None = None
) -> Load:
    """``total`` requests (or until ``stop`` is set) over kept-alive connections."""
    load = Load()

    async def main() -> None:
        stop_at = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(
            *(
                _connection(port, total // connections, load, stop_at, stop)
                for _ in range(connections)
            )
        )
        load.elapsed = time.perf_counter() - started

    asyncio.run(main())
    return load


def _background(
    found: dict[str, Load], port: int, connections: int, seconds: float, stop: threading.Event
) -> None:
    found["load"] = generate(port, 0, connections, seconds, stop)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_supervisor() -> None:
    from pauta.core.settings import Settings
    from pauta.services.lease import supervisor_alive
    from pauta.store.repository import Store
    from pauta.store.services import ServicesStore

    deadline = time.monotonic() + 60
    store = Store.from_settings(Settings.from_env())
    try:
        while time.monotonic() < deadline:
            if supervisor_alive(ServicesStore(store).lease(), store.clock.now()):
                return
            time.sleep(0.1)
    finally:
        store.close()
    raise SystemExit("the supervisor did not start")


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0, help="Bound of each load run.")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="pauta-bench-services-"))
    apps = root / "apps"
    apps.mkdir()
    (apps / "bench_app.py").write_text(APP)
    sys.path.insert(0, str(apps))
    os.environ["PAUTA_HOME"] = str(root / "home")
    os.environ.pop("PAUTA_DATABASE_URL", None)
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "pauta", "services", "run"],
        stdout=subprocess.DEVNULL,
        stderr=(root / "supervisor.log").open("wb"),
    )
    try:
        _wait_for_supervisor()
        report(args, supervisor.pid, apps)
    finally:
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(60)


def report(args: argparse.Namespace, supervisor_pid: int, apps: Path) -> None:
    import logging

    from pauta import services
    from pauta.definitions.context import context

    context().logger.setLevel(logging.WARNING)  # the deploys' progress lines: not here

    port = _free_port()
    services.deploy("bench", app="bench_app:create_app", config={"answer": 0}, port=port)
    replica = services.get("bench").replicas[0].port
    assert replica is not None
    generate(port, 500, args.connections, args.seconds)  # warm both paths up
    generate(replica, 500, args.connections, args.seconds)

    results: dict[str, list[tuple[float, float, float, int]]] = {"direct": [], "proxy": []}
    cpu: list[float] = []
    for _ in range(args.repeat):
        for target, to in (("direct", replica), ("proxy", port)):
            before = _cpu_seconds(supervisor_pid)
            load = generate(to, args.requests, args.connections, args.seconds)
            if target == "proxy":
                cpu.append((_cpu_seconds(supervisor_pid) - before) / max(len(load.latencies), 1))
            results[target].append(
                (load.rps, load.quantile(0.5), load.quantile(0.99), len(load.errors))
            )

    print(
        f"\n{args.requests} GET requests over {args.connections} kept-alive connections, "
        f"one replica (uvicorn + Starlette); median of {args.repeat}\n"
    )
    print(_row(["target", "requests/s", "p50 (ms)", "p99 (ms)", "errors"]))
    print(_row(["---", "---:", "---:", "---:", "---:"]))
    names = {"direct": "straight to the replica", "proxy": "through the stable address"}
    for target, runs in results.items():
        print(
            _row(
                [
                    names[target],
                    f"{statistics.median(r[0] for r in runs):.0f}",
                    f"{statistics.median(r[1] for r in runs):.2f}",
                    f"{statistics.median(r[2] for r in runs):.2f}",
                    f"{sum(r[3] for r in runs)}",
                ]
            )
        )
    print(
        f"\nThe proxy's CPU per request (supervisor process): {statistics.median(cpu) * 1e6:.0f} us"
    )

    services.deploy("bench", app="bench_app:create_app", config={"answer": 1}, replicas=2)
    swaps = []
    for number in range(args.repeat):
        stop = threading.Event()
        window: dict[str, float] = {}
        found: dict[str, Load] = {}
        worker = threading.Thread(
            target=_background, args=(found, port, args.connections, args.seconds * 4, stop)
        )
        worker.start()
        time.sleep(1.0)
        window["start"] = time.perf_counter()
        services.deploy(
            "bench", app="bench_app:create_app", config={"answer": number + 2}, replicas=2
        )
        window["end"] = time.perf_counter()
        time.sleep(1.0)
        stop.set()
        worker.join()
        load = found["load"]
        during = [
            latency
            for latency, stamp in zip(load.latencies, load.stamps, strict=True)
            if window["start"] <= stamp <= window["end"]
        ]
        swaps.append(
            (
                len(during),
                len(load.errors),
                load.quantile(0.5, during),
                load.quantile(0.99, during),
                max(during) * 1000 if during else float("nan"),
                window["end"] - window["start"],
                load.quantile(0.5),
            )
        )

    print(
        f"\nA redeploy (two replicas replaced by two new ones) under the same load, "
        f"{args.repeat} times\n"
    )
    print(
        _row(
            [
                "run",
                "requests during the deploy",
                "errors",
                "p50 (ms)",
                "p99 (ms)",
                "max (ms)",
                "deploy (s)",
                "p50 whole run (ms)",
            ]
        )
    )
    print(_row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]))
    for number, swap in enumerate(swaps, 1):
        print(_row([str(number), *_swap_cells(swap)]))
    medians = tuple(statistics.median(s[i] for s in swaps) for i in range(7))
    print(_row(["median", *_swap_cells(medians)]))

    reuse = reuseport_swaps(args, apps)
    print(
        f"\nThe other design, measured the same way: two uvicorn replicas sharing the port with "
        f"SO_REUSEPORT, the old one stopped with SIGTERM once the new one listens "
        f"({args.repeat} swaps)\n"
    )
    print(_row(["run", "requests", "errors"]))
    print(_row(["---", "---:", "---:"]))
    for number, (sent, errors) in enumerate(reuse, 1):
        print(_row([str(number), str(sent), str(errors)]))


REUSEPORT_REPLICA = """
import socket, sys
sys.path.insert(0, sys.argv[2])
import uvicorn
from bench_app import create_app
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
sock.bind(("127.0.0.1", int(sys.argv[1])))
sock.listen(1024)
uvicorn.Server(uvicorn.Config(create_app({}), log_level="warning")).run(sockets=[sock])
"""


def reuseport_swaps(args: argparse.Namespace, apps: Path) -> list[tuple[int, int]]:
    """The other design: replicas sharing the port with SO_REUSEPORT, the old one stopped
    gracefully (SIGTERM: uvicorn stops accepting, finishes its requests, closes its
    connections) once the new one listens. (requests, errors) of each swap."""
    port = _free_port()

    def replica() -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-c", REUSEPORT_REPLICA, str(port), str(apps)]
        return subprocess.Popen(argv, stderr=subprocess.DEVNULL)

    def listening() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    old = replica()
    while not listening():
        time.sleep(0.05)
    found = []
    for _ in range(args.repeat):
        stop = threading.Event()
        loads: dict[str, Load] = {}
        worker = threading.Thread(
            target=_background, args=(loads, port, args.connections, args.seconds * 4, stop)
        )
        worker.start()
        time.sleep(1.0)
        new = replica()
        time.sleep(2.0)  # long enough for it to import and listen
        old.send_signal(signal.SIGTERM)
        old.wait(30)
        time.sleep(1.0)
        stop.set()
        worker.join()
        load = loads["load"]
        found.append((len(load.latencies) + len(load.errors), len(load.errors)))
        old = new
    old.send_signal(signal.SIGTERM)
    old.wait(30)
    return found


def _swap_cells(swap: tuple[float, ...]) -> list[str]:
    during, errors, p50, p99, most, seconds, outside = swap
    return [
        f"{during:.0f}",
        f"{errors:.0f}",
        f"{p50:.2f}",
        f"{p99:.2f}",
        f"{most:.1f}",
        f"{seconds:.2f}",
        f"{outside:.2f}",
    ]


if __name__ == "__main__":
    main()
