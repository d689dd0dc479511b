"""The HTTP/1.1 the proxy speaks: request and response heads, bodies, framing.

Written for the proxy's one job and its cost: h11 spent about 340 us of CPU per proxied
request here (validating and re-framing every event on both sides), several times what the
replica itself spends on a small answer. This reads a head with one ``readuntil``, checks what
request smuggling and bad framing need checked (one Content-Length or chunked, never both; a
token method; HTTP/1.0 or 1.1; no folded or bare-LF header lines), and leaves the rest of the
headers as they came.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
VERSIONS = frozenset({b"HTTP/1.1", b"HTTP/1.0"})
NO_BODY_STATUS = frozenset({204, 304})
CHUNK = 64 * 1024

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"expect",
        b"content-length",
    }
)
"""Headers that describe one connection, not the message: never passed on as they are."""


class BadMessage(Exception):
    """A message the proxy will not pass on; ``status`` is the answer to give."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(slots=True)
class Head:
    """A request or response head: the start line's parts, headers (names lower-case) and
    what the framing headers say."""

    first: tuple[bytes, bytes, bytes]
    headers: list[tuple[bytes, bytes]]
    length: int | None
    chunked: bool
    keep_alive: bool
    expects_continue: bool = False

    @property
    def method(self) -> bytes:
        return self.first[0]

    @property
    def target(self) -> bytes:
        return self.first[1]

    @property
    def version(self) -> bytes:
        return self.first[2]

    @property
    def status(self) -> int:
        return int(self.first[1])


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    """The bytes of a head up to its blank line; None on a clean end before any byte."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise BadMessage("the connection ended mid-head") from None
    except asyncio.LimitOverrunError:
        raise BadMessage("the head is too large", 431) from None


def _fields(lines: list[bytes]) -> list[tuple[bytes, bytes]]:
    headers = []
    for line in lines:
        if not line:
            continue
        if line[:1] in (b" ", b"\t") or b"\n" in line or b"\r" in line:
            raise BadMessage("folded or malformed header line")
        name, colon, value = line.partition(b":")
        if not colon or not TOKEN.match(name):
            raise BadMessage(f"bad header name {name[:40]!r}")
        headers.append((name.lower(), value.strip(b" \t")))
    return headers


def _framing(headers: list[tuple[bytes, bytes]], version: bytes) -> tuple[int | None, bool, bool]:
    lengths = {v for k, v in headers if k == b"content-length"}
    codings = [v.strip().lower() for k, v in headers if k == b"transfer-encoding"]
    tokens = {
        part.strip().lower() for k, v in headers if k == b"connection" for part in v.split(b",")
    }
    keep_alive = b"close" not in tokens and (version == b"HTTP/1.1" or b"keep-alive" in tokens)
    if codings:
        if codings != [b"chunked"]:
            raise BadMessage("only Transfer-Encoding: chunked is understood", 501)
        if lengths:
            raise BadMessage("both Content-Length and Transfer-Encoding")
        return None, True, keep_alive
    if len(lengths) > 1:
        raise BadMessage("differing Content-Length values")
    if lengths:
        (text,) = lengths
        if not text.isdigit() or len(text) > 18:
            raise BadMessage("bad Content-Length")
        return int(text), False, keep_alive
    return None, False, keep_alive


async def read_request(reader: asyncio.StreamReader) -> Head | None:
    """The next request head of a client connection; None when it closed between requests."""
    raw = await _read_head(reader)
    if raw is None:
        return None
    lines = raw[:-4].split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not TOKEN.match(parts[0]) or parts[2] not in VERSIONS:
        raise BadMessage("bad request line")
    if not parts[1] or any(c < 0x21 or c == 0x7F for c in parts[1]):
        raise BadMessage("bad request target")
    headers = _fields(lines[1:])
    length, chunked, keep_alive = _framing(headers, parts[2])
    expects = any(k == b"expect" and v.lower() == b"100-continue" for k, v in headers)
    return Head((parts[0], parts[1], parts[2]), headers, length, chunked, keep_alive, expects)


async def read_response(reader: asyncio.StreamReader) -> Head:
    """The next final response head from a replica (1xx answers are skipped)."""
    while True:
        raw = await _read_head(reader)
        if raw is None:
            raise EOFError("the replica closed the connection before answering")
        lines = raw[:-4].split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        status, _, reason = rest.partition(b" ")
        if version not in VERSIONS or len(status) != 3 or not status.isdigit():
            raise BadMessage(f"bad status line {lines[0][:60]!r}", 502)
        headers = _fields(lines[1:])
        if status.startswith(b"1"):
            continue
        length, chunked, keep_alive = _framing(headers, version)
        return Head((version, status, reason), headers, length, chunked, keep_alive)


async def read_body(reader: asyncio.StreamReader, head: Head, limit: int) -> bytes:
    """A request's whole body (at most ``limit`` bytes, else BadMessage 413)."""
    if head.chunked:
        parts = []
        size = 0
        async for piece in chunks(reader):
            size += len(piece)
            if size > limit:
                raise BadMessage("the body is too large", 413)
            parts.append(piece)
        return b"".join(parts)
    if not head.length:
        return b""
    if head.length > limit:
        raise BadMessage("the body is too large", 413)
    return await reader.readexactly(head.length)


async def chunks(reader: asyncio.StreamReader):  # type: ignore[no-untyped-def]
    """The data of a chunked body, chunk by chunk (trailers are read and dropped)."""
    while True:
        try:
            line = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError:
            raise BadMessage("a chunk size line is too long") from None
        size_text = line[:-2].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadMessage("bad chunk size") from None
        if size_text.startswith((b"-", b"+", b"0x", b"0X")) or len(size_text) > 15:
            raise BadMessage("bad chunk size")
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return
        data = await reader.readexactly(size + 2)
        if data[-2:] != b"\r\n":
            raise BadMessage("a chunk does not end with CRLF")
        yield data[:-2]


def passed_on(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers to pass on: all but the hop-by-hop ones and those Connection names."""
    named = {
        part.strip().lower() for k, v in headers if k == b"connection" for part in v.split(b",")
    }
    return [(k, v) for k, v in headers if k not in HOP_BY_HOP and k not in named]


def encode_head(first: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = [first, *(k + b": " + v for k, v in headers), b"", b""]
    return b"\r\n".join(lines)


def no_body(request_method: bytes, status: int) -> bool:
    """Whether a response to ``request_method`` with ``status`` has no body by definition."""
    return request_method == b"HEAD" or status in NO_BODY_STATUS or 100 <= status < 200
