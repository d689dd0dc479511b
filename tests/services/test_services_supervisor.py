"""The supervisor with real replica processes on loopback: deploys that swap with no failed
request, rollbacks of broken revisions, restarts, stops."""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from services_support import APP, SLEEPER, SupervisorThread, ask, eventually, free_port

from pauta import Resources, services
from pauta.core.service_states import RevisionState
from pauta.services import control
from pauta.store.repository import Store
from pauta.store.services import ServicesStore

pytestmark = pytest.mark.slow


class Client(threading.Thread):
    """Sends requests without a pause until stopped, on a kept-alive connection and on new
    ones, and keeps every outcome."""

    def __init__(self, port: int, *, keep_alive: bool) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.keep_alive = keep_alive
        self.outcomes: list[tuple[Any, Any]] = []
        self.done = threading.Event()

    def run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self.done.is_set():
            try:
                if conn is None or not self.keep_alive:
                    if conn is not None:
                        conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("POST", "/", body=b'{"rows": []}')
                reply = conn.getresponse()
                data = reply.read()
                answer = json.loads(data)["answer"] if reply.status == 200 else data
                self.outcomes.append((reply.status, answer))
            except (OSError, http.client.HTTPException, ValueError) as exc:
                self.outcomes.append(("error", repr(exc)))
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def since(self, count: int) -> list[tuple[Any, Any]]:
        return self.outcomes[count:]


def test_a_redeploy_under_load_fails_no_request_and_then_answers_with_the_new_revision(
    supervisor: SupervisorThread,
) -> None:
    port = free_port()
    first = services.deploy(
        "echo", app=APP, config={"answer": 1}, replicas=2, port=port, ready_timeout=20
    )
    assert first == "echo@1"
    assert ask(port)[1]["answer"] == 1
    clients = [Client(port, keep_alive=True), Client(port, keep_alive=False)]
    for client in clients:
        client.start()
    eventually(lambda: all(len(c.outcomes) > 20 for c in clients), what="clients started")
    second = services.deploy(
        "echo", app=APP, config={"answer": 2}, replicas=2, port=port, ready_timeout=20
    )
    counts = [len(c.outcomes) for c in clients]
    eventually(lambda: all(len(c.outcomes) > n + 20 for c, n in zip(clients, counts, strict=True)))
    for client in clients:
        client.done.set()
        client.join(10)
    assert second == "echo@2"
    outcomes = [o for c in clients for o in c.outcomes]
    assert [o for o in outcomes if o[0] != 200] == []
    assert len(outcomes) > 100
    # after the deploy returned, every answer is the new revision's
    after = [o[1] for c, n in zip(clients, counts, strict=True) for o in c.since(n)]
    assert set(after) == {2}
    info = services.get("echo")
    assert info.revision == "echo@2"
    assert info.address == f"http://127.0.0.1:{port}"

    def old_ones_gone() -> bool:
        found = [(r.revision, r.state) for r in services.get("echo").replicas]
        return found == [(2, "READY"), (2, "READY")]

    eventually(old_ones_gone, what="the old replicas drained and stopped")
    found = ServicesStore(supervisor.store)
    assert found.revision("echo", 1).state is RevisionState.RETIRED
    assert found.revision("echo", 2).state is RevisionState.SERVING


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ({"app": APP, "config": {"answer": 2, "fail": True}}, "exited with code"),
        ({"app": APP, "config": {"answer": 2, "health_status": 500}}, "/health answered 500"),
        ({"command": SLEEPER}, "nothing listens on port"),
    ],
    ids=["factory raises", "health 500", "never listens"],
)
def test_a_revision_that_never_gets_ready_is_rolled_back_and_the_old_one_keeps_serving(
    supervisor: SupervisorThread, broken: dict[str, Any], reason: str
) -> None:
    port = free_port()
    services.deploy("echo", app=APP, config={"answer": 1}, port=port, ready_timeout=20)
    with pytest.raises(services.DeployFailed) as failed:
        services.deploy("echo", ready_timeout=2, **broken)
    message = str(failed.value)
    assert failed.value.revision == "echo@2"
    assert reason in message
    assert "rolled back; echo@1 keeps serving" in message
    if broken.get("config", {}).get("fail"):
        # the replica's own output: its log tail
        assert "RuntimeError: the model file is corrupt" in message
        assert "loading the model..." in message
    assert ask(port)[1]["answer"] == 1
    found = ServicesStore(supervisor.store).revision("echo", 2)
    assert found.state is RevisionState.FAILED
    assert found.error is not None
    assert reason in found.error
    assert services.get("echo").revision == "echo@1"


def test_a_replica_killed_with_sigkill_is_restarted_and_counted(
    supervisor: SupervisorThread,
) -> None:
    port = free_port()
    services.deploy("echo", app=APP, config={"answer": 1}, replicas=2, port=port)
    before = services.get("echo").replicas
    victim = before[0]
    assert victim.pid is not None
    os.kill(victim.pid, signal.SIGKILL)

    def restarted() -> Any:
        replicas = services.get("echo").replicas
        again = replicas[0]
        ok = again.state == "READY" and again.restarts == 1 and again.pid != victim.pid
        return replicas if ok else None

    replicas = eventually(restarted, what="the killed replica restarted")
    assert replicas[0].last_exit == "killed by SIGKILL"
    assert replicas[1].pid == before[1].pid
    assert replicas[1].restarts == 0
    assert services.get("echo").restarts == 1
    assert ask(port)[1]["answer"] == 1


def test_a_replica_over_its_memory_limit_is_restarted(supervisor: SupervisorThread) -> None:
    port = free_port()
    tiny = Resources(memory="1MiB")  # any Python process is over it
    services.deploy("echo", app=APP, config={"answer": 1}, port=port, resources=tiny)

    def restarted() -> Any:
        (replica,) = services.get("echo").replicas
        return replica if replica.restarts >= 1 and replica.last_exit else None

    replica = eventually(restarted, what="restarted for its memory")
    assert "over its memory limit of 1.0MiB" in (replica.last_exit or "")


def test_rollback_to_an_earlier_revision_serves_its_spec_again(
    supervisor: SupervisorThread, store: Store
) -> None:
    port = free_port()
    for answer in (1, 2, 3):
        services.deploy("echo", app=APP, config={"answer": answer}, port=port)
    created = control.rollback(store, "echo", "echo@1", "test")
    assert created.id == "echo@4"
    assert created.rollback_of == 1
    final = control.wait_for(store, "echo", created.revision, timeout=30)
    assert final.state is RevisionState.SERVING
    assert ask(port)[1]["answer"] == 1
    # by default: the revision that served before the current one (3, not 1 again)
    again = control.rollback(store, "echo", None, "test")
    assert again.rollback_of == 3
    control.wait_for(store, "echo", again.revision, timeout=30)
    assert ask(port)[1]["answer"] == 3


def test_a_stopped_service_finishes_its_requests_then_frees_its_port(
    supervisor: SupervisorThread, store: Store, tmp_path: Path
) -> None:
    port = free_port()
    mark = tmp_path / "arrived"
    config = {"answer": 1, "slow_s": 1.5, "mark": str(mark)}
    services.deploy("echo", app=APP, config=config, port=port)
    slow: dict[str, Any] = {}
    waiting = threading.Thread(target=lambda: slow.update(reply=ask(port, "/slow")))
    waiting.start()
    eventually(mark.exists, what="the slow request arrived")
    control.stop(store, "echo")
    waiting.join(10)
    assert slow["reply"] == (200, {"answer": 1, "slow": True})
    eventually(lambda: control.show(store, "echo")["state"] == "stopped", what="stopped")
    assert ServicesStore(store).revision("echo", 1).state is RevisionState.STOPPED
    with pytest.raises(ConnectionRefusedError):
        ask(port)
    # a new revision starts it again, on the same port
    services.deploy("echo", app=APP, config={"answer": 2}, port=port)
    assert ask(port)[1]["answer"] == 2


def test_a_deploy_without_a_supervisor_says_how_to_start_one(home: Path, apps: Path) -> None:
    with pytest.raises(services.NoSupervisorError, match="pauta services run"):
        services.deploy("echo", app=APP, port=free_port())
