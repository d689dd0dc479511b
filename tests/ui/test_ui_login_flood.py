"""A flood of wrong passwords against a real `pauta server`: /health and API calls keep
answering at once, and repeated failures are answered 429 with Retry-After."""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from ui_flood import post_login
from ui_server import Server, _env, running_server

pytestmark = pytest.mark.slow

CLIENTS = 16
FLOOD = Path(__file__).with_name("ui_flood.py")


@pytest.fixture(scope="module")
def flood_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # a server of its own: the flood must not lock out the other tests' users
    with running_server(tmp_path_factory.mktemp("flood-server")) as started:
        yield started


def _timed_get(conn: http.client.HTTPConnection, path: str, token: str | None = None) -> float:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    start = time.perf_counter()
    conn.request("GET", path, headers=headers)
    reply = conn.getresponse()
    reply.read()
    took = time.perf_counter() - start
    assert reply.status == 200, (path, reply.status)
    return took


def _token(server: Server, username: str) -> str:
    made = subprocess.run(
        [sys.executable, "-m", "pauta", "tokens", "create", username],
        env=_env(server.home),
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip().splitlines()[-1]


def test_health_and_the_api_answer_at_once_during_a_login_flood(flood_server: Server) -> None:
    host = urlsplit(flood_server.url).netloc
    token = _token(flood_server, "vera")
    flood = subprocess.Popen(
        [sys.executable, str(FLOOD), host, str(CLIENTS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert flood.stdout is not None
    health: list[float] = []
    api: list[float] = []
    try:
        assert flood.stdout.readline().strip() == "started"
        time.sleep(1)  # let the flood build up
        deadline = time.monotonic() + 20  # a starved server fails the bounds, not the timeout
        with closing(http.client.HTTPConnection(host, timeout=30)) as conn:
            while len(health) < 30 and time.monotonic() < deadline:
                health.append(_timed_get(conn, "/health"))
                api.append(_timed_get(conn, "/api/v1/me", token))
                time.sleep(0.05)
    finally:
        out, _ = flood.communicate("", timeout=90)
    statuses = {int(k): v for k, v in json.loads(out.strip().splitlines()[-1]).items()}
    assert statuses.get(401, 0) >= 5, statuses  # passwords were really being checked meanwhile
    assert set(statuses) <= {401, 429, 503}, statuses
    for name, times in (("/health", health), ("/api/v1/me", api)):
        assert statistics.median(times) < 0.2, (name, statuses, sorted(times))
        assert max(times) < 1.0, (name, statuses, sorted(times))


def test_repeated_failures_are_answered_429_with_retry_after(flood_server: Server) -> None:
    with closing(http.client.HTTPConnection(urlsplit(flood_server.url).netloc, timeout=30)) as c:
        answers = [post_login(c, "olga", "10.200.0.1") for _ in range(6)]
    assert [status for status, _ in answers[:5]] == [401] * 5
    status, retry_after = answers[5]
    assert status == 429
    assert retry_after is not None
    assert int(retry_after) >= 1


def test_the_flood_server_logs_no_errors(flood_server: Server) -> None:
    text = flood_server.log.read_text()
    assert "Traceback" not in text, text
