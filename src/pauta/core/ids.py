"""Identifiers for runs: short, unique, and sortable by creation time."""

from __future__ import annotations

import os

from pauta.core.clock import get_clock

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_run_id() -> str:
    """A 16-character id: 48 bits of milliseconds then 32 random bits.

    Ids created later sort after earlier ones, so listings can order by id.
    """
    millis = int(get_clock().timestamp() * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(4), "big")
    return _encode((millis << 32) | rand, 16)
