"""Per-task overhead of isolation: no-op tasks in worker processes and in a warm virtualenv.

    .venv/bin/python bench/isolation.py              # 100 tasks, median of 3
    .venv/bin/python bench/isolation.py --n 1000 --repeat 5

Prints markdown tables: run seconds and milliseconds per task for a chain and a fan-out of
``--n`` no-op tasks, each kind in its own warm engine (the local pool for process tasks; the
venv executor's warm pool of an environment built beforehand for venv tasks), then the one-off
costs a venv task pays: building its environment (uv when installed, else pip) and the first
task of a new engine whose environment exists (a worker's interpreter starting in it).
Containers will join as a third kind.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import isolation_flows as flows  # noqa: E402

from pauta.core.resources import Resources  # noqa: E402
from pauta.core.settings import Settings  # noqa: E402
from pauta.engine.runner import Runner  # noqa: E402
from pauta.executors.envs import find_uv  # noqa: E402

KINDS = ("process", "venv")


def _timed(runner: Runner, flow: object, params: dict[str, object]) -> float:
    started = time.perf_counter()
    run = runner.run(flow, params)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    assert run.state == "SUCCEEDED", run.error
    return elapsed


def _runner(home: Path) -> Runner:
    return Runner(Settings.from_env(home), capacity=Resources(cpus=os.cpu_count() or 1))


def measure(n: int, repeat: int, root: Path) -> tuple[dict[tuple[str, str], list[float]], dict]:
    times: dict[tuple[str, str], list[float]] = {}
    once: dict[str, float] = {}
    os.environ["PAUTA_ENVS_DIR"] = str(root / "envs")
    for kind in KINDS:
        home = root / kind
        runner = _runner(home)
        try:
            first = _timed(runner, flows.one, {"kind": kind})  # builds the environment
            if kind == "venv":
                once["build"] = first
            for name, flow in (("chain", flows.chain), ("fan-out", flows.fanout)):
                for _ in range(repeat):
                    times.setdefault((name, kind), []).append(
                        _timed(runner, flow, {"kind": kind, "n": n})
                    )
        finally:
            runner.close()
    for kind in KINDS:
        cold = []
        for attempt in range(repeat):
            runner = _runner(root / f"cold-{kind}-{attempt}")  # a new engine: cold workers
            try:
                cold.append(_timed(runner, flows.one, {"kind": kind}))
            finally:
                runner.close()
        once[f"cold {kind}"] = statistics.median(cold)
    return times, once


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="tasks per run (default 100)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pauta-bench-isolation-") as folder:
        times, once = measure(args.n, args.repeat, Path(folder))
    installer = "uv" if find_uv() and os.environ.get("PAUTA_ENV_INSTALLER") != "pip" else "pip"
    print(
        f"{args.n} no-op tasks per run, warm engine, SQLite, {os.cpu_count()} cores, "
        f"median of {args.repeat} (min-max)\n"
    )
    print("| workload | isolation | run s (min-max) | ms / task | vs process |")
    print("|---|---|---:|---:|---:|")
    for name in ("chain", "fan-out"):
        base = statistics.median(times[(name, "process")])
        for kind in KINDS:
            runs = times[(name, kind)]
            median = statistics.median(runs)
            print(
                f"| {name} | {kind} | {median:.3f} ({min(runs):.3f}-{max(runs):.3f}) "
                f"| {1000 * median / args.n:.2f} | {median / base:.2f}x |"
            )
    print()
    built = f"building an environment with no requirements ({installer}), its task included"
    cold = f"a one-task run in a new engine (median of {args.repeat})"
    rows = [
        (built, once["build"]),
        (f"{cold}, process task", once["cold process"]),
        (f"{cold}, venv task whose environment exists", once["cold venv"]),
    ]
    print("| one-off cost | seconds |")
    print("|---|---:|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
