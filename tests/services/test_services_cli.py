"""`pauta services list|show|logs|rollback|stop` against a running supervisor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from services_support import APP, SupervisorThread, ask, free_port

from pauta import services

pytestmark = pytest.mark.slow


def pauta(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pauta", "services", *args],
        env={**os.environ, "PAUTA_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_services_commands(supervisor: SupervisorThread, home: Path) -> None:
    assert "no services yet" in pauta(home, "list").stdout
    port = free_port()
    services.deploy("echo", app=APP, config={"answer": 1}, port=port)
    services.deploy("echo", app=APP, config={"answer": 2}, replicas=2, port=port)
    ask(port)

    (listed,) = as_json(pauta(home, "list", "--json"))
    assert listed["name"] == "echo"
    assert listed["revision_id"] == "echo@2"
    assert listed["address"] == f"http://127.0.0.1:{port}"
    assert listed["supervisor"]["alive"] is True
    table = pauta(home, "list").stdout
    assert "echo" in table
    assert "echo@2" in table
    assert "serving" in table

    shown = as_json(pauta(home, "show", "echo", "--json"))
    assert [(r["id"], r["state"]) for r in shown["revisions"]] == [
        ("echo@2", "SERVING"),
        ("echo@1", "RETIRED"),
    ]
    assert shown["revisions"][0]["config"] == {"answer": 2}
    assert "echo@2" in pauta(home, "show", "echo").stdout

    logs = pauta(home, "logs", "echo")
    assert logs.returncode == 0
    assert "==> echo@2 replica 0 <==" in logs.stdout
    assert "==> echo@2 replica 1 <==" in logs.stdout
    assert "Application startup complete" in logs.stdout
    assert "replica 0 of echo@1" in pauta(home, "logs", "echo", "--revision", "1").stdout

    rolled = as_json(pauta(home, "rollback", "echo", "--to", "1", "--json"))
    assert (rolled["id"], rolled["state"], rolled["rollback_of"]) == ("echo@3", "SERVING", 1)
    assert ask(port)[1]["answer"] == 1

    stopped = as_json(pauta(home, "stop", "echo", "--json"))
    assert stopped["state"] == "stopped"
    with pytest.raises(ConnectionRefusedError):
        ask(port)


def test_mistakes_are_told_with_exit_code_2(supervisor: SupervisorThread, home: Path) -> None:
    missing = pauta(home, "show", "nope")
    assert missing.returncode == 2
    assert "no service named 'nope'" in missing.stderr
    port = free_port()
    services.deploy("echo", app=APP, config={"answer": 1}, port=port)
    wrong = pauta(home, "rollback", "echo", "--to", "other@1")
    assert wrong.returncode == 2
    assert "is not a revision of 'echo'" in wrong.stderr
    nothing = pauta(home, "rollback", "echo")
    assert nothing.returncode == 2
    assert "no earlier revision that served" in nothing.stderr
