"""Start-up against the floor: a whole-process `pauta run` beside `bench/floor.py`, alternately.

    .venv/bin/python bench/startup.py            # median of 5 (about 1 minute on 2 cores)
    .venv/bin/python bench/startup.py --quick    # median of 3

Each measurement is a fresh process timed from spawn to exit: `python -m pauta run
bench/startup_flows.py:FLOW -p n=N` with this interpreter (so the pauta it imports), or
`python bench/floor.py` doing the same work. Workloads: one no-op task (the floor's chain of
one), a fan-out of N = 1,000 (`noop.map(root(n))` into one sink; the floor: 1,000 no-ops into
one sink) and a chain of 1,000. Each runs on a *new* home (a folder that does not exist yet:
the database and its schema are created by the run) and on an *existing* one (made by an
untimed run of each workload by each tool before the first measurement, then kept; these
runs also write the bytecode caches, even where PYTHONDONTWRITEBYTECODE is set). In each
repetition pauta and the floor run back to back, which one first alternating, so a machine
whose speed drifts slows both alike. Prints a markdown table of medians (min-max), the ratio
of the medians and its target, and the median CPU time (user + system of the process and of
the workers it waited for: less sensitive than wall time to other work on the machine). A
second table gives what the 1,000 tasks add to a one-task run (differences of the medians),
which separates the cost of starting from the cost per task.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLOWS = HERE / "startup_flows.py"
FLOOR = HERE / "floor.py"
HOMES = ("new", "existing")
TOOLS = ("pauta", "floor")


@dataclass(frozen=True)
class Workload:
    name: str
    n: int
    flow: str  # in bench/startup_flows.py
    shape: str  # bench/floor.py --shape
    target: float  # pauta / floor at most

    def pauta_argv(self, python: str) -> list[str]:
        argv = [python, "-m", "pauta", "run", f"{FLOWS}:{self.flow}"]
        return argv if self.flow == "one_task" else [*argv, "-p", f"n={self.n}"]

    def floor_argv(self, python: str, home: Path) -> list[str]:
        argv = [python, str(FLOOR), "--shape", self.shape, "--n", str(self.n)]
        return [*argv, "--home", str(home)]


WORKLOADS = (
    Workload("one task", 1, "one_task", "chain", 2.0),
    Workload("fan-out", 1000, "fanout", "fanout", 2.0),
    Workload("chain", 1000, "chain", "chain", 2.5),
)


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds from spawn to exit
    cpu: float  # user + system seconds of the process and of the workers it waited for


@dataclass
class Samples:
    taken: dict[tuple[str, str, str], list[Sample]] = field(default_factory=dict)

    def add(self, workload: Workload, home: str, tool: str, sample: Sample) -> None:
        self.taken.setdefault((workload.name, home, tool), []).append(sample)

    def walls(self, workload: Workload, home: str, tool: str) -> list[float]:
        return [s.wall for s in self.taken[(workload.name, home, tool)]]

    def median(self, workload: Workload, home: str, tool: str) -> float:
        return statistics.median(self.walls(workload, home, tool))

    def span(self, workload: Workload, home: str, tool: str) -> str:
        values = self.walls(workload, home, tool)
        return f"{min(values):.3f}-{max(values):.3f}"

    def cpu(self, workload: Workload, home: str, tool: str) -> float:
        return statistics.median(s.cpu for s in self.taken[(workload.name, home, tool)])


class Bench:
    def __init__(self, python: str, scratch: Path) -> None:
        self.python = python
        self.scratch = scratch
        self.existing = {tool: scratch / f"existing-{tool}" for tool in TOOLS}
        self.new_homes = 0

    def argv(self, tool: str, workload: Workload, home: Path) -> list[str]:
        if tool == "pauta":
            return workload.pauta_argv(self.python)
        return workload.floor_argv(self.python, home)

    def time_one(self, tool: str, workload: Workload, home: Path) -> Sample:
        """One fresh process; output goes to a file, as both tools write little."""
        env = {**os.environ, "PAUTA_HOME": str(home)}
        # As on a normal install, the untimed first runs cache the bytecode the timed ones read.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        log = self.scratch / "output.log"
        with log.open("wb") as out:
            started = time.perf_counter()
            process = subprocess.Popen(
                self.argv(tool, workload, home),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.scratch,
            )
            _, status, usage = os.wait4(process.pid, 0)
            elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:]
            raise SystemExit(f"{tool} {workload.name} exited {process.returncode}:\n{tail}")
        return Sample(elapsed, usage.ru_utime + usage.ru_stime)

    def time_on(self, tool: str, workload: Workload, home_kind: str) -> Sample:
        if home_kind == "existing":
            return self.time_one(tool, workload, self.existing[tool])
        self.new_homes += 1
        home = self.scratch / f"new-{tool}-{self.new_homes}"
        try:
            return self.time_one(tool, workload, home)
        finally:
            shutil.rmtree(home, ignore_errors=True)

    def warm_up(self, workloads: list[Workload]) -> None:
        """Create the existing homes and warm the page cache (untimed)."""
        for tool in TOOLS:
            for workload in workloads:
                self.time_one(tool, workload, self.existing[tool])


def measure(bench: Bench, workloads: list[Workload], repeat: int) -> Samples:
    samples = Samples()
    turn = 0
    for _ in range(repeat):
        for workload in workloads:
            for home in HOMES:
                order = TOOLS if turn % 2 == 0 else TOOLS[::-1]
                turn += 1
                for tool in order:
                    samples.add(workload, home, tool, bench.time_on(tool, workload, home))
    return samples


def table(samples: Samples, workloads: list[Workload]) -> str:
    lines = [
        "| workload | N | home | pauta s (min-max) | floor s (min-max) | pauta / floor | target "
        "| CPU s, pauta / floor |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for workload in workloads:
        for home in HOMES:
            pauta = samples.median(workload, home, "pauta")
            floor = samples.median(workload, home, "floor")
            ratio = pauta / floor
            verdict = "met" if ratio <= workload.target else "**not met**"
            lines.append(
                f"| {workload.name} | {workload.n:,} | {home} "
                f"| {pauta:.3f} ({samples.span(workload, home, 'pauta')}) "
                f"| {floor:.3f} ({samples.span(workload, home, 'floor')}) "
                f"| {ratio:.2f} | <= {workload.target:.1f} ({verdict}) "
                f"| {samples.cpu(workload, home, 'pauta'):.3f} / "
                f"{samples.cpu(workload, home, 'floor'):.3f} |"
            )
    return "\n".join(lines)


def beyond_start_up(samples: Samples, workloads: list[Workload]) -> str:
    """What the tasks of the larger runs add to one task's run: the medians' differences."""
    one = next((w for w in workloads if w.n == 1), None)
    larger = [w for w in workloads if w.n > 1]
    if one is None or not larger:
        return ""
    lines = [
        "| workload | N | home | pauta s beyond one task | floor s beyond one task | ratio |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for workload in larger:
        for home in HOMES:
            pauta = samples.median(workload, home, "pauta") - samples.median(one, home, "pauta")
            floor = samples.median(workload, home, "floor") - samples.median(one, home, "floor")
            ratio = f"{pauta / floor:.2f}" if floor > 0 else "-"
            lines.append(
                f"| {workload.name} | {workload.n:,} | {home} | {pauta:.3f} | {floor:.3f} "
                f"| {ratio} |"
            )
    return "\n".join(lines)


def pauta_label(python: str) -> str:
    """Which pauta the runs import: its commit (and whether its tree has changes), or its path."""
    found = subprocess.run(
        [python, "-c", "import pauta; print(pauta.__file__)"], capture_output=True, text=True
    )
    package = Path(found.stdout.strip()).parent

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=package, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return f"pauta from {package}"
    changed = git("status", "--porcelain", "--", ".")
    return f"pauta at commit {head}{' + uncommitted changes' if changed else ''}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="median of 3 instead of 5")
    parser.add_argument("--repeat", type=int, help="repetitions (default 5, 3 with --quick)")
    parser.add_argument(
        "--workloads",
        default=",".join(w.flow for w in WORKLOADS),
        help="a subset, e.g. one_task,chain",
    )
    parser.add_argument("--json", type=Path, help="also write every sample here")
    parser.add_argument("--python", default=sys.executable, help="the interpreter for both")
    args = parser.parse_args()
    repeat = args.repeat or (3 if args.quick else 5)
    chosen = set(args.workloads.split(","))
    workloads = [w for w in WORKLOADS if w.flow in chosen]

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="pauta-startup-") as scratch:
        bench = Bench(args.python, Path(scratch))
        bench.warm_up(workloads)
        samples = measure(bench, workloads, repeat)
    load_after = os.getloadavg()

    print(
        f"Start-up against the floor, {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{pauta_label(args.python)}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"median of {repeat} (min-max), 1-minute load average {load_before[0]:.1f} before "
        f"and {load_after[0]:.1f} after\n"
    )
    print(table(samples, workloads))
    extra = beyond_start_up(samples, workloads)
    if extra:
        print("\n" + extra)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "repeat": repeat,
                    "load": [load_before, load_after],
                    "samples": [
                        {"workload": w, "home": h, "tool": t, "wall": s.wall, "cpu": s.cpu}
                        for (w, h, t), taken in samples.taken.items()
                        for s in taken
                    ],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
