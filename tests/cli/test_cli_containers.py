"""``pauta run`` of a flow whose task runs in a container: the CLI's process finds the flow
file by path, and the container imports it from its folder, mounted read-only."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

FLOWS = Path(__file__).parents[1] / "executors" / "flowmods" / "container_flows.py"
IMAGE_SCRIPT = Path(__file__).parents[2] / ".ci" / "container-image.sh"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.containers,
    pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed"),
]


IMAGE = "localhost/pauta-test:1"


@pytest.fixture(scope="module")
def image() -> str:
    if subprocess.run(["podman", "image", "exists", IMAGE], check=False).returncode != 0:
        subprocess.run([str(IMAGE_SCRIPT), IMAGE], check=True)
    return IMAGE


def _containers(run_id: str) -> list[str]:
    found = subprocess.run(
        ["podman", "ps", "--all", "--quiet", "--filter", f"label=pauta.run={run_id}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return found.stdout.split()


def test_pauta_run_runs_a_container_task_and_removes_its_container(
    tmp_path: Path, image: str
) -> None:
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"numbers": [4, 5]}))
    env = {**os.environ, "PAUTA_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "pauta", "run", f"{FLOWS}:container_then_process",
         "--params-file", str(params), "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["state"] == "SUCCEEDED"
    assert _containers(run["id"]) == []


def test_a_starting_worker_removes_the_containers_of_a_dead_one(tmp_path: Path, image: str) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid of this host that no longer runs
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    name = f"pauta-{run_id}-left"
    subprocess.run(
        ["podman", "run", "--detach", "--name", name, "--label", f"pauta.run={run_id}",
         "--label", f"pauta.worker={socket.gethostname()}:{gone.pid}",
         "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
         image, "sleep", "600"],
        check=True, capture_output=True,
    )  # fmt: skip
    env = {**os.environ, "PAUTA_HOME": str(tmp_path / "home")}
    env.pop("PAUTA_DATABASE_URL", None)
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "pauta", "worker", "--poll", "0.2"],
            stdout=out, stderr=out, env=env, cwd=tmp_path,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while "waiting for runs" not in log.read_text():
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert f"removed 1 container(s) of dead workers: {name}" in log.read_text()
        assert _containers(run_id) == []
    finally:
        worker.kill()
        worker.wait()
        subprocess.run(["podman", "rm", "--force", "--time", "0", name], capture_output=True)
