"""`pauta trigger` and `pauta worker`: queued runs are claimed once and driven to the end."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
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


SCHEDULED = """
from pauta import Every, context, flow

@flow(schedule=Every(seconds=2))
def ticking(path: str = "{out}") -> str:
    with open(path, "a") as handle:
        handle.write(context().logical_date.isoformat() + "\\n")
    return "tick"
"""


def test_the_scheduler_queues_each_tick_once_and_a_worker_runs_them(
    tmp_path: Path, workers: list[subprocess.Popen[str]]
) -> None:
    env = env_for(tmp_path / "home")
    flows = tmp_path / "flows"
    flows.mkdir()
    out = tmp_path / "ticks.txt"
    (flows / "ticking.py").write_text(SCHEDULED.format(out=out))
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "pauta", "scheduler", "--flows", str(flows)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    workers.extend([scheduler, start_worker(env)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = [r for r in runs(env) if r["state"] == "SUCCEEDED"]
        if len(done) >= 3:
            break
        time.sleep(0.3)
    stop(scheduler)
    stop(workers[1])
    found = runs(env)
    assert len([r for r in found if r["state"] == "SUCCEEDED"]) >= 3
    assert all(r["trigger"] == "schedule" for r in found)
    dates = [r["logical_date"] for r in found]
    assert len(dates) == len(set(dates))  # one run per tick
    ticks = sorted(datetime.fromisoformat(d) for d in dates)
    assert all((b - a).total_seconds() % 2 == 0 for a, b in itertools.pairwise(ticks))
    written = out.read_text().split()
    assert len(written) == len(set(written))  # every run executed once


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_server_schedules_runs_and_answers_health(tmp_path: Path) -> None:
    env = env_for(tmp_path / "home")
    flows = tmp_path / "flows"
    flows.mkdir()
    out = tmp_path / "ticks.txt"
    (flows / "ticking.py").write_text(SCHEDULED.format(out=out))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pauta", "server", "--flows", str(flows), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        health = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                    health = json.loads(reply.read())
                    break
            except (OSError, urllib.error.HTTPError):
                time.sleep(0.2)
        assert health == {"status": "ok", "flows": 1, "load_errors": 0}
        manual = pauta(env, "trigger", str(flows / "ticking.py"), "--json")
        assert manual.returncode == 0, manual.stderr
        while time.monotonic() < deadline:
            found = runs(env)
            if sum(r["state"] == "SUCCEEDED" for r in found) >= 3:
                break
            time.sleep(0.3)
        found = runs(env)
        assert {r["trigger"] for r in found} == {"schedule", "manual"}
        assert json.loads(manual.stdout)["id"] in {
            r["id"] for r in found if r["state"] == "SUCCEEDED"
        }
    finally:
        stderr = stop(server)
    assert "Traceback" not in stderr
    assert not [r for r in runs(env) if r["state"] == "RUNNING"]


DAILY = """
from pauta import context, flow

@flow(schedule="0 3 * * *", timezone="Europe/Madrid")
def daily(path: str = "{out}") -> None:
    ctx = context()
    with open(path, "a") as handle:
        handle.write(f"{{ctx.logical_date.isoformat()}} {{ctx.interval.start.isoformat()}}\\n")
"""


def test_backfill_creates_each_tick_once_and_can_run_them_here(tmp_path: Path) -> None:
    env = env_for(tmp_path / "home")
    flows = tmp_path / "flows"
    flows.mkdir()
    out = tmp_path / "days.txt"
    (flows / "daily.py").write_text(DAILY.format(out=out))
    args = ["backfill", "daily", "--flows", str(flows), "--start", "2026-03-01"]
    queued = pauta(env, *args, "--end", "2026-03-03", "--json")
    assert queued.returncode == 0, queued.stderr
    runs_made = json.loads(queued.stdout)
    assert [r["logical_date"] for r in runs_made] == [
        "2026-03-01T02:00:00+00:00",  # 03:00 in Madrid (CET)
        "2026-03-02T02:00:00+00:00",
    ]
    assert {r["trigger"] for r in runs_made} == {"backfill"}
    assert {r["state"] for r in runs_made} == {"QUEUED"}
    ran = pauta(env, *args, "--end", "2026-03-04", "--run")
    assert ran.returncode == 0, ran.stderr
    assert "1 runs queued, 2 ticks already had a run" in ran.stderr
    # the one new run ran here; its interval is the day before its logical date
    assert out.read_text().split() == [
        "2026-03-03T02:00:00+00:00",
        "2026-03-02T02:00:00+00:00",
    ]
    bad = pauta(env, "backfill", "daily", "--flows", str(flows), "--start", "x", "--end", "y")
    assert bad.returncode == 2
    assert "--start 'x'" in bad.stderr
