"""``services.deploy`` from a task of a real run: a deploy that serves succeeds the task, one
that is rolled back fails it with the replica's log tail; ``pauta.services`` stays light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from services_support import SupervisorThread, ask, free_port

pytestmark = pytest.mark.slow

FLOW = """
from pauta import flow, services, task

@task
def deploy(answer: int, port: int, fail: bool) -> str:
    config = {"answer": answer, "fail": fail}
    return services.deploy("echo", app="service_apps:create_app", config=config, port=port,
                           ready_timeout=5)

@flow
def release(answer: int, port: int, fail: bool = False) -> str:
    return deploy(answer, port, fail).result()
"""


def _run(home: Path, flow_file: Path, *params: str) -> subprocess.CompletedProcess[str]:
    args = [a for p in params for a in ("-p", p)]
    return subprocess.run(
        [sys.executable, "-m", "pauta", "run", str(flow_file), *args, "--json"],
        env={**os.environ, "PAUTA_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_deploy_task_succeeds_when_it_serves_and_fails_with_the_log_tail_when_not(
    supervisor: SupervisorThread, home: Path, apps: Path
) -> None:
    flow_file = apps / "release.py"  # beside the app: the run imports it from there
    flow_file.write_text(FLOW)
    port = free_port()
    good = _run(home, flow_file, "answer=1", f"port={port}")
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["tasks"][0]["state"] == "SUCCEEDED"
    assert ask(port)[1]["answer"] == 1

    bad = _run(home, flow_file, "answer=2", f"port={port}", "fail=true")
    assert bad.returncode == 1
    (task,) = json.loads(bad.stdout)["tasks"]
    assert task["state"] == "FAILED"
    assert task["error"]["type"] == "pauta.services.errors.DeployFailed"
    message = task["error"]["message"]
    assert "echo@2 replica 0 exited with code 3 before it was ready" in message
    assert "rolled back; echo@1 keeps serving" in message
    assert "RuntimeError: the model file is corrupt" in message  # the replica's log tail
    assert ask(port)[1]["answer"] == 1


def test_importing_pauta_services_opens_nothing() -> None:
    code = (
        "import sys\nfrom pauta import services\n"
        "heavy = {'sqlalchemy', 'h11', 'uvicorn', 'pauta.services.supervisor'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert found.stdout.strip() == "[]", found.stderr
