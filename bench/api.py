"""Latency of the REST API (and the web UI's main pages) on a store with 10,000 runs.

Fills a SQLite store with RUNS flow runs of TASKS task calls each (one attempt per call),
starts `uvicorn` serving the app in its own process on loopback, then sends REQUESTS requests
per endpoint from CLIENTS threads (one keep-alive connection each) and prints p50 / p99.

    .venv/bin/python bench/api.py                 # 10,000 runs, 100,000 task runs
    .venv/bin/python bench/api.py --requests 500  # quicker
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from pauta.api import auth
from pauta.core.settings import Settings
from pauta.store.repository import Store
from pauta.store.tables import flow_runs, task_attempts, task_runs

FLOW = '''
from pauta import flow, task

@task
def step(i: int) -> int:
    return i

@flow(schedule="*/5 * * * *")
def etl(day: str = "2026-01-01", size: int = 10) -> None:
    """A flow with a schedule and two parameters."""
    for i in range(size):
        step(i)
'''


def fill(store: Store, runs: int, tasks: int) -> list[str]:
    """Insert the runs, task calls and attempts straight into the tables; returns run ids."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    states = ["SUCCEEDED"] * 8 + ["FAILED", "RUNNING"]
    run_rows, task_rows, attempt_rows, ids = [], [], [], []
    for n in range(runs):
        run_id = f"r{n:015d}"
        ids.append(run_id)
        created = start + timedelta(minutes=5 * n)
        state = states[n % len(states)]
        run_rows.append(
            {
                "id": run_id,
                "flow": "etl" if n % 3 else "other",
                "state": state,
                "params": {"day": "2026-01-01", "size": tasks},
                "logical_date": created,
                "interval_start": created,
                "interval_end": created,
                "trigger": "schedule" if n % 2 else "manual",
                "code_hash": "",
                "flow_ref": {},
                "priority": 0,
                "tags": [],
                "created_at": created,
                "started_at": created,
                "ended_at": None if state == "RUNNING" else created + timedelta(seconds=30),
                "lease_epoch": 1,
            }
        )
        for i in range(tasks):
            began = created + timedelta(seconds=i)
            task_rows.append(
                {
                    "flow_run_id": run_id,
                    "key": f"step-{i}",
                    "name": "step",
                    "state": "SUCCEEDED",
                    "attempts": 1,
                    "fingerprint": "",
                    "upstream": [f"step-{i - 1}"] if i else [],
                    "priority": 0,
                    "resources": {},
                    "kind": "task",
                    "created_at": began,
                    "started_at": began,
                    "ended_at": began + timedelta(seconds=1),
                    "result_size": 2,
                    "result_serializer": "json",
                    "result_preview": str(i),
                }
            )
            attempt_rows.append(
                {
                    "flow_run_id": run_id,
                    "key": f"step-{i}",
                    "attempt": 1,
                    "state": "SUCCEEDED",
                    "started_at": began,
                    "ended_at": began + timedelta(seconds=1),
                }
            )
    with store.engine.begin() as conn:
        conn.execute(sa.insert(flow_runs), run_rows)
        conn.execute(sa.insert(task_runs), task_rows)
        conn.execute(sa.insert(task_attempts), attempt_rows)
    return ids


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def measure(
    port: int, path: str, headers: dict[str, str], requests: int, clients: int
) -> list[float]:
    """Latencies (seconds) of ``requests`` GETs of ``path`` from ``clients`` threads."""
    latencies: list[float] = []
    lock = threading.Lock()
    left = [requests]
    failures: list[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while True:
            with lock:
                if left[0] <= 0:
                    break
                left[0] -= 1
            began = time.perf_counter()
            conn.request("GET", path, headers=headers)
            reply = conn.getresponse()
            reply.read()
            mine.append(time.perf_counter() - began)
            if reply.status != 200:
                failures.append(f"{path}: {reply.status}")
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=10, help="task runs per flow run")
    parser.add_argument("--requests", type=int, default=2_000, help="per endpoint")
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pauta-bench-api-") as tmp:
        home, flows = Path(tmp) / "home", Path(tmp) / "flows"
        flows.mkdir()
        (flows / "etl.py").write_text(FLOW)
        settings = Settings.from_env(home)
        settings.ensure_home()
        began = time.perf_counter()
        with Store.from_settings(settings) as store:
            ids = fill(store, args.runs, args.tasks)
            auth.create_user(store, "bench", "bench-password", "admin")
            token = auth.create_token(store, "bench")
            session, _ = auth.start_session(store, auth.User("bench", "admin"))
        print(
            f"filled {args.runs:,} runs, {args.runs * args.tasks:,} task runs "
            f"in {time.perf_counter() - began:.1f} s",
            file=sys.stderr,
        )
        ui = importlib.util.find_spec("pauta.ui.site") is not None
        factory = "pauta.ui.site:create_app" if ui else "pauta.api.server:create_app"
        port = free_port()
        env = {**os.environ, "PAUTA_HOME": str(home), "PAUTA_FLOWS": str(flows)}
        env.pop("PAUTA_DATABASE_URL", None)
        server = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", factory, "--factory", "--port", str(port),
                "--log-level", "warning", "--no-access-log",
            ],
            env=env,
        )  # fmt: skip
        try:
            wait_ready(port)
            api = {"Authorization": f"Bearer {token}"}
            page = {"Cookie": f"{auth.SESSION_COOKIE}={session}"}
            middle = ids[len(ids) // 2]
            endpoints = [
                ("runs list (API, 100 newest)", "/api/v1/runs?limit=100", api),
                ("runs list (API, by state)", "/api/v1/runs?state=FAILED&limit=100", api),
                (f"run show (API, {args.tasks} tasks)", f"/api/v1/runs/{middle}", api),
                ("flows list (API)", "/api/v1/flows", api),
            ]
            if ui:
                endpoints += [
                    ("flows page (UI)", "/", page),
                    ("run page (UI)", f"/runs/{middle}", page),
                ]
            print("| endpoint | requests | clients | p50 ms | p99 ms | req/s |")
            print("|---|---:|---:|---:|---:|---:|")
            for name, path, headers in endpoints:
                measure(port, path, headers, args.clients * 2, args.clients)  # warm up
                began = time.perf_counter()
                found = measure(port, path, headers, args.requests, args.clients)
                elapsed = time.perf_counter() - began
                cuts = statistics.quantiles(found, n=100)
                print(
                    f"| {name} | {len(found):,} | {args.clients} | {cuts[49] * 1000:.1f} | "
                    f"{cuts[98] * 1000:.1f} | {len(found) / elapsed:.0f} |"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
