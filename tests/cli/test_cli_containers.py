"""``pauta run`` of a flow whose task runs in a container: the CLI's process finds the flow
file by path, and the container imports it from its folder, mounted read-only."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FLOWS = Path(__file__).parents[1] / "executors" / "flowmods" / "container_flows.py"
IMAGE_SCRIPT = Path(__file__).parents[2] / ".ci" / "container-image.sh"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.containers,
    pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed"),
]


def test_pauta_run_runs_a_container_task_and_removes_its_container(tmp_path: Path) -> None:
    image = "localhost/pauta-test:1"
    if subprocess.run(["podman", "image", "exists", image], check=False).returncode != 0:
        subprocess.run([str(IMAGE_SCRIPT), image], check=True)
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
    left = subprocess.run(
        ["podman", "ps", "--all", "--quiet", "--filter", f"label=pauta.run={run['id']}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert left.stdout.split() == []
