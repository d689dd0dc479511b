"""Per-task overhead of isolation: no-op tasks in worker processes, a warm virtualenv, containers.

    .venv/bin/python bench/isolation.py              # 100 tasks (20 in containers), median of 3
    .venv/bin/python bench/isolation.py --n 1000 --container-n 50 --repeat 5

Prints markdown tables: run seconds and milliseconds per task for a chain and a fan-out of
``--n`` no-op tasks, each kind in its own warm engine (the local pool for process tasks; the
venv executor's warm pool of an environment built beforehand for venv tasks; a new container
per attempt for container tasks, ``--container-n`` of them, as each costs a container start),
then the one-off costs: building a venv task's environment (uv when installed, else pip) and
the first task of a new engine. Container tasks are left out, saying so, where podman is not
installed; their image is ``PAUTA_BENCH_IMAGE`` (default ``localhost/pauta-test:1``, built by
``.ci/container-image.sh``).
"""

from __future__ import annotations

import argparse
import os
import shutil
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

KINDS = ("process", "venv", "container")


def _timed(runner: Runner, flow: object, params: dict[str, object]) -> float:
    started = time.perf_counter()
    run = runner.run(flow, params)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    assert run.state == "SUCCEEDED", run.error
    return elapsed


def _runner(home: Path) -> Runner:
    return Runner(Settings.from_env(home), capacity=Resources(cpus=os.cpu_count() or 1))


def measure(
    sizes: dict[str, int], repeat: int, root: Path
) -> tuple[dict[tuple[str, str], list[float]], dict]:
    times: dict[tuple[str, str], list[float]] = {}
    once: dict[str, float] = {}
    os.environ["PAUTA_ENVS_DIR"] = str(root / "envs")
    for kind, n in sizes.items():
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
    for kind in sizes:
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
    parser.add_argument(
        "--container-n", type=int, default=20, help="tasks per run in containers (default 20)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per row (default 3)")
    args = parser.parse_args()
    sizes = {"process": args.n, "venv": args.n, "container": args.container_n}
    if shutil.which("podman") is None:
        print("podman is not installed: container tasks are left out\n")
        del sizes["container"]
    with tempfile.TemporaryDirectory(prefix="pauta-bench-isolation-") as folder:
        times, once = measure(sizes, args.repeat, Path(folder))
    installer = "uv" if find_uv() and os.environ.get("PAUTA_ENV_INSTALLER") != "pip" else "pip"
    print(
        f"no-op tasks, warm engine, SQLite, {os.cpu_count()} cores, "
        f"median of {args.repeat} (min-max)\n"
    )
    print("| workload | isolation | tasks | run s (min-max) | ms / task | vs process |")
    print("|---|---|---:|---:|---:|---:|")
    for name in ("chain", "fan-out"):
        base = statistics.median(times[(name, "process")]) / sizes["process"]
        for kind, n in sizes.items():
            runs = times[(name, kind)]
            median = statistics.median(runs)
            print(
                f"| {name} | {kind} | {n} | {median:.3f} ({min(runs):.3f}-{max(runs):.3f}) "
                f"| {1000 * median / n:.2f} | {median / n / base:.2f}x |"
            )
    print()
    built = f"building an environment with no requirements ({installer}), its task included"
    cold = f"a one-task run in a new engine (median of {args.repeat})"
    rows = [
        (built, once["build"]),
        (f"{cold}, process task", once["cold process"]),
        (f"{cold}, venv task whose environment exists", once["cold venv"]),
    ]
    if "cold container" in once:
        rows.append((f"{cold}, container task", once["cold container"]))
    print("| one-off cost | seconds |")
    print("|---|---:|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
