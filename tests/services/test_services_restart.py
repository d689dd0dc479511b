"""`pauta services run` stopped (gracefully, or with kill -9) and started again brings every
service back at its revision on the same port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from services_support import APP, ask, eventually, free_port

from pauta import services
from pauta.core.service_states import RevisionState
from pauta.services import control
from pauta.services.errors import NoSupervisorError
from pauta.services.lease import pid_alive
from pauta.store.repository import Store
from pauta.store.services import ServicesStore

pytestmark = pytest.mark.slow


def _supervised(store: Store) -> bool:
    try:
        control.require_supervisor(ServicesStore(store))
    except NoSupervisorError:
        return False
    return True


@pytest.fixture
def start(home: Path, store: Store, tmp_path: Path) -> Iterator[object]:
    started: list[subprocess.Popen[bytes]] = []

    def start_one() -> subprocess.Popen[bytes]:
        log = (tmp_path / f"supervisor-{len(started)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "pauta", "services", "run", "--health-interval", "0.5"],
            env={**os.environ, "PAUTA_HOME": str(home)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        started.append(process)
        eventually(lambda: process.poll() is not None or _supervised(store), what="lease")
        assert process.poll() is None, (tmp_path / "supervisor-0.log").read_text()
        return process

    yield start_one
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def test_a_restarted_supervisor_serves_every_service_again_at_its_revision(
    start: object, store: Store, apps: Path
) -> None:
    first = start()  # type: ignore[operator]
    port = free_port()
    services.deploy("echo", app=APP, config={"answer": 1}, port=port)
    services.deploy("echo", app=APP, config={"answer": 2}, replicas=2, port=port)
    replicas = [r.pid for r in services.get("echo").replicas if r.revision == 2]
    first.send_signal(signal.SIGTERM)
    assert first.wait(30) == 0
    # a graceful stop: its replicas stopped, the revision is still the one to serve
    assert not any(pid_alive(pid) for pid in replicas if pid)
    with pytest.raises(ConnectionRefusedError):
        ask(port)
    assert ServicesStore(store).revision("echo", 2).state is RevisionState.SERVING

    second = start()  # type: ignore[operator]
    eventually(lambda: services.get("echo").state == "serving", what="serving again")
    assert ask(port)[1]["answer"] == 2
    info = services.get("echo")
    assert info.revision == "echo@2"
    assert info.address == f"http://127.0.0.1:{port}"
    assert [r.revision for r in info.replicas] == [2, 2]

    # killed with -9: its replicas end with it, and the next one takes over at once
    pids = [r.pid for r in info.replicas]
    second.kill()
    second.wait(10)
    eventually(lambda: not any(pid_alive(pid) for pid in pids if pid), what="replicas gone")
    third = start()  # type: ignore[operator]

    def served_by_the_third() -> bool:
        # the killed one's lease and status stay fresh for a while: wait for the new holder
        view = control.show(store, "echo", limit=1)
        holder = view["supervisor"]["holder"] or ""
        return holder.endswith(f":{third.pid}") and view["state"] == "serving"

    eventually(served_by_the_third, what="serving after -9")

    def answers() -> bool:
        try:
            return bool(ask(port)[1]["answer"] == 2)
        except OSError:  # the stale status may still say serving before the proxy listens
            return False

    eventually(answers, what="answering after -9")
