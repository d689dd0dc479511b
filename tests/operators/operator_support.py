"""Helpers for the operator tests: processes seen in /proc, a small HTTP API server, moto's
S3 server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def sleeping(seconds: str) -> list[int]:
    """The live (not zombie) processes running ``sleep SECONDS``."""
    wanted = [b"sleep", seconds.encode()]
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")[:-1]
            with open(f"/proc/{entry}/stat") as handle:
                state = handle.read().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if argv and argv[0].endswith(b"sleep") and argv[1:] == wanted[1:] and state != "Z":
            found.append(int(entry))
    return found


@dataclass
class Seen:
    """A request the test server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Api:
    """A real HTTP server on 127.0.0.1 that records requests and answers from ``routes``:
    ``{(method, path): (status, content_type, body)}``; anything else is a 404."""

    server: ThreadingHTTPServer
    routes: dict[tuple[str, str], tuple[int, str, bytes]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def api_server() -> Iterator[Api]:
    api: Api

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            api.seen.append(Seen(self.command, self.path, dict(self.headers), body))
            status, kind, answer = api.routes.get(
                (self.command, self.path), (404, "text/plain", b"no such thing here")
            )
            self.send_response(status)
            if status in (301, 302, 303, 307, 308):
                self.send_header("Location", answer.decode())
                answer = b""
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api = Api(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def s3_server() -> Iterator[str]:
    """moto's standalone S3 server on a free local port, for as long as the block runs; yields
    its endpoint URL."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    err = server.stderr.read().decode() if server.stderr else ""
                    raise RuntimeError(f"moto's S3 server did not start: {err[-2000:]}") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        if server.stderr:
            server.stderr.close()
