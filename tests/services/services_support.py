"""What the services tests share: the test app's folder, a supervisor running in a thread of
the test process with short timings, free ports, polling, and a plain HTTP client."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pauta.services.replicas import Timing
from pauta.services.supervisor import Supervisor
from pauta.store.repository import Store

HERE = Path(__file__).parent
APP = "service_apps:create_app"

FAST = Timing(
    tick=0.05,
    ready_interval=0.05,
    live_interval=0.3,
    live_failures=2,
    probe_timeout=1.0,
    backoff_first=0.2,
    backoff_max=1.0,
    stop_grace=3.0,
    drain_timeout=10.0,
)
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
"""A command that never listens on its port."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def eventually(check: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """``check()``'s first true value, polled every 50 ms for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or check}")
        time.sleep(0.05)


class SupervisorThread:
    """A real supervisor on its own event loop in a thread of the test process."""

    def __init__(self, store: Store, logs_dir: Path) -> None:
        self.store = store
        self.supervisor = Supervisor(
            store, logs_dir=logs_dir, timing=FAST, poll=0.05, proxy_wait_s=10.0
        )
        self.ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="test-supervisor", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._stop = asyncio.Event()
            await self.supervisor.run(self._stop, on_ready=self.ready.set)

        self._loop.run_until_complete(main())

    def start(self) -> SupervisorThread:
        self._thread.start()
        assert self.ready.wait(20), "the supervisor did not take its lease"
        return self

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        assert not self._thread.is_alive(), "the supervisor did not stop"
        self._loop.close()


def ask(port: int, path: str = "/", method: str = "GET", body: bytes | None = None) -> Any:
    """(status, JSON answer) of one request to 127.0.0.1:port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body)
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read() or b"null")
    finally:
        conn.close()
