"""`pauta trigger` and `pauta worker`: queued runs are claimed once and driven to the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FLOWS = Path(__file__).with_name("worker_flows.py")


def env_for(home: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PAUTA_HOME": str(home), **extra}
    env.pop("PAUTA_DATABASE_URL", None)
    if database_url:
        env["PAUTA_DATABASE_URL"] = database_url
    return env


def pauta(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pauta", *args], env=env, capture_output=True, text=True, timeout=90
    )


def runs(env: dict[str, str]) -> list[dict]:
    result = pauta(env, "runs", "list", "--json", "--limit", "0")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wait_until_done(env: dict[str, str], count: int, timeout: float = 90) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = runs(env)
        if len(found) >= count and all(r["state"] in ("SUCCEEDED", "FAILED") for r in found):
            return found
        time.sleep(0.3)
    pytest.fail(f"runs did not finish: {runs(env)}")


def start_worker(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pauta", "worker", "--poll", "0.2", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(worker: subprocess.Popen[str]) -> str:
    worker.send_signal(signal.SIGINT)
    _, stderr = worker.communicate(timeout=60)
    assert worker.returncode == 0, stderr
    return stderr


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_triggered_runs_are_run_by_a_worker(
    tmp_path: Path, workers: list[subprocess.Popen[str]]
) -> None:
    env = env_for(tmp_path / "home")
    out = tmp_path / "marks.txt"
    ids = []
    for _ in range(3):
        queued = pauta(env, "trigger", str(FLOWS) + ":marked", "-p", f"path={out}", "--json")
        assert queued.returncode == 0, queued.stderr
        run = json.loads(queued.stdout)
        assert run["state"] == "QUEUED"
        ids.append(run["id"])
    bad = pauta(env, "trigger", str(FLOWS) + ":marked", "-p", "pause=slow")
    assert bad.returncode == 2
    assert "'pause'" in bad.stderr
    workers.append(start_worker(env))
    done = wait_until_done(env, 3)
    assert {r["id"] for r in done} == set(ids)
    assert {r["state"] for r in done} == {"SUCCEEDED"}
    assert sorted(out.read_text().split()) == sorted(ids)  # each run once
    stop(workers[0])


def test_a_worker_resumes_a_run_whose_driver_died(
    tmp_path: Path, workers: list[subprocess.Popen[str]]
) -> None:
    env = env_for(tmp_path / "home", PAUTA_LEASE_TTL="1.5")
    out = tmp_path / "steps.txt"
    driver = subprocess.Popen(
        [sys.executable, "-m", "pauta", "run", f"{FLOWS}:steps", "-p", f"path={out}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and "step1\n" in out.read_text():
            break
        time.sleep(0.05)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    workers.append(start_worker(env))
    [run] = wait_until_done(env, 1)
    assert run["state"] == "SUCCEEDED"
    finished = [line for line in out.read_text().split() if ":" not in line]
    counts = {f"step{i}": finished.count(f"step{i}") for i in range(5)}
    assert all(1 <= n <= 2 for n in counts.values()), counts
    assert sum(n == 2 for n in counts.values()) <= 1, counts
    stop(workers[0])


@pytest.mark.postgres
def test_two_workers_on_postgres_run_each_run_once(
    tmp_path: Path, pg_url: str, workers: list[subprocess.Popen[str]]
) -> None:
    env = env_for(tmp_path / "home", pg_url)
    out = tmp_path / "marks.txt"
    ids = []
    for _ in range(8):
        queued = pauta(env, "trigger", f"{FLOWS}:marked", "-p", f"path={out}", "-p", "pause=0.3")
        assert queued.returncode == 0, queued.stderr
        ids.append(queued.stdout.strip())
    workers.extend([start_worker(env, "--max-runs", "2"), start_worker(env, "--max-runs", "2")])
    done = wait_until_done(env, 8)
    assert {r["state"] for r in done} == {"SUCCEEDED"}
    marks = out.read_text().split()
    assert sorted(marks) == sorted(ids)  # every run executed exactly once
    drivers = {r["driver"].rsplit(":", 1)[1] for r in done}
    assert len(drivers) == 2  # both workers took part
    for proc in workers:
        stop(proc)
