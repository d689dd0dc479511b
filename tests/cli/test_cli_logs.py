"""`pauta logs` as a user runs it: real subprocesses, real SQLite under PAUTA_HOME."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FLOWS = Path(__file__).parent / "log_flows.py"


def env_for(home: Path) -> dict[str, str]:
    env = {**os.environ, "PAUTA_HOME": str(home), "NARRATOR_TOKEN": "hunter2-narrator"}
    env.pop("PAUTA_DATABASE_URL", None)
    return env


def pauta(home: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = env_for(home)
    return subprocess.run(
        [sys.executable, "-m", "pauta", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=home.parent,
    )


def sections(text: str) -> dict[str, str]:
    """The output of `pauta logs` by section header (`── speak-0 · attempt 1 ──`)."""
    found: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("── "):
            current = line.strip("─ ")
            found[current] = ""
        elif current is not None:
            found[current] += line + "\n"
    return found


def test_an_attempt_that_printed_nothing_says_no_output(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ran = pauta(home, "run", f"{FLOWS}:speaks_and_hushes", "--json")
    assert ran.returncode == 0, ran.stderr
    run_id = json.loads(ran.stdout)["id"]

    shown = sections(pauta(home, "logs", run_id).stdout)
    assert shown["speak-0 · attempt 1"].strip() == "hello from speak"
    assert shown["hush-0 · attempt 1"].strip() == "(no output)"

    # a log that existed and was deleted is still reported as removed
    for log in (home / "logs" / run_id).glob("speak-0.*.log"):
        log.unlink()
    shown = sections(pauta(home, "logs", run_id).stdout)
    assert shown["speak-0 · attempt 1"].strip() == "(log removed)"
    assert shown["hush-0 · attempt 1"].strip() == "(no output)"


NOT_DEPLOYING = "best accuracy 0.500 < 0.700: not deploying"


def check_flow_log(home: Path, run_id: str) -> None:
    """The body's lines are kept with the run, masked, readable only by their owner."""
    shown = sections(pauta(home, "logs", run_id).stdout)
    flow_section = shown["flow"]
    assert "body: comparing models" in flow_section
    assert NOT_DEPLOYING in flow_section
    assert "token is ***" in flow_section
    assert "hunter2-narrator" not in flow_section
    # the task's output is the task's, not the flow's
    assert "from a task" not in flow_section
    assert shown["speak-0 · attempt 1"].strip() == "from a task"
    flow_log = home / "logs" / run_id / "flow.log"
    assert "hunter2-narrator" not in flow_log.read_text()
    assert flow_log.stat().st_mode & 0o077 == 0


def test_pauta_run_keeps_the_flow_bodys_output_with_the_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ran = pauta(home, "run", f"{FLOWS}:narrates", "--quiet")
    assert ran.returncode == 0, ran.stderr
    # `pauta run` still shows what the body prints (it drives the run in the terminal)
    assert "body: comparing models" in ran.stdout + ran.stderr
    [run_id] = [p.name for p in (home / "logs").iterdir() if p.is_dir()]
    check_flow_log(home, run_id)


def test_a_worker_keeps_the_flow_bodys_output_in_the_flow_log_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    queued = pauta(home, "trigger", f"{FLOWS}:narrates", "--json")
    assert queued.returncode == 0, queued.stderr
    run_id = json.loads(queued.stdout)["id"]
    worker = subprocess.Popen(
        [sys.executable, "-m", "pauta", "worker", "--poll", "0.2"],
        env=env_for(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        state = None
        while time.monotonic() < deadline:
            shown = pauta(home, "runs", "show", run_id, "--json")
            state = json.loads(shown.stdout)["state"]
            if state in ("SUCCEEDED", "FAILED"):
                break
            time.sleep(0.3)
        assert state == "SUCCEEDED"
    finally:
        worker.send_signal(signal.SIGINT)
        out, err = worker.communicate(timeout=60)
    check_flow_log(home, run_id)
    # one stderr shared by every run a worker drives would lose whose line it is
    assert "not deploying" not in out + err
    assert "comparing models" not in out + err


def test_an_attempt_cut_off_by_kill_9_stays_in_the_history_with_its_output(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    folder = tmp_path / "marks"
    folder.mkdir()
    driver = subprocess.Popen(
        [sys.executable, "-m", "pauta", "run", f"{FLOWS}:interrupted", "-p", f"folder={folder}"],
        env=env_for(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while not (folder / "hanging").exists():
        if time.monotonic() > deadline or driver.poll() is not None:
            driver.kill()
            pytest.fail("the task did not get going")
        time.sleep(0.05)
    time.sleep(1.5)  # long enough for the engine to record the attempt as RUNNING
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and its workers, like a machine crash
    driver.wait()
    [run] = json.loads(pauta(home, "runs", "list", "--json").stdout)
    assert run["state"] == "RUNNING"

    resumed = pauta(home, "runs", "resume", run["id"], "--json", timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    view = json.loads(resumed.stdout)
    assert view["state"] == "SUCCEEDED"
    [task] = view["tasks"]
    history = task["attempt_history"]
    # the interrupted attempt is kept and did not use the task's one retry: the second
    # execution failed and was retried, the third succeeded
    assert [a["attempt"] for a in history] == [1, 2, 3]
    assert [a["interrupted"] for a in history] == [True, False, False]
    assert history[0]["error"]["type"] == "Interrupted"
    assert [a["state"] for a in history[1:]] == ["FAILED", "SUCCEEDED"]
    assert task["attempts"] == 3

    shown = sections(pauta(home, "logs", run["id"]).stdout)
    assert shown["long_step-0 · attempt 1"].strip() == "execution 1 starts"
    assert "execution 2 starts" in shown["long_step-0 · attempt 2"]
    assert shown["long_step-0 · attempt 3"].strip() == "execution 3 starts"
    assert not list((home / "logs" / run["id"]).glob("*.partial"))
