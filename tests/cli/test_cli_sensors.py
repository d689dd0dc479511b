"""A run killed while a sensor waits is resumed with the sensor waiting again, no retry used,
and the steps before it not repeated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli import FLOWS, pauta, runs

pytestmark = pytest.mark.slow


def show(home: Path, run_id: str) -> dict:
    return json.loads(pauta(home, "runs", "show", run_id, "--json").stdout)


def test_kill_9_while_a_sensor_waits_then_resume(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "PAUTA_HOME": str(home)}
    env.pop("PAUTA_DATABASE_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pauta",
            "run",
            f"{FLOWS}:waits_for_ready",
            "-p",
            f"folder={tmp_path}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    view: dict = {}
    while time.monotonic() < deadline:
        found = runs(home) if (home / "pauta.db").exists() else []
        if found:
            view = show(home, found[0]["id"])
            if any(t["state"] == "WAITING" for t in view["tasks"]):
                break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"the sensor never waited: {view}")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert show(home, view["id"])["state"] == "RUNNING"

    (tmp_path / "go.ready").write_text("")
    resumed = pauta(home, "runs", "resume", view["id"])
    assert resumed.returncode == 0, resumed.stderr
    after = show(home, view["id"])
    assert after["state"] == "SUCCEEDED"
    sensor = next(t for t in after["tasks"] if t["key"] == "file_sensor-0")
    # the wait the kill cut off stays in the history, interrupted; the sensor waited again in
    # a new attempt, which used no retry
    assert sensor["state"] == "SUCCEEDED"
    history = sensor["attempt_history"]
    assert [(a["attempt"], a["interrupted"]) for a in history] == [(1, True), (2, False)]
    assert history[1]["state"] == "SUCCEEDED"
    assert (tmp_path / "steps.txt").read_text().split() == ["before"]
