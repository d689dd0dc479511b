"""pauta, Prefect, Dagster and Airflow side by side: the same workloads, one run, one machine.

    .venv/bin/python bench/peers/run.py            # N = 10, 100, 1,000; 3 repetitions
    .venv/bin/python bench/peers/run.py --quick    # N up to 100, 1 repetition

Each tool lives in its own virtual environment under bench/peers/.venvs/ (created on first
use; --upgrade reinstalls the latest releases) and keeps durable local state in a temporary
home: pauta on SQLite in PAUTA_HOME, Prefect's ephemeral API server on SQLite in PREFECT_HOME,
Dagster's persistent instance in DAGSTER_HOME, Airflow's SQLite metadata database in
AIRFLOW_HOME. Every measurement is a fresh process, timed from outside from spawn to exit, with
the peak RSS of its whole process tree. Repetitions alternate tools (A B C D A B C D ...).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from measure import run_measured
from report import Row, markdown, print_table
from tools import HERE, Tool, all_tools, ensure_venv, prepare_home

ML_TASKS = 20


@dataclass
class Settings:
    sizes: list[int]
    repeat: int
    workloads: list[str]
    cap_s: float
    skip_after_s: float


def workloads(sizes: list[int], wanted: list[str]) -> list[tuple[str, int, int]]:
    """(workload, N, number of tasks run) in the order they are measured."""
    plan = [("startup", 1, 1)]
    plan += [("chain", n, n) for n in sizes]
    plan += [("fan-out", n, n + 2) for n in sizes]
    plan += [("small ML", ML_TASKS, ML_TASKS)]
    return [step for step in plan if step[0] in wanted]


WORKLOAD_FLOW = {"startup": "startup", "chain": "chain", "fan-out": "fanout", "small ML": "ml"}


def measure_cell(
    tools: list[Tool],
    envs: dict[str, dict[str, str]],
    homes: dict[str, Path],
    rows: dict[str, Row],
    settings: Settings,
    logs: Path,
) -> None:
    """All repetitions of one (workload, N), alternating tools within each repetition."""
    for rep in range(settings.repeat):
        for tool in tools:
            row = rows[tool.name]
            if row.status != "ok":
                continue
            flow = WORKLOAD_FLOW[row.workload]
            log = logs / f"{tool.name}-{flow}-{row.n}-{rep}.log"
            sample = run_measured(
                tool.argv(flow, row.n), envs[tool.name], homes[tool.name], settings.cap_s, log
            )
            row.samples.append(sample)
            if sample.timed_out:
                row.status, row.note = "capped", f"killed at {settings.cap_s:.0f} s"
            elif sample.returncode != 0:
                row.status, row.note = "failed", f"exit {sample.returncode}, see {log.name}"
                print(f"  {tool.name} {flow} {row.n} failed:\n{_tail(log)}", file=sys.stderr)
            print(
                f"  {row.workload:>8} {row.n:>6,} {tool.name:>8} rep {rep + 1}: "
                f"{sample.seconds:8.2f} s  {sample.peak_rss / 2**20:6.0f} MiB  {row.status}",
                flush=True,
            )


def _tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def skip_reason(previous: Row | None, settings: Settings) -> str | None:
    """A tool skips a larger N when the same workload at the smaller N was already too slow."""
    if previous is None:
        return None
    if previous.status in ("skipped", "capped", "failed"):
        return f"N={previous.n:,} {previous.status}"
    if previous.median is not None and previous.median > settings.skip_after_s:
        return f"N={previous.n:,} took {previous.median:.0f} s > {settings.skip_after_s:.0f} s"
    return None


def benchmark(tools: list[Tool], settings: Settings, scratch: Path, logs: Path) -> list[Row]:
    homes = {tool.name: scratch / tool.name for tool in tools}
    envs: dict[str, dict[str, str]] = {}
    ready = []
    for tool in tools:
        print(f"setting up {tool.name} {tool.version} in {homes[tool.name]}", flush=True)
        envs[tool.name] = prepare_home(tool, homes[tool.name])
        # One untimed run first: creates the database, and warms the page cache for everyone.
        warm = run_measured(
            tool.argv("startup", 1),
            envs[tool.name],
            homes[tool.name],
            settings.cap_s,
            logs / f"{tool.name}-warmup.log",
        )
        if warm.returncode != 0:
            print(f"{tool.name} failed its warm-up run:\n{_tail(logs / f'{tool.name}-warmup.log')}")
            continue
        ready.append(tool)

    rows: list[Row] = []
    last: dict[tuple[str, str], Row] = {}
    for workload, n, tasks in workloads(settings.sizes, settings.workloads):
        print(f"{workload} N={n:,}", flush=True)
        cell = {tool.name: Row(workload, n, tasks, tool.name) for tool in tools}
        for tool in tools:
            reason = (
                skip_reason(last.get((tool.name, workload)), settings)
                if tool in ready
                else "warm-up run failed"
            )
            if reason:
                cell[tool.name].status, cell[tool.name].note = "skipped", reason
        measure_cell(tools, envs, homes, cell, settings, logs)
        for tool in tools:
            last[(tool.name, workload)] = cell[tool.name]
        rows.extend(cell.values())
    return rows


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory_kib / 2**20:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def save(rows: list[Row], tools: list[Tool], settings: Settings, out: Path, quick: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stem = "peers-quick" if quick else "peers"
    command = " ".join([".venv/bin/python bench/peers/run.py", *sys.argv[1:]])
    versions = {tool.name: tool.version for tool in tools}
    header = {
        "date": date.today().isoformat(),
        "machine": machine(),
        "command": command,
        "versions": versions,
        "repeat": settings.repeat,
        "cap_s": settings.cap_s,
        "skip_after_s": settings.skip_after_s,
    }
    loads = [sample.load for row in rows for sample in row.samples]
    load = f"{statistics.median(loads):.1f} ({min(loads):.1f}-{max(loads):.1f})" if loads else "?"
    header["load_average"] = load
    data = {**header, "rows": [row.as_json() for row in rows]}
    (out / f"{stem}.json").write_text(json.dumps(data, indent=2) + "\n")
    lines = [
        f"Measured {header['date']} on {header['machine']}; median of {settings.repeat}.",
        f"1-minute load average before each measurement: median {load}.",
        "Versions: " + ", ".join(f"{name} {version}" for name, version in versions.items()) + ".",
        f"Command: `{command}`",
        "",
        markdown(rows, settings.cap_s),
    ]
    (out / f"{stem}.md").write_text("\n".join(lines))
    print(f"wrote {out / stem}.json and .md")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N up to 100, one repetition")
    parser.add_argument("--repeat", type=int, help="repetitions (default 3, or 1 with --quick)")
    parser.add_argument("--tools", default="pauta,pauta-1-worker,prefect,dagster,airflow")
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOAD_FLOW),
        help="a subset of: " + ", ".join(WORKLOAD_FLOW) + " (comma-separated)",
    )
    parser.add_argument("--sizes", help="the N of chain and fan-out, comma-separated")
    parser.add_argument("--cap", type=float, default=900.0, help="kill a run after this many s")
    parser.add_argument("--skip-after", type=float, default=120.0, help="skip larger N after")
    parser.add_argument("--venvs", type=Path, default=HERE / ".venvs")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--upgrade", action="store_true", help="reinstall the latest releases")
    parser.add_argument("--pauta-ref", default="HEAD", help="the pauta commit to install")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    wanted = [name.strip() for name in args.workloads.split(",")]
    unknown = sorted(set(wanted) - set(WORKLOAD_FLOW))
    if unknown:
        choices = ", ".join(WORKLOAD_FLOW)
        sys.exit(f"unknown workload(s) {', '.join(unknown)}; choose from {choices}")
    if args.sizes:
        sizes = [int(size) for size in args.sizes.split(",")]
    else:
        sizes = [10, 100] if args.quick else [10, 100, 1000]
    settings = Settings(
        sizes=sizes,
        repeat=args.repeat or (1 if args.quick else 3),
        workloads=wanted,
        cap_s=args.cap,
        skip_after_s=args.skip_after,
    )
    tool_names = args.tools.split(",")
    tools = [tool for tool in all_tools() if tool.name in tool_names]
    args.venvs.mkdir(parents=True, exist_ok=True)
    installed = {}
    for tool in [t for t in tools if t.variant_of is None]:
        problem = ensure_venv(tool, args.venvs, args.upgrade, args.pauta_ref)
        if problem:
            print(f"{tool.name} left out: {problem}", file=sys.stderr)
            tools.remove(tool)
        else:
            installed[tool.name] = tool
    for tool in [t for t in tools if t.variant_of is not None]:
        base = installed.get(tool.variant_of)
        if base is None:
            tools.remove(tool)
        else:
            tool.venv, tool.version = base.venv, base.version
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pauta-peers-") as scratch:
        # Each process's output is kept (outside the scratch homes) to explain a failure.
        logs = HERE / ".logs"
        logs.mkdir(exist_ok=True)
        rows = benchmark(tools, settings, Path(scratch), logs)
    minutes = (time.perf_counter() - started) / 60
    title = f"side by side, median of {settings.repeat}, {os.cpu_count()} cores"
    print_table(rows, settings.cap_s, f"{title}, {minutes:.0f} min")
    save(rows, tools, settings, args.out, args.quick)


if __name__ == "__main__":
    main()
