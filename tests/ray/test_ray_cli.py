"""`pauta run`, `pauta logs`, `runs show` and `runs resume` with --executor ray, end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ray_support import Cluster

pytestmark = [pytest.mark.ray, pytest.mark.slow]

FLOWS = Path(__file__).with_name("ray_flows.py")


def pauta(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAUTA_HOME": str(home)}
    env.pop("PAUTA_DATABASE_URL", None)
    env.pop("PAUTA_RAY_ADDRESS", None)
    return subprocess.run(
        [sys.executable, "-m", "pauta", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=home.parent,
    )


def test_run_on_ray_records_nodes_and_logs_show_ray_output(
    cluster: Cluster, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    target = f"{FLOWS}:talks"
    done = pauta(
        home, "run", target, "--executor", "ray", "--ray-address", cluster.address, "--json"
    )
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    assert view["state"] == "SUCCEEDED"
    [task] = view["tasks"]
    assert task["node"] in {n.node_id for n in cluster.nodes}
    assert task["attempt_history"][0]["node"] == task["node"]
    logs = pauta(home, "logs", view["id"])
    assert logs.returncode == 0, logs.stderr
    assert "printed on ray: hola" in logs.stdout


def test_run_refuses_to_start_without_a_reachable_cluster(tmp_path: Path) -> None:
    done = pauta(
        tmp_path / "home", "run", f"{FLOWS}:talks", "--executor", "ray", "--ray-address",
        "127.0.0.1:9", timeout=180,
    )  # fmt: skip
    assert done.returncode == 2
    assert "cannot reach a Ray cluster at 127.0.0.1:9" in done.stderr
    assert "RAY_AUTH_TOKEN" in done.stderr
    assert os.environ["RAY_AUTH_TOKEN"] not in done.stderr + done.stdout


def test_a_driver_killed_mid_run_resumes_without_rerunning_what_finished_on_ray(
    cluster: Cluster, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    out = tmp_path / "steps.txt"
    env = {**os.environ, "PAUTA_HOME": str(home), "PAUTA_RAY_ADDRESS": cluster.address}
    env.pop("PAUTA_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pauta", "run", f"{FLOWS}:durable_on_ray", "-p", f"path={out}",
         "--executor", "ray"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        cwd=tmp_path,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        finished = [s for s in out.read_text().split() if ":" not in s] if out.exists() else []
        if len(finished) >= 2:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the flow did not get going")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    [run] = json.loads(pauta(home, "runs", "list", "--json").stdout)
    assert run["state"] == "RUNNING"

    resumed = pauta(
        home, "runs", "resume", run["id"], "--executor", "ray", "--ray-address", cluster.address
    )
    assert resumed.returncode == 0, resumed.stderr
    view = json.loads(pauta(home, "runs", "show", run["id"], "--json").stdout)
    assert view["state"] == "SUCCEEDED"
    assert [t["state"] for t in view["tasks"]] == ["SUCCEEDED"] * 6
    assert all(t["node"] in {n.node_id for n in cluster.nodes} for t in view["tasks"])
    finished = [s for s in out.read_text().split() if ":" not in s]
    counts = {f"step{i}": finished.count(f"step{i}") for i in range(6)}
    # each step finished once; the one in flight at the kill may have finished on Ray too
    assert all(1 <= n <= 2 for n in counts.values()), counts
    assert sum(n == 2 for n in counts.values()) <= 1, counts
    starts = [s for s in out.read_text().split() if s.endswith(":start")]
    assert len(starts) <= 7


def test_the_weekly_training_example_runs_on_ray_unchanged(
    cluster: Cluster, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    example = Path(__file__).parents[2] / "examples" / "weekly_training.py"
    done = pauta(
        home, "run", str(example), "-p", "end=2026-11-23", "--executor", "ray",
        "--ray-address", cluster.address, "--json", timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    assert view["state"] == "SUCCEEDED"
    assert {t["name"].rsplit(".", 1)[-1] for t in view["tasks"]} >= {"train", "deploy"}
    assert all(t["node"] in {n.node_id for n in cluster.nodes} for t in view["tasks"])


def test_a_worker_with_executor_ray_runs_claimed_runs_tasks_on_the_cluster(
    cluster: Cluster, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    queued = pauta(home, "trigger", f"{FLOWS}:plain_fan_out", "-p", "n=4", "--json")
    assert queued.returncode == 0, queued.stderr
    run_id = json.loads(queued.stdout)["id"]
    env = {**os.environ, "PAUTA_HOME": str(home), "PAUTA_RAY_ADDRESS": cluster.address}
    env.pop("PAUTA_DATABASE_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "pauta", "worker", "--executor", "ray", "--poll", "0.2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        view: dict = {}
        while time.monotonic() < deadline:
            view = json.loads(pauta(home, "runs", "show", run_id, "--json").stdout)
            if view["state"] in ("SUCCEEDED", "FAILED"):
                break
            time.sleep(0.3)
        assert view["state"] == "SUCCEEDED", view
    finally:
        worker.send_signal(signal.SIGINT)
        worker.communicate(timeout=60)
    assert len(view["tasks"]) == 4
    assert all(t["node"] in {n.node_id for n in cluster.nodes} for t in view["tasks"])
