"""Engine overhead: no-op tasks as a chain and as a fan-out, on the durable SQLite store.

    .venv/bin/python bench/overhead.py               # N = 10, 100, 1,000, 10,000; 3 repetitions
    .venv/bin/python bench/overhead.py --quick       # N up to 1,000, 1 repetition

Prints run seconds and milliseconds per task (medians, with min-max), plus `import pauta` time
and the wall time of `pauta run` on a one-task flow (a new process each time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_flows  # noqa: E402

from pauta.core.settings import Settings  # noqa: E402
from pauta.engine.runner import Runner  # noqa: E402


def measure_runs(sizes: list[int], repeat: int) -> list[tuple[str, int, list[float]]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="pauta-bench-") as home:
        runner = Runner(Settings.from_env(Path(home)))
        try:
            runner.run(bench_flows.one_task, {})  # warm the worker pool
            for name, flow in (("chain", bench_flows.chain), ("fan-out", bench_flows.fanout)):
                for n in sizes:
                    times = []
                    for _ in range(repeat):
                        started = time.perf_counter()
                        run = runner.run(flow, {"n": n})
                        times.append(time.perf_counter() - started)
                        assert run.state == "SUCCEEDED", run.error
                        assert len(run.tasks) == n
                    rows.append((name, n, times))
        finally:
            runner.close()
    return rows


def measure_command(argv: list[str], repeat: int, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, check=True, env=env, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N up to 1,000, one repetition")
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args()
    sizes = [10, 100, 1000] if args.quick else [10, 100, 1000, 10000]
    repeat = args.repeat or (1 if args.quick else 3)

    console = Console()
    rows = measure_runs(sizes, repeat)
    table = Table(
        title=f"no-op tasks, warm engine, SQLite, {os.cpu_count()} cores, median of {repeat}"
    )
    for column in ("workload", "N", "run s", "min-max s", "ms / task"):
        table.add_column(column, justify="right")
    for name, n, times in rows:
        median = statistics.median(times)
        table.add_row(
            name,
            f"{n:,}",
            f"{median:.3f}",
            f"{min(times):.3f}-{max(times):.3f}",
            f"{1000 * median / n:.3f}",
        )
    console.print(table)

    with tempfile.TemporaryDirectory(prefix="pauta-bench-") as home:
        env = {**os.environ, "PAUTA_HOME": home}
        env.pop("PAUTA_DATABASE_URL", None)
        python = sys.executable
        bare = measure_command([python, "-c", "pass"], 5, env)
        imported = measure_command([python, "-c", "import pauta"], 5, env)
        one = measure_command(
            [python, "-m", "pauta", "run", f"{HERE / 'bench_flows.py'}:one_task", "-q"],
            max(repeat, 10),
            env,
        )
    startup = Table(title="process start-up (median)")
    for column in ("measure", "seconds"):
        startup.add_column(column, justify="right")
    startup.add_row(
        "import pauta (minus bare python)",
        f"{statistics.median(imported) - statistics.median(bare):.3f}",
    )
    startup.add_row("pauta run, one-task flow, wall", f"{statistics.median(one):.3f}")
    console.print(startup)


if __name__ == "__main__":
    main()
