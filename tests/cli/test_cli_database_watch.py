"""A long-running command whose SQLite file is deleted or replaced under it stops, says why on
/health and stderr, and exits 3: real processes on a temporary home."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FLOWS = """
from pauta import Every, flow

@flow(schedule=Every(seconds=1))
def ticking() -> None:
    pass
"""

EXIT_DATABASE_LOST = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "ticking.py").write_text(FLOWS)
    return folder


def start(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PAUTA_HOME": str(home)}
    env.pop("PAUTA_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "pauta", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def queued_runs(home: Path) -> int:
    try:
        with closing(sqlite3.connect(home / "pauta.db")) as conn:
            return int(conn.execute("SELECT count(*) FROM flow_runs").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not created or not migrated yet


def wait_for_runs(home: Path, process: subprocess.Popen[str]) -> None:
    """Until the process has queued a run: the database is in use."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        if (home / "pauta.db").exists() and queued_runs(home):
            return
        time.sleep(0.2)
    pytest.fail("no run was queued")


def replace_with_another_database(home: Path) -> None:
    other = home.parent / "other.db"
    with closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE t (x)")
    os.replace(other, home / "pauta.db")
    # A SQLite database in WAL mode is its file and the -wal beside it: a -wal left from the
    # old file would be read as part of the new one by anyone who opens it (this test too).
    for leftover in ("pauta.db-wal", "pauta.db-shm"):
        (home / leftover).unlink(missing_ok=True)


def ends_with_database_lost(process: subprocess.Popen[str], said: str) -> str:
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == EXIT_DATABASE_LOST, stderr
    assert said in stderr, stderr
    assert "Traceback" not in stderr, stderr
    return stderr


@pytest.mark.parametrize(
    ("lose", "said"),
    [
        (lambda home: shutil.rmtree(home), "was deleted"),
        (replace_with_another_database, "was replaced by another file"),
    ],
    ids=["deleted", "replaced"],
)
def test_the_server_notices_its_database_file_is_gone(
    tmp_path: Path, flows: Path, processes: list, lose: object, said: str
) -> None:
    home = tmp_path / "home"
    port = free_port()
    server = start(home, "server", "--flows", str(flows), "--port", str(port))
    processes.append(server)
    wait_for_runs(home, server)
    assert health(port)[0] == 200
    lose(home)  # type: ignore[operator]
    answers = []
    deadline = time.monotonic() + 30
    while server.poll() is None and time.monotonic() < deadline:
        try:
            answers.append(health(port))
        except OSError:
            break  # the server has stopped listening
        time.sleep(0.1)
    lost = [body for status, body in answers if status == 503]
    assert lost, answers
    assert lost[-1]["status"] == "database lost"
    assert said in lost[-1]["reason"]
    assert str(home / "pauta.db") in lost[-1]["reason"]
    stderr = ends_with_database_lost(server, said)
    assert "stopped scheduling" in stderr
    if said == "was replaced by another file":
        # the other file is left as it was: nothing was written to it
        with closing(sqlite3.connect(home / "pauta.db")) as conn:
            tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master")]
        assert tables == ["t"]


@pytest.mark.parametrize("command", ["scheduler", "worker"])
def test_the_scheduler_and_the_worker_exit_when_the_database_is_deleted(
    tmp_path: Path, flows: Path, processes: list, command: str
) -> None:
    home = tmp_path / "home"
    args = ["scheduler", "--flows", str(flows)] if command == "scheduler" else ["worker"]
    process = start(home, *args)
    processes.append(process)
    deadline = time.monotonic() + 60
    while not (home / "pauta.db").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # the command has opened its database
    assert process.poll() is None, process.communicate()[1]
    shutil.rmtree(home)
    ends_with_database_lost(process, "was deleted")
