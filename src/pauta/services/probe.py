"""Health checks: does a replica answer its health path with a 2xx, and how soon."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Probe:
    ok: bool
    detail: str


async def probe(host: str, port: int, path: str | None, timeout: float) -> Probe:
    """GET ``path`` from the replica (or, when ``path`` is None, only connect to it)."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return Probe(False, f"port {port} did not accept a connection within {timeout:g}s")
    except OSError as exc:
        return Probe(False, f"nothing listens on port {port} ({exc.strerror or exc})")
    try:
        if path is None:
            return Probe(True, "accepts connections")
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: pauta-supervisor\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        try:
            async with asyncio.timeout(timeout):
                await writer.drain()
                line = await reader.readline()
        except TimeoutError:
            return Probe(False, f"{path} did not answer within {timeout:g}s")
        except OSError as exc:
            return Probe(False, f"{path}: connection failed ({exc.strerror or exc})")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            shown = line[:80].decode("latin-1").strip() or "nothing"
            return Probe(False, f"{path} answered {shown!r}, not HTTP")
        status = int(parts[1])
        if 200 <= status < 300:
            return Probe(True, f"{path} answered {status}")
        return Probe(False, f"{path} answered {status}")
    finally:
        writer.close()
        with suppress(Exception):
            await writer.wait_closed()
