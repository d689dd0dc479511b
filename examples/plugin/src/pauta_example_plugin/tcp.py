"""``tcp://HOST:PORT`` connections: a connected socket, and a probe that says how long it took.

pauta connections add cache tcp://127.0.0.1:6379 --extra timeout=5
pauta connections test cache
"""

from __future__ import annotations

import socket
import time
from typing import Any


class Tcp:
    """A ``pauta.connection_types`` plugin: ``client(conn)`` and ``probe(conn)``."""

    @staticmethod
    def _address(conn: Any) -> tuple[str, int, float]:
        host, _, port = conn.host.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"a tcp connection needs tcp://HOST:PORT, not {conn.masked_url}")
        return host, int(port), float(conn.extras.get("timeout", 10))

    @classmethod
    def client(cls, conn: Any) -> socket.socket:
        host, port, timeout = cls._address(conn)
        return socket.create_connection((host, port), timeout=timeout)

    @classmethod
    def probe(cls, conn: Any) -> str:
        started = time.perf_counter()
        with cls.client(conn) as opened:
            peer = opened.getpeername()
        took = (time.perf_counter() - started) * 1000
        return f"reached {conn.masked_url}: connected to {peer[0]}:{peer[1]} in {took:.1f} ms"
