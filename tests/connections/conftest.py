"""Fixtures of the connections tests: a MariaDB database of its own, a real S3 protocol
server (moto's standalone server on a free port), and a small HTTP server with basic auth.

The MariaDB server is the one CI starts (127.0.0.1:3306, root without a password); as with
PostgreSQL, the tests fail, never skip, when it is unreachable.
"""

from __future__ import annotations

import base64
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from connections_support import HTTP_PASSWORD, HTTP_USER, MARIADB_SERVER, S3_KEY, S3_SECRET


def _mariadb_admin():  # type: ignore[no-untyped-def]
    import pymysql

    try:
        return pymysql.connect(host="127.0.0.1", port=3306, user="root", connect_timeout=5)
    except pymysql.MySQLError as exc:
        pytest.fail(
            f"MariaDB is not reachable at {MARIADB_SERVER} ({exc}); the connections tests need "
            "it (CI starts it), or set PAUTA_TEST_MARIADB",
            pytrace=False,
        )


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """The URL of a fresh MariaDB database, dropped after the test."""
    name = f"pauta_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = _mariadb_admin()
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}`")
        yield f"{MARIADB_SERVER}/{name}"
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        admin.close()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free port, with credentials the tests pass explicitly."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {**os.environ, "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET}
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto's S3 server did not start", pytrace=False)
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A new bucket on the S3 server, with one object in it."""
    import s3fs

    name = f"pauta-{secrets.token_hex(4)}"
    fs = s3fs.S3FileSystem(
        key=S3_KEY, secret=S3_SECRET, endpoint_url=s3_endpoint, skip_instance_cache=True
    )
    fs.mkdir(name)
    fs.pipe(f"{name}/raw/day=1.csv", b"a,b\n1,2\n")
    return name


class _AuthHandler(BaseHTTPRequestHandler):
    expected = "Basic " + base64.b64encode(f"{HTTP_USER}:{HTTP_PASSWORD}".encode()).decode()

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != self.expected:
            self.send_response(401)
            self.end_headers()
            return
        body = b"ready"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    """http://127.0.0.1:PORT answering 200 "ready" to the right basic auth, else 401."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AuthHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
