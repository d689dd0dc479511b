"""Waiting sensors: what n sensors cost the dispatching process while they wait, and how soon
they notice their condition.

    .venv/bin/python bench/sensors.py              # n = 100, 1,000; 3 repetitions
    .venv/bin/python bench/sensors.py --quick      # n = 100, 1 repetition

For each n, a flow starts n file sensors (poke every second, each for its own file). Once all
are WAITING, the process's CPU time is measured over a window; then every file is created at
once and the time until the run ends is measured: at most one poke interval plus the engine's
own work. No worker process is used while they wait.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import sensor_flows  # noqa: E402

from pauta.core.resources import Resources  # noqa: E402
from pauta.core.settings import Settings  # noqa: E402
from pauta.core.states import State  # noqa: E402
from pauta.engine.runner import Runner  # noqa: E402
from pauta.store.repository import Store  # noqa: E402

WINDOW = 5.0  # seconds of waiting over which CPU is measured


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def waiting_count(store: Store) -> int:
    [run] = store.list_flow_runs(flow="many_sensors", state="RUNNING", limit=1) or [None]
    if run is None:
        return 0
    return sum(t.state == State.WAITING for t in store.list_task_runs(run.id))


def measure(n: int) -> tuple[float, float]:
    """(CPU % of one core while n sensors wait, seconds from the files to the run's end)."""
    with tempfile.TemporaryDirectory(prefix="pauta-bench-") as tmp:
        home, folder = Path(tmp) / "home", Path(tmp) / "files"
        folder.mkdir()
        settings = Settings.from_env(home)
        runner = Runner(settings, capacity=Resources(cpus=1), workers=1)
        store = Store.from_settings(settings)
        finished: list = []
        thread = threading.Thread(
            target=lambda: finished.append(
                runner.run(sensor_flows.many_sensors, {"folder": str(folder), "n": n})
            )
        )
        try:
            thread.start()
            deadline = time.monotonic() + 120
            while waiting_count(store) < n:
                if time.monotonic() > deadline:
                    raise SystemExit(f"only {waiting_count(store)} of {n} sensors started waiting")
                time.sleep(0.2)
            before, started = cpu_seconds(), time.perf_counter()
            time.sleep(WINDOW)
            cpu = (cpu_seconds() - before) / (time.perf_counter() - started) * 100
            released = time.perf_counter()
            for i in range(n):
                (folder / f"{i}.ready").write_text("")
            thread.join(timeout=120)
            latency = time.perf_counter() - released
            [run] = finished
            assert run.state == "SUCCEEDED", run.error
            assert run.result() == n
            return cpu, latency
        finally:
            runner.close()
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="n = 100, one repetition")
    args = parser.parse_args()
    sizes, repeat = ([100], 1) if args.quick else ([100, 1000], 3)
    table = Table(title="waiting sensors (file, poke every 1 s; median of runs, min-max)")
    for column in ("sensors", "CPU % of a core while waiting", "files → run ended, s"):
        table.add_column(column, justify="right")
    for n in sizes:
        results = [measure(n) for _ in range(repeat)]
        cpus, latencies = [r[0] for r in results], [r[1] for r in results]
        table.add_row(
            f"{n:,}",
            f"{statistics.median(cpus):.1f} ({min(cpus):.1f}-{max(cpus):.1f})",
            f"{statistics.median(latencies):.2f} ({min(latencies):.2f}-{max(latencies):.2f})",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
