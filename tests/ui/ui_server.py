"""A real `pauta server` for the browser tests, and where to find Chromium.

The server runs in a subprocess on a free port with its own pauta home (SQLite), serving the
flows of ``ui_flows.py`` and ``ui_forms.py`` and the example pipeline
``examples/weekly_training.py`` (with the module it imports). Users are
created with `pauta users create` against the same database before it starts.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("PAUTA_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"
USERS = {"olga": "operator", "vera": "viewer", "ada": "admin"}


@dataclass(frozen=True)
class Server:
    url: str
    home: Path
    log: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAUTA_")}
    env["PAUTA_HOME"] = str(home)
    return env


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"pauta server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.2)
    pytest.fail(f"pauta server did not become healthy in 60 s:\n{log.read_text()}")


@contextmanager
def running_server(base: Path) -> Iterator[Server]:
    """`pauta server` with the test flows, the example pipeline, and the users of USERS."""
    home, flows = base / "home", base / "flows"
    flows.mkdir()
    shutil.copy(Path(__file__).with_name("ui_flows.py"), flows / "ui_flows.py")
    # the flow with a parameter of every common type, for the trigger form
    shutil.copy(Path(__file__).with_name("ui_forms.py"), flows / "ui_forms.py")
    # the app of the Services page's tests: the API deploys it from the flows folder
    shutil.copy(Path(__file__).with_name("ui_service.py"), flows / "ui_service.py")
    for example in ("weekly_training.py", "churn_features.py"):  # the pipeline and its helper
        shutil.copy(ROOT / "examples" / example, flows / example)
    env = _env(home)
    pauta = [sys.executable, "-m", "pauta"]
    for name, role in USERS.items():
        subprocess.run(
            [*pauta, "users", "create", name, "--role", role, "--password-stdin"],
            input=PASSWORD,
            text=True,
            env=env,
            check=True,
            capture_output=True,
        )
    port = _free_port()
    log = base / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*pauta, "server", "--flows", str(flows), "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield Server(url, home, log)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def require_chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM}: install it with "
            "`apt-get install -y chromium` (.ci/run does), or point PAUTA_TEST_CHROMIUM at one",
            pytrace=False,
        )
    return CHROMIUM
