"""pauta's venv and container tasks beside Airflow's PythonVirtualenvOperator and DockerOperator.

    .venv/bin/python bench/isolation_peers.py                  # N = 10, median of 3 (~20 min)
    .venv/bin/python bench/isolation_peers.py --n 20 --repeat 5
    .venv/bin/python bench/isolation_peers.py --variants pauta-venv,airflow-virtualenv-cached

The same no-op chain and fan-out of N tasks as bench/isolation.py, but every measurement is a
fresh process timed from spawn to exit, as bench/peers/run.py times the peers: `pauta run` of
bench/isolation_flows.py, and `python airflow_isolation.py` (bench/peers/workloads/
airflow_isolation_dags/), a DAG run by `dag.test()` in its own AIRFLOW_HOME. Both tools are
installed by bench/peers/tools.py under bench/peers/.venvs/: pauta from a commit of this
repository, Airflow 3 with apache-airflow-providers-docker in a virtualenv of its own
(``airflow-isolation``, so that the peers' Airflow stays as they measure it). Repetitions
alternate the variants; each variant runs its one-task flow once first, untimed (this builds
pauta's environment and Airflow's cached one, and creates each database). Most of the time
goes to Airflow's PythonVirtualenvOperator without its cache, which builds a virtualenv for
every task instance.

Container rows need a Docker Engine API for Airflow: DOCKER_HOST when set, else the script
starts podman's (``podman system service``) on a socket of its own for the run and stops it at
the end. The image is ``PAUTA_BENCH_IMAGE`` (default ``localhost/pauta-test:1``, built by
``.ci/container-image.sh``). What cannot run here is left out, and the output says why.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))

from docker_api import podman_image_problem, probe_docker, start_docker_api, stop  # noqa: E402
from measure import run_measured  # noqa: E402
from report import Row  # noqa: E402
from run import Settings, measure_cell  # noqa: E402
from tools import WORKLOADS, Tool, all_tools, ensure_venv, prepare_home  # noqa: E402

IMAGE = os.environ.get("PAUTA_BENCH_IMAGE") or "localhost/pauta-test:1"
PAUTA_FLOWS = HERE / "isolation_flows.py"
AIRFLOW_FOLDER = WORKLOADS / "airflow_isolation_dags"
DOCKER_PROVIDER = "apache-airflow-providers-docker"


@dataclass(frozen=True)
class Variant:
    """One way of running every task of a workload: a tool and its isolation."""

    name: str
    tool: str
    label: str
    kind: str  # the workload's kind argument
    group: str  # process | venv | container: which N it runs at


VARIANTS = (
    Variant("pauta-process", "pauta", "process task (local pool)", "process", "process"),
    Variant("airflow-python", "airflow", "@task (PythonOperator, in-process)", "python", "process"),
    Variant("pauta-venv", "pauta", 'isolation="venv" (warm pool)', "venv", "venv"),
    Variant("airflow-virtualenv", "airflow", "PythonVirtualenvOperator", "virtualenv", "venv"),
    Variant(
        "airflow-virtualenv-cached",
        "airflow",
        "PythonVirtualenvOperator, venv_cache_path",
        "virtualenv-cached",
        "venv",
    ),
    Variant("pauta-container", "pauta", 'isolation="container"', "container", "container"),
    Variant("airflow-docker", "airflow", "DockerOperator (python3 -c pass)", "docker", "container"),
    Variant(
        "airflow-task-docker",
        "airflow",
        "@task.docker (DockerOperator)",
        "task-docker",
        "container",
    ),
)


def _pauta_argv(kind: str) -> Callable[[Path, str, int], list[str]]:
    def argv(bin_dir: Path, flow: str, n: int) -> list[str]:
        if flow == "startup":
            return [str(bin_dir / "pauta"), "run", f"{PAUTA_FLOWS}:one", "-p", f"kind={kind}"]
        target = f"{PAUTA_FLOWS}:{flow}"
        return [str(bin_dir / "pauta"), "run", target, "-p", f"kind={kind}", "-p", f"n={n}"]

    return argv


def _airflow_argv(kind: str) -> Callable[[Path, str, int], list[str]]:
    script = AIRFLOW_FOLDER / "airflow_isolation.py"

    def argv(bin_dir: Path, flow: str, n: int) -> list[str]:
        return [str(bin_dir / "python"), str(script), flow, kind, str(n)]

    return argv


def install(venvs: Path, pauta_ref: str) -> tuple[dict[str, Tool], list[str]]:
    """pauta and Airflow (with the Docker provider) from bench/peers/tools.py; what is missing."""
    peers = {tool.name: tool for tool in all_tools()}
    airflow = dataclasses.replace(
        peers["airflow"],
        name="airflow-isolation",
        requirements=["apache-airflow>=3,<4", DOCKER_PROVIDER],
        # Airflow 3 alone where the provider will not install: the venv rows still run
        fallback=["apache-airflow>=3,<4"],
    )
    tools, missing = {}, []
    for key, tool in (("pauta", peers["pauta"]), ("airflow", airflow)):
        problem = ensure_venv(tool, venvs, upgrade=False, pauta_ref=pauta_ref)
        if problem:
            missing.append(f"{tool.name} left out: {problem}")
        else:
            tools[key] = tool
    return tools, missing


def environments(
    tools: dict[str, Tool], scratch: Path, docker_host: str | None
) -> dict[str, dict[str, str]]:
    """Each tool's environment for its home under scratch (migrated once, untimed)."""
    envs = {}
    for key, tool in tools.items():
        env = prepare_home(tool, scratch / key)
        if key == "pauta":
            env["PAUTA_BENCH_IMAGE"] = IMAGE
        else:
            env.update(
                AIRFLOW__CORE__DAGS_FOLDER=str(AIRFLOW_FOLDER),
                BENCH_IMAGE=IMAGE,
                BENCH_VENV_CACHE=str(scratch / key / "venv-cache"),
                # As if activated: the operator builds its virtualenvs with the `python` first
                # on PATH, which should be Airflow's own rather than whatever else is there.
                PATH=f"{tool.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            )
            if docker_host:
                env["DOCKER_HOST"] = docker_host
        envs[key] = env
    return envs


def warm_up(
    variants: list[Variant],
    tools: dict[str, Tool],
    envs: dict,
    settings: Settings,
    scratch: Path,
    logs: Path,
) -> tuple[list[Variant], list[str]]:
    """Each variant's one-task flow, untimed; the variants that ran, and why the others not."""
    ready, problems = [], []
    for variant in variants:
        tool = as_tool(variant, tools)
        log = logs / f"{variant.name}-warmup.log"
        sample = run_measured(
            tool.argv("startup", 1), envs[variant.tool], scratch / variant.tool, settings.cap_s, log
        )
        print(f"  warm-up {variant.name}: {sample.seconds:.2f} s, exit {sample.returncode}")
        if sample.returncode == 0:
            ready.append(variant)
        else:
            tail = " / ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
            problems.append(f"{variant.name} left out: its warm-up run failed ({log}): {tail}")
    return ready, problems


def as_tool(variant: Variant, tools: dict[str, Tool]) -> Tool:
    base = tools[variant.tool]
    argv = _pauta_argv if variant.tool == "pauta" else _airflow_argv
    return dataclasses.replace(
        base, name=variant.name, workload_argv=argv(variant.kind), variant_of=base.name
    )


def cells(sizes: dict[str, int], present: set[str]) -> list[tuple[str, int, list[str]]]:
    """(workload, N, the groups measured at that N), start-up first: a one-task run of the
    process variants, what each tool's start-up adds to every other row. Process variants run
    at every N, as the reference of the other groups there."""
    wanted = {group: n for group, n in sizes.items() if group in present}
    plan = [("startup", 1, ["process"])]
    for workload in ("chain", "fan-out"):
        for n in sorted(set(wanted.values())):
            groups = ["process"] + [g for g in ("venv", "container") if wanted.get(g) == n]
            plan.append((workload, n, groups))
    return plan


def benchmark(
    variants: list[Variant],
    tools: dict[str, Tool],
    envs: dict,
    sizes: dict[str, int],
    settings: Settings,
    scratch: Path,
    logs: Path,
) -> list[tuple[Variant, Row]]:
    results = []
    for workload, n, groups in cells(sizes, {v.group for v in variants}):
        chosen = [v for v in variants if v.group in groups]
        if not chosen:
            continue
        print(f"{workload} N={n}", flush=True)
        as_tools = [as_tool(v, tools) for v in chosen]
        rows = {v.name: Row(workload, n, n, v.name) for v in chosen}
        measure_cell(
            as_tools,
            {v.name: envs[v.tool] for v in chosen},
            {v.name: scratch / v.tool for v in chosen},
            rows,
            settings,
            logs,
        )
        results += [(v, rows[v.name]) for v in chosen]
    return results


def table(results: list[tuple[Variant, Row]]) -> str:
    lines = [
        "| tool | operator / isolation | workload | N | run s (min-max) | ms / task "
        "| vs pauta process |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    base = {
        (row.workload, row.n): row.median
        for variant, row in results
        if variant.name == "pauta-process"
    }
    for variant, row in results:
        head = f"| {variant.tool} | {variant.label} | {row.workload} | {row.n} |"
        if row.median is None:
            lines.append(f"{head} {row.status}: {row.note} | | |")
            continue
        times = row.completed
        reference = base.get((row.workload, row.n))
        ratio = f"{row.median / reference:,.1f}x" if reference else ""
        lines.append(
            f"{head} {row.median:.2f} ({min(times):.2f}-{max(times):.2f}) "
            f"| {1000 * row.median / row.tasks:,.1f} | {ratio} |"
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="tasks per run (default 10)")
    parser.add_argument(
        "--container-n", type=int, default=10, help="tasks per run in containers (default 10)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per row (default 3)")
    parser.add_argument("--cap", type=float, default=600.0, help="kill a run after this many s")
    parser.add_argument(
        "--variants",
        default=",".join(v.name for v in VARIANTS),
        help="a subset of: " + ", ".join(v.name for v in VARIANTS),
    )
    parser.add_argument("--venvs", type=Path, default=HERE / "peers" / ".venvs")
    parser.add_argument("--pauta-ref", default="HEAD", help="the pauta commit to install")
    return parser.parse_args()


def check_containers(
    variants: list[Variant], tools: dict[str, Tool], scratch: Path, notes: list[str]
) -> tuple[list[Variant], str | None, subprocess.Popen | None, str]:
    """The variants that can run, the Docker API for Airflow and its service (when started
    here), and what answered on it; notes says what was left out and why."""
    docker_host, service, engine = None, None, ""
    if any(v.tool == "airflow" and v.group == "container" for v in variants):
        docker_host, service, why = start_docker_api(scratch)
        if docker_host:
            python = tools["airflow"].venv / "bin" / "python"
            engine, why = probe_docker(python, docker_host, IMAGE)
        if why:
            notes.append(f"Airflow's DockerOperator left out: {why}")
            variants = [v for v in variants if not (v.tool == "airflow" and v.group == "container")]
    problem = podman_image_problem(IMAGE)
    if problem and any(v.name == "pauta-container" for v in variants):
        notes.append(f"pauta's container tasks left out: {problem}")
        variants = [v for v in variants if v.name != "pauta-container"]
    return variants, docker_host, service, engine


def venv_builder(env: dict[str, str]) -> str:
    """How Airflow's operator builds a virtualenv (standard.venv_install_method "auto")."""
    if shutil.which("uv", path=env.get("PATH")):
        return "uv venv --seed"
    return "python -m venv (uv is not on PATH)"


def header(
    args: argparse.Namespace,
    minutes: float,
    load: list[tuple[float, ...]],
    results: list[tuple[Variant, Row]],
) -> str:
    before, after = (", ".join(f"{x:.2f}" for x in each) for each in load)
    # The machine is shared: how busy it was just before each timed run, as bench/peers says.
    loads = [sample.load for _, row in results for sample in row.samples]
    each = (
        f"median {statistics.median(loads):.1f} ({min(loads):.1f}-{max(loads):.1f})"
        if loads
        else "none measured"
    )
    return (
        f"no-op tasks, each run a fresh process timed from spawn to exit, SQLite, "
        f"{os.cpu_count()} cores, median of {args.repeat} (min-max), {minutes:.0f} min in all\n"
        f"load average (1, 5, 15 min) before: {before}; after: {after}; "
        f"1-minute load before each timed run: {each}"
    )


def main() -> None:
    args = parse_args()
    wanted = args.variants.split(",")
    unknown = sorted(set(wanted) - {v.name for v in VARIANTS})
    if unknown:
        sys.exit(f"unknown variant(s) {', '.join(unknown)}")
    load_before, started = os.getloadavg(), time.perf_counter()
    args.venvs.mkdir(parents=True, exist_ok=True)
    tools, notes = install(args.venvs, args.pauta_ref)
    variants = [v for v in VARIANTS if v.name in wanted and v.tool in tools]
    names = {"pauta": "pauta", "airflow": "Apache Airflow"}
    versions = [f"{names[key]} {tool.version}" for key, tool in tools.items()]
    logs = HERE / "peers" / ".logs"
    logs.mkdir(exist_ok=True)
    settings = Settings([], args.repeat, [], cap_s=args.cap, skip_after_s=0.0)
    sizes = {"process": args.n, "venv": args.n, "container": args.container_n}
    with tempfile.TemporaryDirectory(prefix="pauta-isolation-peers-") as folder:
        scratch, service = Path(folder), None
        try:
            variants, docker_host, service, engine = check_containers(
                variants, tools, scratch, notes
            )
            envs = environments(tools, scratch, docker_host)
            if any(v.group == "venv" and v.tool == "airflow" for v in variants):
                versions.append(f"Airflow's virtualenvs built with {venv_builder(envs['airflow'])}")
            versions += [engine] if engine else []
            print("warming up (untimed)", flush=True)
            variants, problems = warm_up(variants, tools, envs, settings, scratch, logs)
            notes += problems
            results = benchmark(variants, tools, envs, sizes, settings, scratch, logs)
        finally:
            stop(service)
    minutes = (time.perf_counter() - started) / 60
    print(f"\n{header(args, minutes, [load_before, os.getloadavg()], results)}")
    print("versions: " + "; ".join(versions) + "\n")
    print(table(results))
    for note in notes:
        print(f"\n{note}")


if __name__ == "__main__":
    main()
