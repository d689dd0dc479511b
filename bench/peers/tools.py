"""The four tools under comparison: their virtual environments, homes and command lines."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
WORKLOADS = HERE / "workloads"
AIRFLOW_DAGS = WORKLOADS / "airflow_dags"
MARKER = ".bench-installed"
ML_REQUIREMENT = "scikit-learn"


@dataclass
class Tool:
    """How to install one tool, prepare its durable local state and start one workload."""

    name: str
    distribution: str
    requirements: list[str]
    workload_argv: Callable[[Path, str, int], list[str]]
    home_env: Callable[[Path], dict[str, str]]
    fallback: list[str] = field(default_factory=list)
    init: Callable[[Path, dict[str, str]], None] | None = None
    # a variant of another tool: runs from that tool's virtual environment
    variant_of: str | None = None
    venv: Path = Path()
    version: str = "?"

    def env(self, home: Path) -> dict[str, str]:
        """The environment of one measurement: ours, minus anything pointing at a real server."""
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PAUTA_", "PREFECT_", "DAGSTER_", "AIRFLOW"))
            and key != "VIRTUAL_ENV"
        }
        return {**base, **self.home_env(home)}

    def argv(self, workload: str, n: int) -> list[str]:
        return self.workload_argv(self.venv / "bin", workload, n)


def _pauta_argv(bin_dir: Path, workload: str, n: int) -> list[str]:
    file = WORKLOADS / "pauta_flows.py"
    return [str(bin_dir / "pauta"), "run", f"{file}:{workload}", "-p", f"n={n}"]


def _pauta_one_worker_argv(bin_dir: Path, workload: str, n: int) -> list[str]:
    argv = _pauta_argv(bin_dir, workload, n)
    return [*argv[:2], "--workers", "1", *argv[2:]]


def _script_argv(script: Path) -> Callable[[Path, str, int], list[str]]:
    def argv(bin_dir: Path, workload: str, n: int) -> list[str]:
        return [str(bin_dir / "python"), str(script), workload, str(n)]

    return argv


def _dagster_home(home: Path) -> dict[str, str]:
    # Telemetry off for every tool: this machine cannot reach the outside, and a peer's
    # failing upload must not be counted as its orchestration time.
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    return {"DAGSTER_HOME": str(home)}


def _airflow_home(home: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(AIRFLOW_DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
    }


def _airflow_init(venv: Path, env: dict[str, str]) -> None:
    """`airflow db migrate` once per benchmark, outside the timed runs."""
    subprocess.run(
        [str(venv / "bin" / "airflow"), "db", "migrate"],
        env=env,
        check=True,
        capture_output=True,
    )


def all_tools() -> list[Tool]:
    """pauta first: the alternation order of every repetition is the order of this list."""
    return [
        Tool(
            name="pauta",
            distribution="pauta",
            requirements=[ML_REQUIREMENT],
            workload_argv=_pauta_argv,
            home_env=lambda home: {"PAUTA_HOME": str(home)},
        ),
        # The same pauta with one worker process: what parallelism costs in memory, shown
        # beside the default (a worker per core) rather than instead of it.
        Tool(
            name="pauta-1-worker",
            distribution="pauta",
            requirements=[],
            workload_argv=_pauta_one_worker_argv,
            home_env=lambda home: {"PAUTA_HOME": str(home)},
            variant_of="pauta",
        ),
        Tool(
            name="prefect",
            distribution="prefect",
            requirements=["prefect>=3,<4", ML_REQUIREMENT],
            workload_argv=_script_argv(WORKLOADS / "prefect_flows.py"),
            home_env=lambda home: {
                "PREFECT_HOME": str(home),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            },
        ),
        Tool(
            name="dagster",
            distribution="dagster",
            requirements=["dagster", ML_REQUIREMENT],
            workload_argv=_script_argv(WORKLOADS / "dagster_flows.py"),
            home_env=_dagster_home,
        ),
        Tool(
            name="airflow",
            distribution="apache-airflow",
            requirements=["apache-airflow>=3,<4", ML_REQUIREMENT],
            fallback=["apache-airflow>=2.10,<3", ML_REQUIREMENT],
            workload_argv=_script_argv(AIRFLOW_DAGS / "airflow_flows.py"),
            home_env=_airflow_home,
            init=_airflow_init,
        ),
    ]


def pauta_snapshot(ref: str) -> tuple[str, Path]:
    """A commit of this repository (HEAD by default) as a source archive, and its short id.

    Other work may be editing the working tree while a long benchmark runs, so pauta is
    installed from a fixed commit rather than used from the editable development install.
    """
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", f"{ref}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    archive = Path(tempfile.gettempdir()) / f"pauta-{commit}.tar"
    if not archive.exists():
        prefix = f"--prefix=pauta-{commit}/"
        subprocess.run(
            ["git", "-C", str(REPO), "archive", prefix, "-o", str(archive), commit], check=True
        )
    return commit, archive


def _pip(venv: Path, args: list[str], log: Path) -> bool:
    with log.open("a") as out:
        done = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return done.returncode == 0


def _install(venv: Path, requirements: list[str], log: Path) -> bool:
    if venv.exists():
        shutil.rmtree(venv)
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    return _pip(venv, ["--quiet", "--upgrade", "pip"], log) and _pip(venv, requirements, log)


def ensure_venv(tool: Tool, venvs: Path, upgrade: bool, pauta_ref: str = "HEAD") -> str | None:
    """Create or reuse the tool's venv; returns why it could not be installed, or None."""
    tool.venv = venvs / tool.name
    log = venvs / f"{tool.name}.pip.log"
    candidates = [tool.requirements] + ([tool.fallback] if tool.fallback else [])
    snapshot = ""
    if tool.name == "pauta":
        commit, archive = pauta_snapshot(pauta_ref)
        snapshot = f" (commit {commit})"
        source = venvs / f"pauta-{commit}"
        if not source.exists():
            for stale in venvs.glob("pauta-*"):
                shutil.rmtree(stale)
            with tarfile.open(archive) as tar:
                tar.extractall(venvs, filter="data")
        candidates = [[str(source), *tool.requirements]]
    marker = tool.venv / MARKER
    installed = json.loads(marker.read_text()) if marker.exists() and not upgrade else None
    if installed not in candidates:
        # The latest release first; an older major version only where that will not install.
        for requirements in candidates:
            log.write_text("")
            if _install(tool.venv, requirements, log):
                marker.write_text(json.dumps(requirements))
                break
        else:
            tail = log.read_text().strip().splitlines()[-5:]
            return f"pip install failed ({log}): " + " / ".join(tail)
    tool.version = installed_version(tool) + snapshot
    return None


def installed_version(tool: Tool) -> str:
    code = f"import importlib.metadata as m; print(m.version({tool.distribution!r}))"
    done = subprocess.run(
        [str(tool.venv / "bin" / "python"), "-c", code], capture_output=True, text=True
    )
    return done.stdout.strip() or "?"


def prepare_home(tool: Tool, home: Path) -> dict[str, str]:
    """Create the tool's durable local state once (migrations are not part of any timing)."""
    home.mkdir(parents=True, exist_ok=True)
    env = tool.env(home)
    if tool.init is not None:
        tool.init(tool.venv, env)
    return env
